"""Secret references (cmdb/core/secrets.py): what records may name, and what the worker reads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from cmdb.core import secrets
from cmdb.core.secrets import SecretPolicy, SecretUnavailable

K8S = SecretPolicy("the cluster's credentials", name_must_contain="K8S")


@pytest.fixture
def secret_dir(tmp_path: Path, settings: Any) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    settings.CMDB_SECRET_DIRS = [str(folder)]
    return folder


def test_a_plain_secret_is_refused_without_being_repeated() -> None:
    problem = secrets.reference_error("hunter2-very-secret", K8S)
    assert problem is not None and "hunter2" not in problem and "env:CMDB_K8S_TOKEN" in problem
    with pytest.raises(ValidationError):
        secrets.validate_reference("hunter2-very-secret", K8S)
    assert secrets.reference_error(None, K8S) is not None
    assert secrets.reference_error(123, K8S) is not None


def test_environment_names_must_carry_the_purpose(monkeypatch: Any) -> None:
    assert secrets.reference_error("env:CMDB_K8S_TOKEN", K8S) is None
    assert "must contain K8S" in secrets.reference_error("env:SECRET_KEY", K8S)
    assert "not a valid variable name" in secrets.reference_error("env:A B", K8S)
    assert "not accepted" in secrets.reference_error("setting:K8S_TOKEN", K8S)
    monkeypatch.setenv("CMDB_K8S_TOKEN", "tok")
    assert secrets.resolve("env:CMDB_K8S_TOKEN", K8S) == "tok"
    monkeypatch.delenv("CMDB_K8S_TOKEN")
    with pytest.raises(SecretUnavailable, match="not set or empty"):
        secrets.resolve("env:CMDB_K8S_TOKEN", K8S)


def test_files_only_from_the_secret_folders(secret_dir: Path, tmp_path: Path) -> None:
    (secret_dir / "k8s-token").write_text("abc\nignored\n")
    assert secrets.resolve(f"file:{secret_dir}/k8s-token", K8S) == "abc"
    outside = tmp_path / "elsewhere"
    outside.write_text("x")
    assert "must lie in" in secrets.reference_error(f"file:{outside}", K8S)
    assert "'..'" in secrets.reference_error(f"file:{secret_dir}/../elsewhere", K8S)
    assert "absolute" in secrets.reference_error("file:relative/path", K8S)
    os.symlink(outside, secret_dir / "link")  # a link out of the folder is outside
    assert "must lie in" in secrets.reference_error(f"file:{secret_dir}/link", K8S)
    with pytest.raises(SecretUnavailable, match="cannot be read"):
        secrets.resolve(f"file:{secret_dir}/missing", K8S)
    (secret_dir / "empty").write_text("")
    with pytest.raises(SecretUnavailable, match="empty"):
        secrets.resolve(f"file:{secret_dir}/empty", K8S)


def test_resolve_checks_the_reference_again() -> None:
    with pytest.raises(SecretUnavailable, match="must contain K8S"):
        secrets.resolve("env:DATABASE_URL", K8S)


def test_an_operator_policy_may_allow_any_path_and_settings(tmp_path: Path, settings: Any) -> None:
    policy = SecretPolicy("the LDAP bind password", schemes=("env", "file", "setting"), file_dirs=())
    anywhere = tmp_path / "pw"
    anywhere.write_text("pw\n")
    assert secrets.resolve(f"file:{anywhere}", policy) == "pw"
    settings.LDAP_PW = "from-settings"
    assert secrets.resolve("setting:LDAP_PW", policy) == "from-settings"
    with pytest.raises(ValueError):
        SecretPolicy("x", schemes=("vault",))
