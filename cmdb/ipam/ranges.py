"""Networks as comparable numbers, so containment filters run as indexed range comparisons.

NetBox keeps prefixes in PostgreSQL's ``cidr``/``inet`` types and filters with
``<<=``/``>>=``.  We also run on SQLite, and an IPv6 address needs 128 bits, more
than any integer column either database has.  So each prefix stores its first and
last address, and each IP address its own address, as **39-digit zero-padded
decimal strings** (2**128 has 39 digits) beside its mask length and family.
Strings of equal length made only of digits sort the same under every collation
(bytewise in SQLite, and in PostgreSQL's C or linguistic collations alike), so
``start <= x <= end`` on an index answers "x lies in this prefix" on both
databases, for IPv4 and IPv6 (the family is always compared too).

The columns are :class:`NetworkPartField` instances that compute their value in
``pre_save`` from the model's CIDR column: ``save()``, Django's ``bulk_create``
and our COPY insert (:mod:`cmdb.core.copyinsert`) all call ``pre_save``, so no
write path can leave them stale.  (A raw ``QuerySet.update(prefix=...)`` would;
nothing in the product does that.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import netaddr
from django.db import models

WIDTH = 39  # digits of 2**128 - 1


def as_key(number: int) -> str:
    """An address as the fixed-width string the range columns hold."""
    return str(number).zfill(WIDTH)


@dataclass(frozen=True)
class Span:
    """A network (or one address, as a /32 or /128) as the values the columns compare with."""

    family: int
    start: str
    end: str
    length: int


def parse_span(value: str, *, host_ok: bool = True) -> Span:
    """``10.1.0.0/16`` (any host bits are dropped, as NetBox does) or a bare address; ValueError if neither."""
    text = str(value).strip()
    try:
        if "/" in text:
            net = netaddr.IPNetwork(text).cidr
        elif host_ok:
            address = netaddr.IPAddress(text)
            net = netaddr.IPNetwork(f"{address}/{32 if address.version == 4 else 128}")
        else:
            raise ValueError(f"{text!r} has no mask length")
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not an IP prefix (e.g. 10.1.0.0/16 or 2001:db8::/48).") from exc
    return Span(net.version, as_key(net.first), as_key(net.last), net.prefixlen)


def parse_address(value: str) -> tuple[int, str, int | None]:
    """``10.0.0.1`` or ``10.0.0.1/24`` as (family, key of the address, mask length or None); ValueError if neither."""
    text = str(value).strip()
    try:
        if "/" in text:
            net = netaddr.IPNetwork(text)
            return net.version, as_key(int(net.ip)), net.prefixlen
        address = netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not an IP address (e.g. 10.1.2.3 or 10.1.2.3/24).") from exc
    return address.version, as_key(int(address)), None


def _parts(value: Any, host: bool) -> tuple[int, str, str, int] | None:
    if not value or "/" not in str(value):
        return None
    try:
        net = netaddr.IPNetwork(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if host:
        return net.version, as_key(int(net.ip)), as_key(int(net.ip)), net.prefixlen
    cidr = net.cidr
    return cidr.version, as_key(cidr.first), as_key(cidr.last), cidr.prefixlen


class _DerivedPart:
    """A column computed from the CIDR column ``source`` on every insert and save; never set by hand.

    ``part`` is 1 (start), 2 (end) or 3 (mask length); ``host=True`` for IP addresses, whose
    start and end are the address itself rather than its network's first and last address.
    """

    def __init__(self, *args: Any, source: str = "", part: int = 1, host: bool = False, **kwargs: Any) -> None:
        self.source, self.part, self.host = source, part, host
        kwargs.setdefault("editable", False)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        kwargs.update(source=self.source, part=self.part, host=self.host)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        parts = _parts(getattr(model_instance, self.source), self.host)
        value = None if parts is None else parts[self.part]
        setattr(model_instance, self.attname, value)  # type: ignore[attr-defined]
        return value


class NetworkKeyField(_DerivedPart, models.CharField):
    """The first (``part=1``) or last (``part=2``) address of the network as a 39-digit key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", WIDTH)
        super().__init__(*args, **kwargs)


class MaskLengthField(_DerivedPart, models.PositiveSmallIntegerField):
    """The mask length of the CIDR in ``source``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("part", 3)
        super().__init__(*args, **kwargs)
