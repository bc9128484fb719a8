"""The import boundaries of the layout (docs/architecture.md, "One domain, one folder").

1. A top-level domain package (discovery, playbooks, monitoring, k8s, ... -- every package
   pyproject ships besides ``cmdb``, and every installed app outside ``cmdb``) never imports
   another domain: cross-domain needs go through the core's hooks (cmdb/core/hooks.py).
2. Nothing under ``cmdb/`` imports a domain: the project reads the domains' declarations
   (cmdb/core/domains.py); only settings name them, as strings.
3. The discovery agents (``discovery/agents``, and ``discovery/__init__``/``__main__``, which
   ``python -m discovery`` runs) import no Django and nothing of the CMDB.

Imports anywhere in a module count (also inside functions), and so do ``include("x.urls")``,
``import_module("x")`` and ``import_string("x.y")`` with a literal name.  Tests and benchmarks
may import anything.  The checker is an AST walk; ``test_checker_catches_planted_violations``
proves that it finds what it should, so the real checks cannot pass vacuously.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "cmdb"
AGENTS = "discovery.agents"
#: What the agents may never import (rule 3), besides other domains and the discovery app itself.
AGENT_FORBIDDEN = ("django", "rest_framework", "django_filters", "drf_spectacular", "django_tasks", PROJECT)
#: Calls whose literal first argument names a module to import.
IMPORTING_CALLS = {"include", "import_module", "import_string", "__import__"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported} -- {self.reason}"


def shipped_packages(root: Path = ROOT) -> set[str]:
    """Top-level packages pyproject ships (``[tool.setuptools.packages.find] include``)."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["packages"]["find"]["include"]
    return {p.rstrip("*").rstrip(".") for p in patterns}


def installed_local_packages(root: Path = ROOT) -> set[str]:
    """Top-level packages of INSTALLED_APPS that live in this repository."""
    from django.conf import settings

    tops = {app.split(".")[0] for app in settings.INSTALLED_APPS}
    return {top for top in tops if (root / top / "__init__.py").exists()}


def domain_packages(root: Path = ROOT) -> set[str]:
    return (shipped_packages(root) | installed_local_packages(root)) - {PROJECT}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``path``; relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from pkg import sub``: the names may be submodules, so count ``pkg.sub`` too.
            if target:
                found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}" if target else alias.name) for alias in node.names
                      if alias.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in IMPORTING_CALLS:
                found.append((node.lineno, node.args[0].value))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is_agent_file(module: str) -> bool:
    return _in(module, AGENTS) or module in ("discovery", "discovery.__main__")


def check(root: Path = ROOT, domains: set[str] | None = None) -> list[Violation]:
    """Every import that crosses a boundary, in the packages under ``root``."""
    domains = domain_packages(root) if domains is None else domains
    violations: list[Violation] = []
    for package in sorted({PROJECT, *domains}):
        for path in sorted((root / package).rglob("*.py")):
            module = _module_name(path, root)
            rel = str(path.relative_to(root))
            seen: set[tuple[int, str]] = set()
            for line, imported in _imports(path, root):
                if (line, _top(imported)) in seen:
                    continue
                reason = ""
                if package == PROJECT and _top(imported) in domains:
                    reason = f"{PROJECT}/ must not import a domain ({_top(imported)}); read its declarations instead"
                elif package in domains and _top(imported) in domains and _top(imported) != package:
                    reason = f"domain {package} must not import domain {_top(imported)}; use a hook of cmdb.core.hooks"
                elif _is_agent_file(module) and (
                    any(_in(imported, bad) for bad in AGENT_FORBIDDEN)
                    or (_top(imported) in domains and _top(imported) != "discovery")
                    or (_in(imported, "discovery") and not _in(imported, AGENTS) and imported != "discovery")
                ):
                    reason = "the discovery agents import no Django and nothing of the CMDB"
                if reason:
                    seen.add((line, _top(imported)))
                    violations.append(Violation(rel, line, imported, reason))
    return violations


def _report(violations: list[Violation]) -> str:
    return "forbidden imports:\n" + "\n".join(f"  {v}" for v in violations)


def test_the_domains_are_derived_from_pyproject_and_installed_apps() -> None:
    domains = domain_packages()
    assert {"discovery", "playbooks", "monitoring", "k8s"} <= domains
    assert PROJECT not in domains


