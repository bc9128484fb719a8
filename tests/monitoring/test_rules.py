"""Alert rules: promtool's syntax check and the rule unit tests (monitoring/rules/tests)."""

from __future__ import annotations

import subprocess

import yaml

from .prom import RULES, binary


def test_promtool_check_rules() -> None:
    result = subprocess.run([binary("promtool"), "check", "rules", *sorted(map(str, RULES.glob("*.yml")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_rule_unit_tests() -> None:
    tests = sorted(str(p.name) for p in (RULES / "tests").glob("*.yml"))
    assert tests
    result = subprocess.run([binary("promtool"), "test", "rules", *tests], cwd=RULES / "tests",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_labelled() -> None:
    rules = [r for f in RULES.glob("*.yml") for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]
    tested = {case["alertname"] for f in (RULES / "tests").glob("*.yml")
              for t in yaml.safe_load(f.read_text())["tests"] for case in t.get("alert_rule_test", [])}
    alerts = {r["alert"] for r in rules if "alert" in r}
    assert alerts - tested == set()
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
