from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def folder(tmp_path: Path, settings: Any) -> Path:
    """The framework's example ``folder`` reconciler enabled on a fresh folder (as tests/reconcile does)."""
    settings.RECONCILERS_EXTRA = ["cmdb.reconcile.examples.folder.FolderReconciler"]
    settings.RECONCILE_FOLDER_ROOT = str(tmp_path / "files")
    return tmp_path / "files"


@pytest.fixture(autouse=True)
def _no_notifications(settings: Any) -> None:
    """Mail goes to Django's in-memory outbox and no webhook is configured, unless a test sets them."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CHANGES_WEBHOOK_URLS = []
