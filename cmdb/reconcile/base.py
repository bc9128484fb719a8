"""The shape every reconciler has: desired → observe → plan → apply → verify.

A reconciler subclasses :class:`Reconciler` and registers itself with
:func:`register`, in the module its app declares as ``reconcilers_module``.  The framework
(:mod:`cmdb.reconcile.services`) drives it:

1. ``desired(scope)``  reads the CMDB for a scope ("all", "ci:12,13", "site:zittau", ...);
2. ``observe(desired)`` looks at the real system (for Ansible: a check-mode run);
3. ``plan(desired, observed)`` returns immutable :class:`DiffItem` values; a dry run stops here;
4. ``apply(desired, items)`` changes the real system and returns one :class:`TargetOutcome`
   per target, so a failed or unreachable target never hides the others;
5. ``verify(desired)`` observes again and returns the drift that is left.

``writeback(desired, observed)`` may record what was observed in the CMDB (last seen,
facts); the framework runs it in a transaction that a dry run rolls back.

Before a run the framework calls ``bind(...)``, so a reconciler can write lines to
the run's log (``self.log``) and knows who started the run (``self.user``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


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


@dataclass
class Target:
    """A thing in scope: a host name and, when it is a CI, its registry id."""

    name: str
    ci_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _log(message: str, level: str = "info") -> None:
    logging.getLogger(__name__).log(logging.ERROR if level == "error" else logging.INFO, "%s", message)


class Reconciler(abc.ABC):
    name: ClassVar[str]
    #: Seconds a run's lease lasts without renewal (renewed in the background while the run lives).
    lease_ttl: ClassVar[float] = 300
    #: The run's log: ``log(message, level="info")``; set by :meth:`bind`.
    log: Callable[..., None] = staticmethod(_log)
    #: Who started the run (None for a schedule); set by :meth:`bind`.
    user: Any = None
    run_id: int | None = None
    dry_run: bool = True

    def bind(self, *, log: Callable[..., None], user: Any = None, run_id: int | None = None,
             dry_run: bool = True) -> None:
        """Attach the run's log and context before the framework drives the reconciler."""
        self.log = log
        self.user, self.run_id, self.dry_run = user, run_id, dry_run

    @abc.abstractmethod
    def desired(self, scope: str) -> list[Target]: ...

    @abc.abstractmethod
    def observe(self, desired: list[Target]) -> Any: ...

    @abc.abstractmethod
    def plan(self, desired: list[Target], observed: Any) -> list[DiffItem]: ...

    @abc.abstractmethod
    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[TargetOutcome]: ...

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
    """Every registered reconciler: those of the apps' declared ``reconcilers_module`` (cmdb/core/domains.py)."""
    from cmdb.core.domains import import_declared

    import_declared("reconcilers_module")
    return dict(_REGISTRY)


def get_reconciler(name: str) -> Reconciler:
    cls = reconcilers().get(name)
    if cls is None:
        raise LookupError(f"Unknown reconciler {name!r}; known: {', '.join(sorted(_REGISTRY))}.")
    return cls()
