"""Secret references: records name where a secret lives, never the secret itself.

A Kubernetes cluster's token, a restic repository's password, an SNMP community: the CMDB stores
them as a *reference* the worker resolves when it needs the value:

``env:NAME``
    an environment variable of the process that resolves it (the worker);
``file:/absolute/path``
    the first line of a file (a Kubernetes or Docker secret mount, a file only the worker reads);
``setting:NAME``
    a Django setting (for the few uses that allow it).

Why the rules below.  Whoever may edit a record that carries a reference must not be able to make
the worker send *another* of its secrets somewhere: a cluster record pointing at a server of the
editor's choosing, with ``env:SECRET_KEY`` as its token, would deliver the CMDB's own key to that
server.  So each use declares a :class:`SecretPolicy`: which schemes it accepts, a word the
variable or setting name must contain (``K8S`` for cluster credentials: the operator names the
variables for their purpose, and nothing else matches), and the folders files may come from
(``CMDB_SECRET_DIRS``; ``..`` and symbolic links leading out of them are refused).  A plain value
is refused with a message that says how to give a reference instead, so a secret typed into a form
never reaches the database or the change log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = ("env", "file", "setting")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretUnavailable(Exception):
    """A valid reference whose secret cannot be read here (unset variable, unreadable file)."""


@dataclass(frozen=True)
class SecretPolicy:
    """What one use of secrets accepts.

    ``purpose`` appears in messages ("the cluster's credentials").  ``name_must_contain``: the
    variable or setting name must contain this word (case-insensitive), so a reference can only
    reach secrets provisioned for this purpose.  ``file_dirs``: folders a ``file:`` reference may
    point into; ``None`` means the configured ``CMDB_SECRET_DIRS``; an empty tuple allows any
    absolute path (only for references an operator sets in the environment, never for records).
    """

    purpose: str
    schemes: tuple[str, ...] = ("env", "file")
    name_must_contain: str | None = None
    file_dirs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.schemes) - set(SCHEMES)
        if unknown or not self.schemes:
            raise ValueError(f"SecretPolicy schemes must be among {SCHEMES}, not {sorted(unknown)}")

    def allowed_dirs(self) -> tuple[Path, ...]:
        dirs = self.file_dirs if self.file_dirs is not None else tuple(secret_dirs())
        return tuple(Path(os.path.realpath(d)) for d in dirs)

    def example(self) -> str:
        word = (self.name_must_contain or "SECRET").upper()
        parts = []
        if "env" in self.schemes:
            parts.append(f"env:CMDB_{word}_TOKEN")
        if "file" in self.schemes:
            base = self.allowed_dirs()[0] if self.allowed_dirs() else Path("/run/secrets")
            parts.append(f"file:{base}/{word.lower()}-token")
        if "setting" in self.schemes:
            parts.append(f"setting:CMDB_{word}_TOKEN")
        return " or ".join(parts)


def secret_dirs() -> list[str]:
    """Folders ``file:`` references of records may point into (``CMDB_SECRET_DIRS``)."""
    configured = getattr(settings, "CMDB_SECRET_DIRS", None)
    if configured:
        return list(configured)
    return [str(Path(settings.DATA_DIR) / "secrets"), "/run/secrets", "/etc/cmdb/secrets"]


def is_reference(value: object) -> bool:
    """Does ``value`` look like a reference at all (``scheme:rest`` with a known scheme)?"""
    if not isinstance(value, str):
        return False
    scheme, sep, rest = value.partition(":")
    return bool(sep and rest) and scheme in SCHEMES


def reference_error(value: object, policy: SecretPolicy) -> str | None:
    """Why ``value`` is not an acceptable reference under ``policy`` (``None`` when it is).

    The message never repeats a value that is not a reference: it may be the secret itself.
    """
    accepted = ", ".join(f"{s}:…" for s in policy.schemes)
    if not isinstance(value, str) or not is_reference(value):
        return (f"Give a reference to {policy.purpose} ({accepted}), e.g. {policy.example()}; "
                "the secret itself is never stored.")
    scheme, _, target = value.partition(":")
    if scheme not in policy.schemes:
        return f"{scheme}: references are not accepted for {policy.purpose}; use {accepted}."
    if scheme in ("env", "setting"):
        if not _NAME.match(target):
            return f"{scheme}:{target[:60]} is not a valid variable name."
        word = policy.name_must_contain
        if word and word.upper() not in target.upper():
            return (f"{scheme}:{target}: the name must contain {word.upper()} (e.g. {policy.example()}), so that "
                    f"only secrets provisioned for {policy.purpose} can be named here.")
        return None
    path = Path(target)
    if not path.is_absolute():
        return f"file:{target[:200]}: give an absolute path."
    if ".." in path.parts:
        return f"file:{target[:200]}: '..' is not allowed."
    dirs = policy.allowed_dirs()
    if dirs and not any(_inside(Path(os.path.realpath(path)), d) for d in dirs):
        listed = ", ".join(str(d) for d in dirs)
        return f"file:{target[:200]}: secret files must lie in {listed} (CMDB_SECRET_DIRS)."
    return None


def validate_reference(value: object, policy: SecretPolicy) -> None:
    """Model/serializer validator: raise ``ValidationError`` with :func:`reference_error`'s message."""
    problem = reference_error(value, policy)
    if problem:
        raise ValidationError(problem, code="secret_reference")


def resolve(value: str, policy: SecretPolicy, *, environ: Mapping[str, str] | None = None) -> str:
    """The secret ``value`` refers to; :class:`SecretUnavailable` (naming the reference) if it cannot be read.

    The reference is checked again here: a record written before a policy tightened must not slip through.
    ``environ`` replaces the process environment for ``env:`` references: the settings module resolves
    its own references (LDAP's bind password) from the mapping it is configured from.
    """
    problem = reference_error(value, policy)
    if problem:
        raise SecretUnavailable(problem)
    scheme, _, target = value.partition(":")
    if scheme == "env":
        secret = (os.environ if environ is None else environ).get(target, "")
    elif scheme == "setting":
        secret = str(getattr(settings, target, "") or "")
    else:
        try:
            text = Path(target).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretUnavailable(f"{value} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
        secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise SecretUnavailable(f"{value} is not set or empty in this process ({policy.purpose}).")
    return secret


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return path != folder


__all__: Sequence[str] = ("SecretPolicy", "SecretUnavailable", "is_reference", "reference_error", "resolve",
                          "secret_dirs", "validate_reference")
