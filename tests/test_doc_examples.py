"""Every command and URL example in README.md and docs/*.md runs against a live demo instance.

The convention the docs follow (and this test enforces):

* Shell commands stand in ```` ```sh ```` blocks, one command per line, without a prompt;
  ``#`` starts a comment, a trailing ``\\`` continues the line. Each block runs, line by line,
  with ``bash`` in a scratch directory that links the repository's top-level entries (so
  ``monitoring/rules`` and ``./scripts`` resolve and written files stay out of the checkout),
  with the test database as ``DATABASE_URL``, a superuser's write token as ``$TOKEN`` and
  ``$CMDB_TOKEN``, and ``http://127.0.0.1:8000`` / ``https://cmdb.example.org`` pointing at the
  live server. A block that cannot run in a test (it starts a server for good, needs root, a
  directory server or a network to scan) is preceded by ``<!-- not-run: reason -->``.
* Request examples stand in ```` ```http ```` blocks as ``GET /path?query`` lines, or inline as
  `` `/path/?query` ``; each must answer 200 to a logged-in superuser. Inline spans with
  placeholders (``<id>``, ``…``) are descriptions, not examples, and are left alone.
* Any other fenced block (```` ``` ```` without a language, ``text``, ``json``, ``python``, …)
  holds no command: a line there that starts with ``cmdb ``, ``curl ``, ``python -m `` or
  ``GET /`` fails the test, so a new example cannot hide from it.

One test loads the demo once and runs everything; a failure lists every broken example.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.live]

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.+?)\s*-->")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
INLINE = re.compile(r"`(?:GET )?(?P<url>/[\w/.-]*/\?[^`\s]*)`")
PLACEHOLDER = re.compile(r"[<>…]|\.\.\.")
COMMAND_LIKE = re.compile(r"^\s*(cmdb |curl |python -m |GET /|\./scripts/)")


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    lines: list[str]
    not_run: str | None = None

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


@dataclass
class Examples:
    shell: list[Block] = field(default_factory=list)
    http: list[tuple[str, str]] = field(default_factory=list)  # (where, path?query)
    stray: list[str] = field(default_factory=list)  # commands outside sh/http blocks


def parse(doc: Path) -> Examples:
    """The shell blocks, request examples and misplaced commands of one Markdown file."""
    out = Examples()
    lines = doc.read_text().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            out.http += [(f"{doc.relative_to(ROOT)}:{i + 1}", u.group("url")) for u in INLINE.finditer(lines[i])
                         if not PLACEHOLDER.search(u.group("url"))]
            i += 1
            continue
        start, lang = i, m.group("lang")
        end = start + 1
        while not lines[end].startswith("```"):
            end += 1
        body = lines[start + 1:end]
        marker = None
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        if before >= 0 and (n := NOT_RUN.search(lines[before])):
            marker = n.group("reason")
        block = Block(doc, start + 1, lang, body, marker)
        if lang == "sh":
            out.shell.append(block)
        elif lang == "http":
            for k, text in enumerate(body):
                text = text.split("#", 1)[0].strip()
                if text:
                    assert text.startswith("GET /"), f"{block.where}: an http block holds only GET lines: {text!r}"
                    if marker is None:
                        out.http.append((f"{block.where}+{k + 1}", text[4:].strip()))
        else:
            out.stray += [f"{block.where}+{k + 1}: {t.strip()}" for k, t in enumerate(body) if COMMAND_LIKE.match(t)]
        i = end + 1
    return out


def commands(block: Block) -> list[str]:
    """The block's commands: comments dropped, continuation lines joined."""
    out, pending = [], ""
    for raw in block.lines:
        line = raw.rstrip()
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        command = _strip_comment(line)
        if command.strip():
            out.append(command.strip())
    return out


def _strip_comment(line: str) -> str:
    """``cmd arg   # note`` → ``cmd arg``: a ``#`` that starts a word outside quotes starts a comment."""
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k].rstrip()
    return line.rstrip()


def all_examples() -> Examples:
    total = Examples()
    for doc in DOCS:
        found = parse(doc)
        total.shell += found.shell
        total.http += found.http
        total.stray += found.stray
    return total


# --- checks that need no server ----------------------------------------------------------------


