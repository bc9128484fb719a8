"""k8s/testing/build-kube-apiserver, as documented in docs/kubernetes.md: with a working cached
binary it does nothing but say so (the build itself runs in .ci/run on a machine without the cache)."""

from __future__ import annotations

import os
import subprocess

from k8s.testing import apiserver


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(apiserver.BUILD_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_help_describes_the_cache() -> None:
    result = run_script("--help")
    assert result.returncode == 0
    assert "CMDB_K8S_CACHE" in result.stdout and "--keep-build" in result.stdout


def test_unknown_argument_is_refused() -> None:
    result = run_script("--frobnicate")
    assert result.returncode == 2
    assert "unknown argument: --frobnicate" in result.stderr


def test_a_working_cached_binary_is_left_alone(apiserver_binaries: None) -> None:
    binary = apiserver.binary_path()
    before = binary.stat()
    result = run_script()
    assert result.returncode == 0, result.stderr
    assert f"cached and working: {binary} (Kubernetes {apiserver.VERSION})" in result.stdout
    after = binary.stat()  # not rebuilt, not replaced
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
