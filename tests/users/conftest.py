"""Fixtures for the users tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_custom_field_definitions() -> Iterator[None]:
    """Custom-field definitions are cached per process for a few seconds; a definition
    created by a (rolled-back) test must not leak into the next test, nor one from before."""
    from cmdb.extras import customfields

    customfields._cache.clear()
    yield
    customfields._cache.clear()