def test_every_installed_domain_is_shipped_by_pyproject() -> None:
    """A new domain needs its line in pyproject too, or the wheel would lack it."""
    missing = installed_local_packages() - shipped_packages()
    assert not missing, f"in INSTALLED_APPS but not in pyproject's packages: {sorted(missing)}"


def test_no_import_crosses_a_boundary() -> None:
    violations = check()
    assert not violations, _report(violations)


def test_checker_catches_planted_violations(tmp_path: Path) -> None:
    """A tiny tree with one violation of each rule (and allowed imports around them)."""
    files = {
        "pyproject.toml": '[tool.setuptools.packages.find]\ninclude = ["cmdb*", "alpha*", "beta*"]\n',
        "cmdb/__init__.py": "",
        "cmdb/core.py": "import os\nfrom django.db import models\n\n\ndef f():\n    from beta import models\n",
        "cmdb/urls.py": 'from django.urls import include\n\nurlpatterns = [include("alpha.urls")]\n',
        "cmdb/settings.py": 'INSTALLED_APPS = ["alpha", "beta"]\n',
        "alpha/__init__.py": "",
        "alpha/models.py": "from cmdb.core import f\nfrom . import urls\nfrom .. import beta\n",
        "alpha/urls.py": "",
        "beta/__init__.py": "",
        "beta/models.py": "",
        "discovery/__init__.py": "",
        "discovery/models.py": "from django.db import models\n",
        "discovery/agents/__init__.py": "",
        "discovery/agents/host.py": "import json\nfrom . import report\nfrom discovery.agents import report\n"
                                    "from discovery import models\n",
        "discovery/agents/report.py": "import jsonschema\n\n\ndef g():\n    import django.conf\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = {(v.path, v.line, v.imported) for v in check(tmp_path, {"alpha", "beta", "discovery"})}
    assert found == {
        ("cmdb/core.py", 6, "beta"),  # rule 2, inside a function
        ("cmdb/urls.py", 3, "alpha.urls"),  # rule 2, through include()
        ("alpha/models.py", 3, "beta"),  # rule 1, a relative import reaching out of the package
        ("discovery/agents/host.py", 4, "discovery.models"),  # rule 3: the Django app is not the agents
        ("discovery/agents/report.py", 5, "django.conf"),  # rule 3
    }, found
    message = _report(check(tmp_path, {"alpha", "beta", "discovery"}))
    assert "cmdb/urls.py:3: imports alpha.urls -- cmdb/ must not import a domain (alpha)" in message


# --- the agents at run time: Django absent from the interpreter ---------------------------------

AGENT_MODULES = ["discovery", "discovery.agents", "discovery.agents.report", "discovery.agents.host",
                 "discovery.agents.network", "discovery.agents.ansible_facts", "discovery.agents.libvirt_agent",
                 "discovery.agents.cli"]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_agents_import_without_django() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {AGENT_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'cmdb', 'monitoring', 'playbooks'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(),
                         cwd=ROOT, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_python_m_discovery_runs_the_host_agent_without_django() -> None:
    """``python -m discovery host --dry-run`` prints this machine's report; Django is never imported."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['discovery', 'host', '--dry-run']\n"
        "runpy.run_module('discovery', run_name='__main__', alter_sys=True)\n"
        "sys.stderr.write('DJANGO-MODULES=%d' % sum(m.split('.')[0] == 'django' for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(),
                         cwd=ROOT, timeout=120, check=True)
    assert out.stderr.rstrip().endswith("DJANGO-MODULES=0"), out.stderr
    reports = json.loads(out.stdout)
    report = reports[0] if isinstance(reports, list) else reports
    assert report["source"]["type"] == "agent" and report["identifiers"]


@pytest.mark.parametrize("agent", ["host", "network", "ansible", "libvirt"])
def test_python_m_discovery_knows_every_agent(agent: str) -> None:
    out = subprocess.run([sys.executable, "-m", "discovery", agent, "--help"], capture_output=True, text=True,
                         env=_clean_env(), cwd=ROOT, timeout=60, check=True)
    assert out.stdout.startswith(f"usage: python -m discovery {agent}")
