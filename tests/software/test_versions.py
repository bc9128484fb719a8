"""Version ordering: semantic versions, Debian (epochs, tildes, revisions) and RPM (rpmvercmp)."""

from __future__ import annotations

import pytest

from cmdb.software.versions import compare, sort_versions, version_key


@pytest.mark.parametrize(("a", "b", "expected"), [
    # dpkg's own test cases (lib/dpkg/t/t-version.c) and policy examples
    ("1.0", "1.0", 0),
    ("1.0", "1.0-0", 0),
    ("1:0.9", "2.0", 1),  # the epoch wins
    ("0:1.0", "1.0", 0),
    ("1.0~rc1", "1.0", -1),  # tilde sorts before the release
    ("1.0~~", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1.0", "1.0a", -1),
    ("1.0a", "1.0+b1", -1),  # letters before other characters
    ("1.0", "1.0.1", -1),
    ("1.10", "1.9", 1),  # numerically, not lexically
    ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
    ("3.0.11-1~deb12u2", "3.0.11-1", -1),
    ("1.2-3", "1.2-10", -1),
    ("7.4.33-1+deb12u1", "7.4.33-1", 1),
])
def test_debian_order(a: str, b: str, expected: int) -> None:
    assert compare(a, b, "debian") == expected
    assert compare(b, a, "debian") == -expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    # rpmvercmp semantics (rpm's tests/rpmvercmp.at)
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0.1", "2.0", 1),
    ("2.0", "2_0", 0),  # separators are ignored
    ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p10", -1),
    ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1),
    ("1.0a", "1.0.1", -1),  # alphabetic segments before numeric ones
    ("a", "1", -1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0^", "1.0", 1),  # caret after the end
    ("1.0^git1", "1.0.1", -1),  # but before a further segment
    ("1:1.0", "2.0", 1),
    ("1.0-1", "1.0-2", -1),
    ("1.0-10.el9", "1.0-9.el9", 1),
])
def test_rpm_order(a: str, b: str, expected: int) -> None:
    assert compare(a, b, "rpm") == expected
    assert compare(b, a, "rpm") == -expected


def test_semver_precedence_from_the_spec() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.9.0", "1.10.0", "2.0.0"]
    shuffled = list(reversed(ordered))
    assert sort_versions(shuffled, "semver") == ordered
    assert compare("1.0.0+build.5", "1.0.0", "semver") == 0  # build metadata is ignored
    assert compare("v2.1.0", "2.1.0", "semver") == 0


def test_keys_are_hex_so_any_collation_orders_them_alike() -> None:
    for scheme in ("generic", "semver", "debian", "rpm"):
        key = version_key("1:2.3~rc1-4", scheme)
        assert key and set(key) <= set("0123456789abcdef")


def test_invalid_semver_falls_back_to_generic_order() -> None:
    assert compare("2024.1", "2023.12", "semver") == 1
