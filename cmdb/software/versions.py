"""Version strings as sortable keys, so "below V" and ranges are plain SQL comparisons.

Each scheme turns a version string into a byte string whose bytewise order is
the scheme's own order; the key is stored hex-encoded (only ``0-9a-f``, which
every database collation orders the same way as the bytes).  A token code that
is prefix-free makes bytewise comparison of concatenated tokens equal to the
scheme's comparison of token sequences:

* numbers: ``len(digits)`` then the digits (leading zeros dropped), so longer
  numbers sort later and equal lengths compare digit by digit;
* Debian (``[epoch:]upstream[-revision]``, dpkg's ``verrevcmp``): each
  non-digit run character by character with ``~`` < end-of-run < letters <
  other characters, then the following digit run as a number, and a final
  "end of string" token so that ``1.0~rc1`` < ``1.0`` < ``1.0.1``;
* RPM (``[epoch:]version[-release]``, ``rpmvercmp``): alphanumeric segments,
  separators ignored, ``~`` before everything (even the end), ``^`` after the
  end but before any further segment, alphabetic before numeric segments;
* semantic versions (semver.org §11): major.minor.patch, a pre-release sorts
  before the release, numeric identifiers before alphanumeric ones, fewer
  identifiers first; build metadata is ignored.

``generic`` (the default) uses the Debian rules without epoch/revision
splitting, which order most vendors' version strings sensibly.
"""

from __future__ import annotations

import re
from functools import cmp_to_key

SCHEMES = ("generic", "semver", "debian", "rpm")

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)


def _num(digits: str) -> bytes:
    digits = digits.lstrip("0")
    if len(digits) > 250:  # absurd; clamp so the length fits one byte
        digits = "9" * 250
    return bytes([len(digits)]) + digits.encode()


def _debian_part(text: str) -> bytes:
    """dpkg's verrevcmp order for one part (upstream or revision)."""
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        while i < n and not text[i].isdigit():
            c = text[i]
            code = min(ord(c), 255)
            if c == "~":
                out += b"\x01\x00"
            elif c.isascii() and c.isalpha():
                out += bytes([3, code])
            else:
                out += bytes([4, code])
            i += 1
        out += b"\x02"  # end of the non-digit run
        j = i
        while j < n and text[j].isdigit():
            j += 1
        out += _num(text[i:j])
        i = j
    out += b"\x02\x00"  # end of string: an empty run and the number 0
    return bytes(out)


def _split_evr(version: str) -> tuple[str, str, str]:
    epoch, sep, rest = version.partition(":")
    if not sep or not epoch.isdigit():
        epoch, rest = "0", version
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, ""
    return epoch, upstream, revision


def debian_key(version: str) -> bytes:
    epoch, upstream, revision = _split_evr(version.strip())
    return _num(epoch) + _debian_part(upstream) + _debian_part(revision or "0")


_RPM_SEGMENT = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")


def _rpm_part(text: str) -> bytes:
    out = bytearray()
    for seg in _RPM_SEGMENT.findall(text):
        if seg == "~":
            out += b"\x01"
        elif seg == "^":
            out += b"\x03"
        elif seg.isdigit():
            out += b"\x05" + _num(seg)
        else:
            out += b"\x04" + seg.encode() + b"\x00"
    out += b"\x02"
    return bytes(out)


def rpm_key(version: str) -> bytes:
    epoch, ver, release = _split_evr(version.strip())
    return _num(epoch) + _rpm_part(ver) + _rpm_part(release)


def semver_key(version: str) -> bytes | None:
    m = _SEMVER.match(version.strip())
    if m is None:
        return None
    out = _num(m[1]) + _num(m[2]) + _num(m[3])
    if m[4] is None:
        return out + b"\x05"
    out += b"\x01"
    for ident in m[4].split("."):
        if ident.isdigit():
            out += b"\x03" + _num(ident)
        else:
            out += b"\x04" + ident.encode() + b"\x00"
    return out + b"\x02"


#: Longest key stored (``SoftwareVersion.sort_key``).  A 100-character version can encode longer
#: ("a1" * 50 under RPM, digits of other scripts under Debian); a longer key is cut, which keeps the
#: order (a prefix never sorts after its key) and only makes absurd versions sharing 300 bytes tie.
KEY_LENGTH = 600


def version_key(version: str, scheme: str = "generic") -> str:
    """The hex sort key of ``version`` under ``scheme``; strings that are not valid
    semantic versions fall back to the generic order."""
    if scheme == "semver":
        key = semver_key(version)
        if key is not None:
            return key.hex()[:KEY_LENGTH]
        scheme = "generic"
    if scheme == "rpm":
        return rpm_key(version).hex()[:KEY_LENGTH]
    if scheme == "debian":
        return debian_key(version).hex()[:KEY_LENGTH]
    return _debian_part(version.strip()).hex()[:KEY_LENGTH]


def compare(a: str, b: str, scheme: str = "generic") -> int:
    ka, kb = version_key(a, scheme), version_key(b, scheme)
    return (ka > kb) - (ka < kb)


def sort_versions(versions: list[str], scheme: str = "generic") -> list[str]:
    return sorted(versions, key=cmp_to_key(lambda a, b: compare(a, b, scheme)))
