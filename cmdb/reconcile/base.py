"""The shape every reconciler has: desired → observe → plan → apply → verify.

This module is the reference for writing a reconciler (Ansible in ``playbooks/reconcilers.py``, the
tiny ``folder`` example in :mod:`cmdb.reconcile.examples.folder`; Kubernetes, backup and VDI follow).
A reconciler subclasses :class:`Reconciler`, declares ``name``, ``kinds`` (the CI kinds it manages)
and ``options`` (its run arguments), and registers itself with :func:`register` in the module its
app declares as ``reconcilers_module``.  The framework (:mod:`cmdb.reconcile.services`) drives it:

1. the framework resolves the run's scope (:mod:`cmdb.reconcile.scope`) for the requester into a
   :class:`~cmdb.reconcile.scope.Selection` of CI ids of ``kinds``;
2. ``desired(selection)`` reads the CMDB: one :class:`Target` per thing to manage;
3. ``observe(desired)`` looks at the real system — **without side effects**, not even in the CMDB;
4. ``plan(desired, observed)`` returns immutable :class:`DiffItem` values; the framework stores them
   as a :class:`~cmdb.reconcile.models.Plan` with a fingerprint of desired state and observation;
5. ``apply(desired, items)`` changes the real system for exactly the stored items and returns an
   :class:`ItemOutcome` per item (``item`` is the index in ``items``) — or, for reconcilers that only
   know per-host results, a :class:`TargetOutcome` per target, which the framework spreads over that
   target's items;
6. ``verify(desired)`` observes again and returns the drift that is left.

``writeback(desired, observed)`` records what was observed in the CMDB (last seen, facts); the
framework runs it inside a savepoint that a dry run always rolls back, even when the run itself
runs inside an outer ``change_logging`` block.

Before a run the framework calls ``bind(...)``: ``self.log(message, level="info")`` writes to the
run's log, ``self.user`` is who started the run (None for a schedule), ``self.options`` the
validated values of the declared :class:`Option` s.

Before every apply the framework sends :data:`cmdb.core.hooks.reconcile_apply_requested`; a
receiver (change management) may deny it.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from .scope import Selection


@dataclass(frozen=True)
class DiffItem:
    """One needed change: ``(operation, target, resource, old → new)`` and a readable diff."""

    operation: str  # create | update | delete | noop
    target: str  # host or object name
    resource: str  # what changes: a task, a file, a field
    diff: str = ""
    ci_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> DiffItem:
        return cls(**{k: value[k] for k in ("operation", "target", "resource", "diff", "ci_id", "data") if k in value})


@dataclass(frozen=True)
class TargetOutcome:
    """What happened to one target: ok, failed or unreachable, and how many changes were made."""

    target: str
    status: str  # ok | failed | unreachable
    changed: int = 0
    message: str = ""


@dataclass(frozen=True)
class ItemOutcome:
    """What happened to one plan item (``item``: its index in the list given to ``apply``)."""

    item: int
    status: str  # ok | failed | skipped
    message: str = ""


@dataclass(frozen=True)
class Option:
    """A declared run argument: stored with the run or schedule, validated when stored.

    ``type`` is ``bool``, ``int`` or ``str``; ``choices`` limits a ``str`` (or gives the choices
    lazily when callable, e.g. the playbooks that exist)."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    #: Further checks of a well-typed value: ``validate(value)`` → message or None.
    validate: Callable[[Any], str | None] | None = None

    def allowed(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices

    def error(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if self.type is bool:
            ok = isinstance(value, bool)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.type)
        if not ok:
            return f"Give a {self.type.__name__} ({self.help})."
        allowed = self.allowed()
        if allowed is not None and value not in allowed:
            return f"Give one of {', '.join(allowed)}."
        if isinstance(value, str) and len(value) > 500:
            return "At most 500 characters."
        return self.validate(value) if self.validate is not None else None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.__name__, "default": self.default, "help": self.help,
                "choices": list(self.allowed()) if self.choices is not None else None}


@dataclass
class Target:
    """A thing in scope: a host name and, when it is a CI, its registry id."""

    name: str
    ci_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _log(message: str, level: str = "info") -> None:
    logging.getLogger(__name__).log(logging.ERROR if level == "error" else logging.INFO, "%s", message)


