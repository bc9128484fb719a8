"""REST API benchmark against PostgreSQL and the production server, compared with NetBox.

Creates (or recreates) the PostgreSQL database ``cmdb_bench``, migrates it,
bulk-loads 5,000 devices (4 interfaces and a primary IPv4 each) and 2,000
VMs, starts ``cmdb serve`` with 2 gunicorn workers on a free port of
127.0.0.1 and times NetBox's benchmark requests (see "NetBox on this class
of machine" in API-CONTRACT.md). Prints a table and writes it to
``benchmarks/results/api.md``; stops the server and drops the database at
the end unless ``--keep``.

Run from the repository root::

    .venv/bin/python -m benchmarks.api            # full run, several minutes
    .venv/bin/python -m benchmarks.api --devices 500 --vms 200 --requests 10   # quick look
    .venv/bin/python -m benchmarks.api --only bulkdelete   # one row; updates only that row of the results
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "api.md"

#: NetBox 4.x on a 2-core machine, from API-CONTRACT.md: scenario -> (p50 ms, req/s).
NETBOX: dict[str, tuple[float | None, float | None]] = {
    "limit50": (300, 3.0),
    "limit1000": (1650, 0.6),
    "brief1000": (300, 2.9),
    "one": (220, 3.8),
    "filtered": (250, 3.4),
    "vms1000": (800, 1.0),
    "patch": (320, 2.7),
    "concurrent": (None, 0.33),
    # Side by side with NetBox 4.4.10 on this machine class (API-CONTRACT.md): p50 201 ms, so ~5 req/s.
    "graphql1000": (201, 5.0),
}
NETBOX_BULK_PER_S = (5.6, 7.5)
#: Bulk DELETE of devices, 100 per request, side by side with NetBox 4.4.10 on this machine class (issue 14).
NETBOX_DELETE_PER_S = 1.0
DELETE_GOAL_PER_S = 100  # goal: >= 100x NetBox
READ_FACTOR = 5  # goal: >= 5x NetBox's req/s on every read and PATCH
BULK_GOAL_PER_S = 400  # goal: >= 50x NetBox (~8 objects/s)
RSS_GOAL_MB = 250
NETBOX_RSS = "115–206 MB fresh, 314–353 MB after the read benchmarks, 460 MB after the bulk POSTs"


# --- measurements -----------------------------------------------------------------------------


@dataclass
class Result:
    key: str
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0  # seconds for all measured requests
    nbytes: int = 0  # size of one response body
    objects: int = 0  # objects written (bulk POST) or deleted (bulk DELETE)
    queries: float | None = None  # SQL statements per object, counted in-process (bulk DELETE)
    note: str = ""

    @property
    def n(self) -> int:
        return len(self.latencies)

    def pct(self, q: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    @property
    def rps(self) -> float:
        return self.n / self.wall if self.wall else 0.0

    @property
    def objects_per_s(self) -> float:
        return self.objects / self.wall if self.wall else 0.0


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.session = self.new_session()

    def new_session(self) -> requests.Session:
        s = requests.Session()
        s.headers.update(self.headers)
        s.trust_env = False  # never go through a proxy: 127.0.0.1 only
        return s

    def call(self, method: str, path: str, session: requests.Session | None = None, **kw: Any) -> requests.Response:
        r = (session or self.session).request(method, self.base + path, timeout=600, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r


def timed(fn: Callable[[], requests.Response]) -> tuple[float, requests.Response]:
    t = time.perf_counter()
    r = fn()
    _ = r.content  # the whole body is read
    return time.perf_counter() - t, r


def sequential(key: str, label: str, n: int, warmup: int, fn: Callable[[int], requests.Response]) -> Result:
    for i in range(warmup):
        fn(-1 - i)
    res = Result(key, label)
    start = time.perf_counter()
    for i in range(n):
        elapsed, r = timed(lambda i=i: fn(i))
        res.latencies.append(elapsed)
        res.nbytes = len(r.content)
    res.wall = time.perf_counter() - start
    return res


def concurrent(key: str, label: str, client: Client, path: str, clients: int, n: int) -> Result:
    """``clients`` threads, each with its own connection, ``n`` requests in total."""
    res = Result(key, label)
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def worker(count: int) -> None:
        session = client.new_session()
        try:
            client.call("GET", path, session)  # warm-up, also opens the connection
            barrier.wait()
            for _ in range(count):
                elapsed, r = timed(lambda: client.call("GET", path, session))
                with lock:
                    res.latencies.append(elapsed)
                    res.nbytes = len(r.content)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.abort()

    share = [n // clients + (1 if k < n % clients else 0) for k in range(clients)]
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in share]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in threads:
        th.join()
    res.wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return res


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_admin(args: argparse.Namespace) -> psycopg.Connection:
    return psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres",
                           autocommit=True)


def recreate_database(args: argparse.Namespace) -> None:
    with pg_admin(args) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db_name)))


def analyze_database(args: argparse.Namespace) -> None:
    """Refresh the planner statistics after the bulk load, as autovacuum would within a minute."""
    with psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=args.db_name,
                         autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def drop_database(args: argparse.Namespace) -> None:
    with pg_admin(args) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name)))


def server_version(args: argparse.Namespace) -> str:
    with pg_admin(args) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return row[0] if row else "?"


def cmdb_command() -> list[str]:
    script = Path(sys.executable).parent / "cmdb"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cmdb.cli"]


def run_step(title: str, cmd: list[str], env: dict[str, str]) -> float:
    print(f"- {title} ...", flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{title} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print(f"  done in {elapsed:.1f} s", flush=True)
    return elapsed


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    cmd = [*cmdb_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> float:
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(base + "/api/status/", timeout=5).status_code in (200, 401, 403):
                return time.perf_counter() - t
        time.sleep(0.25)
    raise RuntimeError(f"server not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # gunicorn master: graceful shutdown of its workers
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if path.exists():
        return [int(p) for p in path.read_text().split()]
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_rss(server_pid: int) -> list[float]:
    out = []
    for pid in children(server_pid):
        with contextlib.suppress(OSError):
            out.append(rss_mb(pid))
    return sorted(out)


# --- the run -----------------------------------------------------------------------------------


#: Every scenario, in the order they run; ``--only`` picks some.
SCENARIOS = ("limit50", "limit1000", "brief1000", "one", "filtered", "vms1000", "graphql1000", "concurrent",
             "schema", "patch", "bulk", "bulkdelete")


def benchmark(args: argparse.Namespace, env: dict[str, str], info: dict[str, Any], base: str,
              server: subprocess.Popen) -> tuple[list[Result], dict[str, list[float]]]:
    client = Client(base, info["token"])
    n, w = args.requests, args.warmup
    results: list[Result] = []
    only = set(args.only or SCENARIOS)

    def want(key: str) -> bool:
        return key in only
    deadline = time.perf_counter() + 20
    while len(children(server.pid)) < args.workers and time.perf_counter() < deadline:
        time.sleep(0.2)  # the server answers as soon as its first worker is up
    rss: dict[str, list[float]] = {"fresh": worker_rss(server.pid)}

    def get(key: str, label: str, path: str, count: int | None = None) -> Result | None:
        if not want(key):
            return None
        print(f"- {label} ...", flush=True)
        res = sequential(key, label, count or n, w, lambda i: client.call("GET", path))
        print(f"  p50 {res.pct(0.5):.1f} ms, p95 {res.pct(0.95):.1f} ms, {res.rps:.1f} req/s, "
              f"{res.nbytes / 1024:.0f} KiB", flush=True)
        results.append(res)
        return res

    dev = "/api/dcim/devices/"
    get("limit50", "GET devices `limit=50`", f"{dev}?limit=50")
    get("limit1000", "GET devices `limit=1000`", f"{dev}?limit=1000")
    get("brief1000", "GET devices `brief=1&limit=1000`", f"{dev}?brief=1&limit=1000")
    get("one", "GET one device", f"{dev}{info['sample_device_id']}/")
    flt = f"site={info['site']['slug']}&role={info['role']['slug']}&status=active"
    r = get("filtered", "GET devices filtered by site, role, status", f"{dev}?{flt}")
    if r is not None:
        r.note = f"{info['filtered_count']:,} of {info['counts']['devices']:,} devices match; default page of 50"
    get("vms1000", "GET virtual machines `limit=1000`", "/api/virtualization/virtual-machines/?limit=1000")

    if want("graphql1000"):
        label, query = "GraphQL: 1,000 devices (name, serial, site)", {
            "query": "{ device_list(pagination: {limit: 1000}) { name serial site { name } } }"}
        print(f"- {label} ...", flush=True)
        answer = client.call("POST", "/graphql/", json=query).json()
        if "errors" in answer or len(answer["data"]["device_list"]) != min(1000, info["counts"]["devices"]):
            raise RuntimeError(f"GraphQL answered {str(answer)[:300]}")
        res = sequential("graphql1000", label, n, w, lambda i: client.call("POST", "/graphql/", json=query))
        res.note = f"POST /graphql/; each answer has {len(answer['data']['device_list'])} devices (checked)"
        print(f"  p50 {res.pct(0.5):.1f} ms, p95 {res.pct(0.95):.1f} ms, {res.rps:.1f} req/s", flush=True)
        results.append(res)

    if want("concurrent"):
        print(f"- {args.clients} concurrent clients, GET devices `limit=1000` ...", flush=True)
        res = concurrent("concurrent", f"GET devices `limit=1000`, {args.clients} concurrent clients", client,
                         f"{dev}?limit=1000", args.clients, max(n, args.clients * 5))
        print(f"  p50 {res.pct(0.5):.1f} ms, {res.rps:.1f} req/s", flush=True)
        results.append(res)

    if want("schema"):
        print("- GET /api/schema/?format=json ...", flush=True)
        first, body = timed(lambda: client.call("GET", "/api/schema/?format=json"))
        schema = sequential("schema", "GET `/api/schema/?format=json` (cached)", min(n, 20), 0,
                            lambda i: client.call("GET", "/api/schema/?format=json"))
        schema.note = (f"first request {first * 1000:.0f} ms (the server renders the schema once at start-up); "
                       f"{len(body.content) / 1024:.0f} KiB")
        print(f"  first {first * 1000:.1f} ms, then p50 {schema.pct(0.5):.1f} ms", flush=True)
        results.append(schema)

    if only & {"limit50", "limit1000", "brief1000", "one", "filtered", "vms1000", "graphql1000", "concurrent"}:
        rss["after reads"] = worker_rss(server.pid)

    if want("patch"):
        print("- PATCH one device ...", flush=True)
        target = f"{dev}{info['sample_device_id']}/"
        patch = sequential("patch", "PATCH one device", n, w,
                           lambda i: client.call("PATCH", target, json={"description": f"benchmark patch {i}"}))
        print(f"  p50 {patch.pct(0.5):.1f} ms, p95 {patch.pct(0.95):.1f} ms, {patch.rps:.1f} req/s", flush=True)
        results.append(patch)

    if want("bulk"):
        bulk_post(args, client, info, results)
        rss["after bulk POSTs"] = worker_rss(server.pid)
    if want("bulkdelete"):
        results.append(bulk_delete(args, env, client, info))
        rss["after bulk DELETEs"] = worker_rss(server.pid)
    return results, rss


def bulk_post(args: argparse.Namespace, client: Client, info: dict[str, Any], results: list[Result]) -> None:
    dev = "/api/dcim/devices/"
    print(f"- bulk POST {args.bulk_requests} x {args.bulk_size} devices ...", flush=True)
    types, roles, sites = info["device_type_ids"], info["role_ids"], info["site_ids"]

    run = int(time.time()) % 1_000_000  # unique names and serials, also with --reuse

    def payload(batch: int, size: int) -> list[dict[str, Any]]:
        return [
            {"name": f"bulk-{run}-{batch}-{k:04d}", "device_type": types[k % len(types)], "role": roles[k % len(roles)],
             "site": sites[k % len(sites)], "status": "planned", "serial": f"BULK{run}-{batch}-{k}"}
            for k in range(size)
        ]

    warm = payload(0, 10)
    client.call("POST", dev, json=warm)
    bulk = Result("bulk", f"bulk POST devices ({args.bulk_size} per request, with interfaces)")
    start = time.perf_counter()
    for b in range(1, args.bulk_requests + 1):
        body = payload(b, args.bulk_size)
        elapsed, r = timed(lambda body=body: client.call("POST", dev, json=body))
        created = r.json()
        if len(created) != len(body):
            raise RuntimeError(f"bulk POST created {len(created)} of {len(body)}")
        bulk.latencies.append(elapsed)
        bulk.objects += len(created)
        bulk.nbytes = len(r.content)
    bulk.wall = time.perf_counter() - start
    check = client.call("GET", f"/api/dcim/interfaces/?device_id={created[0]['id']}").json()["count"]
    bulk.note = f"each new device got {check} interfaces (checked through the API)"
    print(f"  {bulk.objects_per_s:.0f} devices/s, p50 {bulk.pct(0.5):.0f} ms per request", flush=True)
    results.append(bulk)


#: Run in a child process against the benchmark's database: the statements one bulk DELETE makes,
#: through the same view, middleware and token authentication as over HTTP (the server's own
#: processes cannot count them without DEBUG).
_COUNT_DELETE = """
import json, sys
import django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
token, ids = sys.argv[1], json.loads(sys.argv[2])
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
with CaptureQueriesContext(connection) as queries:
    r = client.delete("/api/dcim/devices/", json.dumps([{"id": i} for i in ids]), content_type="application/json")
