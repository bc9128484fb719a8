"""The wheel ships every domain with its non-Python content, and an installed CMDB runs from it.

``pip wheel --no-deps`` builds the wheel from a copy of the working tree (so the checkout gets no
``build/`` or ``*.egg-info``), without build isolation (the venv's setuptools: no network).  The
wheel is installed with ``--no-deps`` into a fresh venv whose site-packages has a ``.pth`` line
pointing at this venv's site-packages: the dependencies come from there, already installed, while
``cmdb``, ``playbooks``, ``monitoring`` and ``discovery`` come from the wheel, since the fresh
venv's own site-packages comes first on ``sys.path`` and a ``.pth`` line only appends a folder
(this venv's editable-install hooks, ``.pth`` files themselves, are not run from it).  Every
command then runs from a folder outside the checkout, and the test checks that the modules were
imported from the fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Left out of the build copy: caches anywhere; at the top, what is not the product (monitoring/rules/tests is).
_SKIP_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")
_SKIP_AT_TOP = {".git", ".venv", "data", "build", "dist", "tests", "benchmarks", "docs"}


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    skipped = set(_SKIP_ANYWHERE(folder, names))
    return skipped | (_SKIP_AT_TOP & set(names) if Path(folder).resolve() == ROOT else set())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_copy_ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", str(source),
                    "-w", str(base / "dist")], check=True, timeout=300, cwd=base)
    [built] = (base / "dist").glob("cmdb-*.whl")
    return built


def _content_files() -> set[str]:
    """Every non-Python file of the product's packages (templates, static files, playbooks, roles, rules,
    dashboards, the report schema) and the inventory plugin, as they sit in the checkout."""
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "playbooks" / "inventory_plugins").glob("*.py")}
    for top in ("cmdb", "discovery", "playbooks", "monitoring"):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                wanted.add(path.relative_to(ROOT).as_posix())
    return wanted


def test_the_wheel_contains_every_domain_and_its_content(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "playbooks/baseline.yml", "playbooks/ansible.cfg", "playbooks/inventory/cmdb.yml",
        "playbooks/inventory/cmdb.sh", "playbooks/inventory_plugins/cmdb.py", "playbooks/roles/cmdb/tasks/main.yml",
        "playbooks/roles/cmdb/templates/motd.j2", "playbooks/reconcilers.py", "playbooks/apps.py",
        "monitoring/rules/cmdb.rules.yml", "monitoring/rules/tests/cmdb.test.yml", "monitoring/dashboards/cmdb-ci.json",
        "monitoring/templates/monitoring/incident_list.html", "monitoring/exposition.py",
        "discovery/agents/schema/report-v1.json", "discovery/__main__.py", "discovery/agents/host.py",
        "discovery/templates/discovery/panel.html", "discovery/migrations/0001_initial.py",
        "cmdb/ui/templates/ui/base.html", "cmdb/ui/static/ui/ui.css", "cmdb/services/static/services/impact.js",
        "cmdb/reconcile/static/reconcile/diff.css", "cmdb/core/metrics.py", "k8s/__init__.py",
    }
    assert expected <= names, sorted(expected - names)
    content = _content_files()
    assert len(content) > 40 and not content - names, sorted(content - names)
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]


def _fresh_venv(base: Path, wheel: Path) -> Path:
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "cmdb-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    return venv


def test_an_installed_wheel_migrates_and_serves_its_inventory(wheel: Path, tmp_path: Path) -> None:
    venv = _fresh_venv(tmp_path, wheel)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "CMDB_PLAYBOOK")}
    env["CMDB_DATA_DIR"] = str(tmp_path / "data")

    def cmdb(*args: str) -> str:
        done = subprocess.run([str(venv / "bin" / "cmdb"), *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"cmdb {' '.join(args)}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done.stdout

    cmdb("migrate", "--no-input")
    assert "[ ]" not in cmdb("showmigrations")
    code = (
        "import cmdb, discovery, monitoring, playbooks\n"
        "from playbooks.reconcilers import PLAYBOOK_DIR, playbook_path\n"
        "from cmdb.core.context import change_logging\n"
        "from cmdb.dcim.models import Device, DeviceRole, DeviceType, Manufacturer, Site\n"
        "with change_logging(source='cli'):\n"
        "    site = Site.objects.create(name='Zittau', slug='zittau')\n"
        "    maker = Manufacturer.objects.create(name='Dell', slug='dell')\n"
        "    dtype = DeviceType.objects.create(model='R650', slug='r650', manufacturer=maker)\n"
        "    role = DeviceRole.objects.create(name='Server', slug='server')\n"
        "    from cmdb.extras.models import Tag\n"
        "    web = Tag.objects.create(name='Web', slug='web')\n"
        f"    local = {{'ansible_connection': 'local', 'ansible_python_interpreter': {sys.executable!r},\n"
        f"             'cmdb_root': {str(tmp_path / 'root')!r}}}\n"
        "    Device.objects.create(name='web01', site=site, device_type=dtype, role=role,\n"
        "                          local_context_data=local).tags.set([web])\n"
        "print({m.__name__: m.__file__ for m in (cmdb, discovery, monitoring, playbooks)})\n"
        "print(PLAYBOOK_DIR, playbook_path().is_file(), (PLAYBOOK_DIR / 'roles/cmdb/tasks/main.yml').is_file())\n"
    )
    out = cmdb("shell", "-c", code).splitlines()
    assert all(str(venv) in path for path in eval(out[-2]).values()), out  # noqa: S307 (our own dict repr)
    playbook_dir, baseline, role = out[-1].split()
    assert playbook_dir.startswith(str(venv)) and baseline == role == "True"
    inventory = json.loads(cmdb("inventory", "--list"))
    assert list(inventory["_meta"]["hostvars"]) == ["web01"]
    assert "web01" in inventory["site_zittau"]["hosts"]
    assert json.loads(cmdb("inventory", "--host", "web01"))["cmdb"]["name"] == "web01"
    # An Ansible plan against localhost, from the installed package's playbooks (ansible-playbook comes from
    # this venv: the fresh one has the dependencies only through its .pth line, not their scripts).
    plan_env = {**env, "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"}
    done = subprocess.run([str(venv / "bin" / "cmdb"), "reconcile", "plan", "ansible", "--scope", "tag:web",
                           "--option", "facts=false"], cwd=work, env=plan_env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 2, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"  # 2: drift (nothing applied yet)
    assert "run 1: ansible dry run, scope tag:web: completed" in done.stdout, done.stdout
    assert re.search(r"^plan 1: \d+ item\(s\) for 1 target\(s\)$", done.stdout, re.M), done.stdout
    assert re.search(r"^[+~] \[web01\] Write the message of the day \(planned\)$", done.stdout, re.M)
    assert not (tmp_path / "root").exists()  # a plan changes nothing
