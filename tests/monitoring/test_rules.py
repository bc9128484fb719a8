"""Alert rules of every domain: promtool's syntax check and the rule unit tests.

A domain keeps its rules in ``<domain>/rules/*.yml`` with promtool unit tests in
``<domain>/rules/tests/*.yml`` (monitoring's own, and e.g. ``backup/rules/``); the folders are
found from the installed apps, so a new domain's rules are checked without touching this file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from django.apps import apps

from .prom import binary


def rule_folders() -> list[Path]:
    found = []
    for config in apps.get_app_configs():
        folder = Path(config.path) / "rules"
        if folder.is_dir() and any(folder.glob("*.yml")):
            found.append(folder)
    return found


FOLDERS = rule_folders()


def test_the_monitoring_domains_rules_are_found() -> None:
    assert any(f.parent.name == "monitoring" for f in FOLDERS), FOLDERS


@pytest.mark.parametrize("rules", FOLDERS, ids=lambda f: f.parent.name)
def test_promtool_check_rules(rules: Path) -> None:
    result = subprocess.run([binary("promtool"), "check", "rules", *sorted(map(str, rules.glob("*.yml")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.parametrize("rules", FOLDERS, ids=lambda f: f.parent.name)
def test_promtool_rule_unit_tests(rules: Path) -> None:
    tests = sorted(str(p.name) for p in (rules / "tests").glob("*.yml"))
    assert tests, f"{rules}/tests has no promtool unit tests"
    result = subprocess.run([binary("promtool"), "test", "rules", *tests], cwd=rules / "tests",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rules", FOLDERS, ids=lambda f: f.parent.name)
def test_every_alert_is_unit_tested_and_labelled(rules: Path) -> None:
    found = [r for f in rules.glob("*.yml") for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]
    tested = {case["alertname"] for f in (rules / "tests").glob("*.yml")
              for t in yaml.safe_load(f.read_text())["tests"] for case in t.get("alert_rule_test", [])}
    alerts = {r["alert"] for r in found if "alert" in r}
    assert alerts - tested == set()
    for rule in found:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