assert r.status_code == 204, (r.status_code, r.content[:500])
print(len(queries.captured_queries))
"""


def _device_ids(client: Client, count: int) -> list[int]:
    """The ids of the ``count`` most recently loaded devices (each with its interfaces and primary IPv4)."""
    ids: list[int] = []
    while len(ids) < count:
        page = client.call("GET", f"/api/dcim/devices/?brief=1&ordering=-id&limit={min(1000, count - len(ids))}"
                                  f"&offset={len(ids)}").json()
        if not page["results"]:
            break
        ids += [d["id"] for d in page["results"]]
    if len(ids) < count:
        raise RuntimeError(f"only {len(ids)} devices to delete; load more (--devices) or use fewer --delete-requests")
    return ids


def bulk_delete(args: argparse.Namespace, env: dict[str, str], client: Client, info: dict[str, Any]) -> Result:
    """Bulk DELETE on the list URL, NetBox's ``[{"id": ...}, ...]``, of loaded devices with their cascades."""
    dev, size = "/api/dcim/devices/", args.delete_size
    print(f"- bulk DELETE {args.delete_requests} x {size} devices ...", flush=True)
    ids = _device_ids(client, size * (args.delete_requests + 2))
    first = ids[0]
    interfaces = client.call("GET", f"/api/dcim/interfaces/?device_id={first}&limit=1").json()["count"]
    addresses = client.call("GET", f"/api/ipam/ip-addresses/?device_id={first}&limit=1").json()["count"]
    client.call("DELETE", dev, json=[{"id": i} for i in ids[:size]])  # warm-up
    res = Result("bulkdelete", f"bulk DELETE devices ({size} per request, with interfaces and addresses)")
    start = time.perf_counter()
    for b in range(1, args.delete_requests + 1):
        batch = ids[b * size : (b + 1) * size]
        elapsed, r = timed(lambda batch=batch: client.call("DELETE", dev, json=[{"id": i} for i in batch]))
        if r.status_code != 204:
            raise RuntimeError(f"bulk DELETE answered {r.status_code}")
        res.latencies.append(elapsed)
        res.objects += len(batch)
    res.wall = time.perf_counter() - start
    gone = client.call("GET", f"/api/dcim/devices/?id={ids[size]}&id={ids[-size - 1]}").json()["count"]
    if gone:
        raise RuntimeError("deleted devices are still listed")
    last = ids[-size:]
    out = subprocess.run([sys.executable, "-c", _COUNT_DELETE, info["token"], json.dumps(last)], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=600)
    statements = int(out.stdout.strip().splitlines()[-1])
    res.queries = statements / size
    res.note = (f"each device had {interfaces} interfaces and {addresses} IP address(es), deleted with it, one change "
                f"record per deleted object; one more batch of {size}, deleted in-process through the same view, made "
                f"{statements} SQL statements ({res.queries:.2f} per device); NetBox 4.4.10, measured side by side on "
                f"this machine class: {NETBOX_DELETE_PER_S} device/s; goal ≥ {DELETE_GOAL_PER_S} devices/s")
    print(f"  {res.objects_per_s:.0f} devices/s, p50 {res.pct(0.5):.0f} ms per request, "
          f"{statements} statements per request of {size}", flush=True)
    return res