def test_the_docs_follow_the_convention() -> None:
    """No command hides in a block the runner skips, and every not-run marker gives a reason."""
    found = all_examples()
    assert not found.stray, "commands outside ```sh / ```http blocks:\n" + "\n".join(found.stray)
    assert found.shell and found.http
    for block in found.shell:
        assert block.not_run is None or len(block.not_run) > 10, f"{block.where}: say why it cannot run"
        assert commands(block), f"{block.where}: an empty sh block"


def test_comment_stripping_keeps_quoted_hashes() -> None:
    block = Block(ROOT / "README.md", 1, "sh", ["echo 'a # b'   # note", "curl -d x \\", "  http://h/  # c"])
    assert commands(block) == ["echo 'a # b'", "curl -d x http://h/"]


# --- the live run ----------------------------------------------------------------------------------


@pytest.fixture
def demo(transactional_db: Any) -> Any:
    from cmdb.demo import generator

    return generator.generate()


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {"data", ".git"} and not entry.name.startswith(".venv"):
            (work / entry.name).symlink_to(entry)
    return work


def test_every_documented_example_runs(demo, live_server, superuser, make_token, client, tmp_path) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the commands run in subprocesses against the test database: PostgreSQL only")
    token = make_token(superuser, write=True)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}", "DATABASE_URL": _database_url(),
           "CMDB_DATA_DIR": str(tmp_path / "data"), "TOKEN": token, "CMDB_TOKEN": token,
           "CMDB_URL": live_server.url, "DJANGO_SETTINGS_MODULE": "cmdb.settings", "PYTHONPATH": str(ROOT)}
    work = _workdir(tmp_path)
    found = all_examples()
    failures: list[str] = []
    ran = 0
    for block in found.shell:
        if block.not_run:
            continue
        for command in commands(block):
            line = (command.replace("http://127.0.0.1:8000", live_server.url)
                    .replace("https://cmdb.example.org", live_server.url))
            proc = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=600, check=False)
            ran += 1
            if proc.returncode != 0 or "Traceback" in proc.stderr:
                failures.append(f"{block.where}: {command}\n  exit {proc.returncode}: "
                                f"{(proc.stderr or proc.stdout)[-1500:]}")
    client.force_login(superuser)
    for where, url in found.http:
        response = client.get(url)
        ran += 1
        if response.status_code != 200:
            failures.append(f"{where}: GET {url} -> {response.status_code} {response.content[:500]!r}")
    assert not failures, f"{len(failures)} of {ran} documented examples failed:\n" + "\n".join(failures)


# --- docs/api.md's endpoint table, checked against the URL configuration -------------------------------


def documented_endpoints() -> dict[str, str]:
    """``{app: the text of its row}`` from the Endpoints table of docs/api.md."""
    rows = {}
    for line in (ROOT / "docs" / "api.md").read_text().split("\n"):
        m = re.match(r"^\|\s*`(?P<app>[\w-]+)`\s*\|(?P<rest>.*)\|\s*$", line)
        if m:
            rows[m.group("app")] = m.group("rest")
    return rows


@pytest.mark.django_db
def test_api_md_lists_every_endpoint(api) -> None:
    """Every app of ``GET /api/`` and every endpoint of ``GET /api/<app>/`` is named in docs/api.md,
    and the table names no app the API does not have: the list is read from the URL configuration,
    so it cannot drift."""
    documented = documented_endpoints()
    root = api.get("/api/").json()
    apps = {name for name, url in root.items() if url.rstrip("/").endswith(f"/api/{name}")
            and name not in {"status", "schema", "docs", "redoc"}}
    missing = []
    for app in sorted(apps):
        if app not in documented:
            missing.append(f"app {app}")
            continue
        answer = api.get(f"/api/{app}/")
        assert answer.status_code == 200, app
        text = documented[app]
        words = set(re.findall(r"[\w-]+", text)) | {w.strip("/") for w in re.findall(r"[\w][\w/-]*", text)}
        missing += [f"{app}/{endpoint}" for endpoint in answer.json() if endpoint not in words]
    assert not missing, "docs/api.md's Endpoints table misses: " + ", ".join(missing)
    assert not set(documented) - apps - {"app"}, f"documented apps the API lacks: {set(documented) - apps}"
