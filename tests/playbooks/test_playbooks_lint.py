"""The playbooks pass ansible-lint (production profile) and a syntax check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
BIN = Path(sys.executable).parent


@pytest.mark.skipif(shutil.which("ansible-lint", path=str(BIN)) is None, reason="ansible-lint is not installed")
def test_ansible_lint_is_clean() -> None:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(BIN / "ansible-lint"), "--profile", "production", "--offline", "baseline.yml"],
                            cwd=PLAYBOOKS, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("ansible-playbook", path=str(BIN)) is None, reason="ansible-core is not installed")
def test_syntax_check() -> None:
    result = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", "baseline.yml"],
                            cwd=PLAYBOOKS, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