# --- report ------------------------------------------------------------------------------------


def fmt_ms(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.0f} ms" if v >= 100 else f"{v:.1f} ms"


def fmt_rate(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def table(results: list[Result], rss: dict[str, list[float]]) -> list[list[str]]:
    head = ["request", "NetBox p50", "NetBox req/s", "CMDB p50", "CMDB p95", "CMDB req/s", "× NetBox", "goal",
            "met"]
    rows = [head]
    for r in results:
        nb_p50, nb_rps = NETBOX.get(r.key, (None, None))
        if r.key == "bulkdelete":
            rate = r.objects_per_s
            queries = f", {r.queries:.2f} queries/dev" if r.queries is not None else ""
            rows.append([r.label, "", f"{NETBOX_DELETE_PER_S} dev/s", fmt_ms(r.pct(0.5)), fmt_ms(r.pct(0.95)),
                         f"{rate:,.0f} dev/s{queries}", f"{rate / NETBOX_DELETE_PER_S:,.0f}×",
                         f"≥ {DELETE_GOAL_PER_S} dev/s", "yes" if rate >= DELETE_GOAL_PER_S else "NO"])
            continue
        if r.key == "bulk":
            lo, hi = NETBOX_BULK_PER_S
            rate = r.objects_per_s
            rows.append([r.label, "", f"{lo}–{hi} dev/s", fmt_ms(r.pct(0.5)), fmt_ms(r.pct(0.95)),
                         f"{rate:,.0f} dev/s", f"{rate / hi:,.0f}×", f"> {BULK_GOAL_PER_S} dev/s",
                         "yes" if rate > BULK_GOAL_PER_S else "NO"])
            continue
        if nb_rps is None:
            rows.append([r.label, "", "", fmt_ms(r.pct(0.5)), fmt_ms(r.pct(0.95)), fmt_rate(r.rps), "", "", ""])
            continue
        goal = nb_rps * READ_FACTOR
        goal_text = f"≥ {goal:.1f} req/s" + (f", p50 < {nb_p50 / READ_FACTOR:.0f} ms" if nb_p50 else "")
        rows.append([r.label, fmt_ms(nb_p50), f"{nb_rps}", fmt_ms(r.pct(0.5)), fmt_ms(r.pct(0.95)), fmt_rate(r.rps),
                     f"{r.rps / nb_rps:,.1f}×", goal_text, "yes" if r.rps >= goal else "NO"])
    for stage, values in rss.items():
        text = ", ".join(f"{v:.0f}" for v in values) or "?"
        ok = bool(values) and max(values) < RSS_GOAL_MB
        rows.append([f"worker RSS {stage} (MB)", "", "", text, "", "", "", f"< {RSS_GOAL_MB} MB",
                     "yes" if ok else "NO"])
    return rows


def render_text(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in
                                                            range(len(rows[0]))) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return "\n".join(out)


def machine(args: argparse.Namespace) -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "postgresql": server_version(args), "os": platform.platform()}


