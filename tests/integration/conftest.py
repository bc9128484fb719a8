"""Reuse the UI test fixtures (world, grant) for cross-app integration tests."""

from tests.ui.conftest import _clear_cache, grant, world  # noqa: F401
