"""Real restic repositories in temporary folders; the password reaches restic only through a secret reference."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _restic_installed() -> None:
    if shutil.which("restic") is None:
        pytest.skip("restic is not installed (apt-get install restic)")


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("CMDB_RESTIC_PASSWORD", PASSWORD)
    monkeypatch.setenv("CMDB_RESTIC_ARCHIVE_PASSWORD", "another archive password")
    monkeypatch.setenv("CMDB_RESTIC_WRONG", "not the password")
    return {"primary": "env:CMDB_RESTIC_PASSWORD", "archive": "env:CMDB_RESTIC_ARCHIVE_PASSWORD",
            "wrong": "env:CMDB_RESTIC_WRONG"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Mixed source data: small text files, a nested folder, a binary file of a few MB."""
    root = tmp_path / "data"
    (root / "etc" / "app").mkdir(parents=True)
    for i in range(30):
        (root / "etc" / "app" / f"conf-{i}.ini").write_text(f"[section]\nvalue = {i}\n" * (i + 1))
    (root / "big.bin").write_bytes(os.urandom(4 << 20))  # 4 MiB that neither compress nor deduplicate
    return root


@pytest.fixture
def repos(db: Any, tmp_path: Path, secrets_env: dict[str, str]) -> Any:
    from backup.models import Policy, Repository

    primary = Repository(name="primary", repo_url=str(tmp_path / "repo"), password_ref=secrets_env["primary"])
    primary.validated_save()
    archive = Repository(name="archive", repo_url=str(tmp_path / "archive"), password_ref=secrets_env["archive"],
                         role="archive")
    archive.validated_save()

    class Repos:
        pass

    result = Repos()
    result.primary, result.archive, result.Policy = primary, archive, Policy
    return result