def write_markdown(path: Path, rows: list[list[str]], results: list[Result], info: dict[str, Any],
                   mach: dict[str, str], args: argparse.Namespace, setup: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = info["counts"]
    notes = [f"- {r.label}: {r.note}" for r in results if r.note]
    text = [
        "# REST API benchmark",
        "",
        f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}  ",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memory']} RAM, {mach['os']}  ",
        f"Python {mach['python']}, PostgreSQL {mach['postgresql']} on 127.0.0.1, `cmdb serve --workers "
        f"{args.workers}` (gunicorn, sync workers), no Redis  ",
        f"Data: {counts['devices']:,} devices, {counts['interfaces']:,} interfaces, "
        f"{counts['ip_addresses']:,} IP addresses, {counts['virtual_machines']:,} VMs, "
        f"{counts['change_records']:,} change records (before the bulk POSTs)  ",
        f"Requests: {args.requests} per read scenario after {args.warmup} warm-up requests, one client at a time "
        f"unless noted; bulk POST {args.bulk_requests} × {args.bulk_size} devices.  ",
        (f"Set-up: reused the database of an earlier run (`--reuse`); server ready in {setup['ready']:.1f} s.  "
         if args.reuse else
         f"Set-up: migrate {setup['migrate']:.1f} s, bulk load {setup['bulk_load']:.1f} s (then VACUUM ANALYZE), "
         f"server ready in {setup['ready']:.1f} s.  "),
        f"Load average (1 min) when the measurements started: {setup['load']:.2f}, when they ended: "
        f"{setup['load_after']:.2f} on {mach['nproc']} CPUs (the benchmark itself, client, workers and PostgreSQL, "
        "keeps it near 1–2; more means other work was running and inflated the figures).",
        "",
        "Command: `" + " ".join([".venv/bin/python -m benchmarks.api", *sys.argv[1:]]) + "`",
        "",
        render_markdown(rows),
        "",
        "NetBox figures (NetBox 4.x, 2 gunicorn workers, PostgreSQL and Redis on the same 2-core machine) are from "
        "`API-CONTRACT.md`; NetBox worker RSS there: " + NETBOX_RSS + ". Goal: ≥ 5× NetBox's req/s on every "
        "read and PATCH, > 400 devices/s on bulk create (≥ 50×), ≥ 100 devices/s on bulk delete (≥ 100× NetBox "
        "4.4.10's 1.0 device/s, measured side by side on this machine class), worker RSS < 250 MB.",
        "",
        *notes,
        "",
    ]
    path.write_text("\n".join(text))


