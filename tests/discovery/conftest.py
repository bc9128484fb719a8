from collections.abc import Iterator

import pytest

from cmdb.discovery.software import clear_cache


@pytest.fixture(autouse=True)
def _fresh_version_cache() -> Iterator[None]:
    """The per-process version cache must not carry ids from an earlier test's (flushed) database."""
    clear_cache()
    yield
    clear_cache()