class Reconciler(abc.ABC):
    """Subclass, declare ``name``, ``kinds`` and ``options``, implement the four abstract steps."""

    name: ClassVar[str]
    #: CI kinds (``app_label.model``) this reconciler manages; scopes resolve over these only.
    kinds: ClassVar[tuple[str, ...]] = ("dcim.device", "virtualization.virtualmachine")
    #: Declared run arguments (validated when a run or schedule is stored; shown in the API and form).
    options: ClassVar[tuple[Option, ...]] = ()
    #: One line for ``cmdb reconcile list`` and the API.
    summary: ClassVar[str] = ""
    #: Seconds a run's lease lasts without renewal (renewed in the background while the run lives).
    lease_ttl: ClassVar[float] = 300
    #: The run's log: ``log(message, level="info")``; set by :meth:`bind`.
    log: Callable[..., None] = staticmethod(_log)
    #: Who started the run (None for a schedule); set by :meth:`bind`.
    user: Any = None
    run_id: int | None = None
    dry_run: bool = True
    #: The run's option values (declared defaults filled in); set by :meth:`bind`.
    values: dict[str, Any] = {}

    def bind(self, *, log: Callable[..., None], user: Any = None, run_id: int | None = None,
             dry_run: bool = True, options: dict[str, Any] | None = None) -> None:
        """Attach the run's log and context before the framework drives the reconciler."""
        self.log = log
        self.user, self.run_id, self.dry_run = user, run_id, dry_run
        self.values = {**option_defaults(type(self)), **(options or {})}

    def option(self, name: str) -> Any:
        """The value of a declared option for this run."""
        return self.values.get(name, option_defaults(type(self)).get(name))

    @abc.abstractmethod
    def desired(self, selection: Selection) -> list[Target]:
        """The targets of the CIs in ``selection`` (see :mod:`cmdb.reconcile.scope`)."""

    @abc.abstractmethod
    def observe(self, desired: list[Target]) -> Any: ...

    @abc.abstractmethod
    def plan(self, desired: list[Target], observed: Any) -> list[DiffItem]: ...

    @abc.abstractmethod
    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[ItemOutcome | TargetOutcome]: ...

    def verify(self, desired: list[Target]) -> list[DiffItem]:
        return self.plan(desired, self.observe(desired))

    def unhealthy(self, observed: Any) -> list[TargetOutcome]:
        """Targets that could not be observed (failed/unreachable) during ``observe``."""
        return []

    def writeback(self, desired: list[Target], observed: Any) -> None:
        """Record observations in the CMDB (rolled back in a dry run).  Default: nothing to record."""
        return None


_REGISTRY: dict[str, type[Reconciler]] = {}


def register(cls: type[Reconciler]) -> type[Reconciler]:
    _REGISTRY[cls.name] = cls
    return cls


def reconcilers() -> dict[str, type[Reconciler]]:
    """Every registered reconciler: those of the apps' declared ``reconcilers_module`` (cmdb/core/domains.py),
    plus the classes the ``RECONCILERS_EXTRA`` setting names by dotted path (e.g. the folder example)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from cmdb.core.domains import import_declared

    import_declared("reconcilers_module")
    found = dict(_REGISTRY)
    for path in getattr(settings, "RECONCILERS_EXTRA", ()):
        cls = import_string(path)
        found[cls.name] = cls
    return found


def option_defaults(cls: type[Reconciler]) -> dict[str, Any]:
    return {o.name: o.default for o in cls.options}


def options_errors(cls: type[Reconciler], options: Any) -> dict[str, str]:
    """``{option: message}`` for unknown options and bad values (empty: acceptable)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        return {"options": "Give the options as a JSON object."}
    declared = {o.name: o for o in cls.options}
    errors: dict[str, str] = {}
    for key, value in options.items():
        option = declared.get(key)
        if option is None:
            known = ", ".join(declared) or "none"
            errors[key] = f"Unknown option of {cls.name}; declared: {known}."
        else:
            problem = option.error(value)
            if problem:
                errors[key] = problem
    return errors


def get_reconciler(name: str) -> Reconciler:
    known = reconcilers()
    cls = known.get(name)
    if cls is None:
        raise LookupError(f"Unknown reconciler {name!r}; known: {', '.join(sorted(known))}.")
    return cls()