def update_markdown(path: Path, rows: list[list[str]], results: list[Result], mach: dict[str, str],
                    args: argparse.Namespace, setup: dict[str, float]) -> None:
    """Replace (or add, before the RSS rows) the table rows of the scenarios run with ``--only``; keep the rest.

    A note under the table says when and how those rows were measured, since the header
    describes the run that measured the others.
    """
    lines = path.read_text().splitlines()
    measured = {row[0]: render_markdown([rows[0], row]).splitlines()[-1] for row in rows[1:]
                if not row[0].startswith("worker RSS")}
    table_rows = [i for i, line in enumerate(lines) if line.startswith("| ")]
    out: list[str] = []
    for i, line in enumerate(lines):
        label = line[2:].split(" | ", 1)[0] if line.startswith("| ") else None
        if label in measured:
            out.append(measured.pop(label))
            continue
        if label is not None and label.startswith("worker RSS") and measured:
            out.extend(measured.values())
            measured.clear()
        out.append(line)
        if table_rows and i == table_rows[-1] and measured:
            out.extend(measured.values())
            measured.clear()
    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    command = " ".join([".venv/bin/python -m benchmarks.api", *sys.argv[1:]])
    labels = ", ".join(r.label for r in results)
    note = (f"- {labels}: measured on its own on {stamp} (`{command}`; {mach['nproc']} CPUs, the same data set "
            f"size; load average {setup['load']:.2f} before, {setup['load_after']:.2f} after)")
    notes = [f"- {r.label}: {r.note}" for r in results if r.note]
    out = [line for line in out if not any(line.startswith(f"- {r.label}:") for r in results)]
    while out and not out[-1].strip():
        out.pop()
    path.write_text("\n".join([*out, note, *notes, ""]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.api",
        description=__doc__.split("\n\n")[0],
        epilog="Needs PostgreSQL on 127.0.0.1 with trust auth for the given user; talks HTTP only to 127.0.0.1. "
               "Numbers vary with the machine: compare runs on the same host.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--devices", type=int, default=5000, help="devices to load (4 interfaces + 1 IPv4 each)")
    p.add_argument("--vms", type=int, default=2000, help="virtual machines to load (1 interface + 1 IPv4 each)")
    p.add_argument("--requests", type=int, default=50, help="measured requests per read/PATCH scenario")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured requests before each scenario")
    p.add_argument("--clients", type=int, default=4, help="threads for the concurrent limit=1000 run")
    p.add_argument("--bulk-requests", type=int, default=4, help="bulk POST requests")
    p.add_argument("--bulk-size", type=int, default=500, help="devices per bulk POST request")
    p.add_argument("--delete-requests", type=int, default=5, help="measured bulk DELETE requests")
    p.add_argument("--delete-size", type=int, default=100, help="devices per bulk DELETE request")
    p.add_argument("--only", type=lambda v: [k.strip() for k in v.split(",") if k.strip()], metavar="KEYS",
                   help=f"run only these scenarios (comma-separated: {', '.join(SCENARIOS)}) and update only their "
                        "rows in --output, keeping the others")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--pg-host", default="127.0.0.1", help="PostgreSQL host (trust auth)")
    p.add_argument("--pg-port", type=int, default=5432, help="PostgreSQL port")
    p.add_argument("--pg-user", default="postgres", help="PostgreSQL user allowed to create databases")
    p.add_argument("--db-name", default="cmdb_bench", help="database to (re)create; DROPPED at start and end")
    p.add_argument("--keep", action="store_true",
                   help="keep the database and the data folder (for profiling; the token is in bench.json there)")
    p.add_argument("--reuse", type=Path, metavar="DATA_DIR",
                   help="skip create/migrate/load: reuse a database and data folder left by --keep")
    p.add_argument("--output", type=Path, default=RESULTS, help="markdown result file")
    args = p.parse_args(argv)
    unknown = sorted(set(args.only or ()) - set(SCENARIOS))
    if unknown:
        p.error(f"--only: unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = args.reuse or Path(tempfile.mkdtemp(prefix="cmdb-bench-"))
    db_url = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db_name}"
    env = {**os.environ, "DATABASE_URL": db_url, "CMDB_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "cmdb.settings", "DEBUG": "0", "CMDB_ACCESS_LOG": ""}
    env.pop("REDIS_URL", None)
    info_file = data_dir / "bench.json"
    server: subprocess.Popen | None = None
    setup = {"migrate": 0.0, "bulk_load": 0.0, "ready": 0.0, "load": 0.0, "load_after": 0.0}
    print(f"CMDB API benchmark: database {args.db_name}, data folder {data_dir}", flush=True)
    try:
        if args.reuse:
            info = json.loads(info_file.read_text())
        else:
            recreate_database(args)
            setup["migrate"] = run_step("cmdb migrate", [*cmdb_command(), "migrate", "--noinput", "-v", "0"], env)
            setup["bulk_load"] = run_step(
                f"bulk load {args.devices} devices, {args.vms} VMs",
                [sys.executable, "-m", "benchmarks.load", "--devices", str(args.devices), "--vms", str(args.vms),
                 "--out", str(info_file)], env)
            info = json.loads(info_file.read_text())
            print(f"  loaded {info['counts']}; load timings (s): {info['timings']}", flush=True)
            analyze_database(args)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        print(f"- starting cmdb serve on {base} with {args.workers} workers ...", flush=True)
        server = start_server(env, port, args.workers, data_dir / "server.log")
        setup["ready"] = wait_ready(base, server, data_dir / "server.log")
        print(f"  ready in {setup['ready']:.1f} s", flush=True)
        load_before = os.getloadavg()
        results, rss = benchmark(args, env, info, base, server)
        setup["load"] = load_before[0]
        setup["load_after"] = os.getloadavg()[0]
        rows = table(results, rss)
        print()
        print(render_text(rows))
        print(f"\nload average (1 min): {setup['load']:.2f} before, {setup['load_after']:.2f} after the measurements")
        for stage, values in rss.items():
            print(f"worker RSS {stage}: {', '.join(f'{v:.1f} MB' for v in values)}")
        for r in results:
            if r.note:
                print(f"note: {r.label}: {r.note}")
        if args.only and args.output.exists():
            update_markdown(args.output, rows, results, machine(args), args, setup)
        else:
            write_markdown(args.output, rows, results, info, machine(args), args, setup)
        print(f"\nwritten to {args.output}")
    finally:
        if server is not None:
            stop_server(server)
        if args.keep or args.reuse:
            print(f"kept: DATABASE_URL={db_url} CMDB_DATA_DIR={data_dir} (token in {info_file}); "
                  f"rerun with --reuse {data_dir}")
        else:
            with contextlib.suppress(psycopg.Error):
                drop_database(args)
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
