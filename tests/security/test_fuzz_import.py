"""Property-based fuzzing of the web UI's CSV, JSON and YAML import (Hypothesis).

Rows for devices, virtual machines, IP addresses, tenants and contacts start from values the
import takes (related objects by slug, name or ID, tags as a list or comma-separated text) and are
then spoiled the ways spreadsheets, scripts and attackers spoil them: numbers for dates and
names, ``1e309`` and NaN, integers beyond 64 bits, NUL characters, lone UTF-16 surrogates,
lists and objects for scalars, values longer than their column, white space, unknown and
duplicate columns, CSV quoting accidents, a byte-order mark, files that are not UTF-8.  Each
import is previewed and applied, as a superuser or as tenant A's administrator, and:

* no request causes a server error;
* the preview writes nothing, and an apply that fails writes nothing (rows of the model, change
  records, CI registry rows, tag links are counted before and after);
* a preview without errors means the apply succeeds, and the rows the preview did not fault,
  imported on their own, are accepted as well (the finding "the preview said the row was fine");
* what is stored is what was given, after the documented conversions (cmdb/ui/importvalues.py:
  text stripped, whole numbers as their digits, dates from ``YYYY-MM-DD``...); a list given for a
  name is refused, never stored as ``"['x']"``;
* tenant A's administrator creates nothing outside tenant A.

Every example runs in a savepoint that is rolled back, so examples do not see each other's rows.
CI runs a bounded, derandomized set (``HYPOTHESIS_EXAMPLES``, default 100: the same examples on
every run, so the build is deterministic and a failure replays); ``HYPOTHESIS_EXAMPLES=2000
HYPOTHESIS_RANDOM=1`` hunts longer with fresh examples.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import netaddr
import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from cmdb.core.models import ConfigurationItem, ObjectChange
from cmdb.dcim.models import Device
from cmdb.extras.models import Tag
from cmdb.ipam.models import IPAddress
from cmdb.tenancy.models import Contact, Tenant
from cmdb.ui import exchange
from cmdb.virtualization.models import VirtualMachine

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "100"))
RANDOM = os.environ.get("HYPOTHESIS_RANDOM") == "1"
NO_SHRINK = os.environ.get("HYPOTHESIS_NO_SHRINK") == "1"  # a long hunt: report the first failure as found

# --- values -----------------------------------------------------------------------------------------------------

plain = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=10)
unicode_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=20)
poison = st.tuples(plain, st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d"]), st.text(max_size=3)).map("".join)
huge = st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**25), 32767, 32768, 2**31])
spaced = plain.map(lambda t: f"  {t}\t ")
hostile = st.one_of(
    poison, huge, spaced, st.integers(-1000, 10**6),
    st.sampled_from([math.inf, -math.inf, math.nan, 1.5, 0.0, -0.0, 20240101, True, False, None, "", " ",
                     "²", "١٢", "+7", "0x1f", "1e3", "2024-02-30", "2024-13-01", "31.12.2024", "2024-01-01T10:00",
                     "0001-01-01", "9999-12-31", "yes", "null", "None", "[]", "{}", "'quoted'", '"dq"', "a,b",
                     "line\nbreak", "tab\there", "İ" * 64, "ǅ" * 65]),
    st.lists(plain, max_size=2), st.lists(st.lists(plain, max_size=1), max_size=1),
    st.dictionaries(plain, plain, max_size=1), st.builds(lambda n: "x" * n, st.sampled_from([51, 65, 101, 201, 256])),
    unicode_text,
)


def rarely(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], one_in: int = 4) -> st.SearchStrategy[Any]:
    return st.integers(1, one_in).flatmap(lambda n: odd if n == 1 else usual)


dates = st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)).map(lambda d: d.isoformat())
choice = st.sampled_from
tags = st.one_of(st.just(""), choice(["red", "blue", "red,blue", " red , blue "]), st.lists(choice(["red", "blue"]),
                                                                                              max_size=2, unique=True))


@dataclass
class Spec:
    """One importable model: its URL, the columns a clean row has, and how it is tenanted."""

    model: type[models.Model]
    url: str
    columns: dict[str, st.SearchStrategy[Any]]
    required: tuple[str, ...]
    tenanted: bool = True


def _name(prefix: str) -> st.SearchStrategy[str]:
    return st.one_of(plain.map(lambda t: f"{prefix}-{t}"), unicode_text.map(lambda t: f"{prefix}-{t}"[:60]))


SPECS = [
    Spec(Device, "/dcim/devices/import/", {
        "name": _name("dev"), "device_type": choice(["poweredge-r650", "{dtype}"]),
        "role": choice(["server"]), "site": choice(["zittau", "{site}"]),
        "status": choice(["active", "planned", "maintenance"]), "serial": st.one_of(plain, st.integers(0, 10**12)),
        "tenant": choice(["faculty-a", "faculty-a", "faculty-b"]), "purchase_date": dates, "warranty_end": dates,
        "description": unicode_text, "comments": unicode_text, "tags": tags,
        "criticality": choice(["low", "high"]),
    }, ("name", "device_type", "role", "site")),
    Spec(VirtualMachine, "/virtualization/virtual-machines/import/", {
        "name": _name("vm"), "cluster": choice(["zittau-prod", "{cluster}"]), "status": choice(["active", "planned"]),
        "vcpus": st.one_of(st.integers(1, 64), choice(["2", "1.5", "0.25"])), "memory": st.integers(0, 10**6),
        "disk": st.one_of(st.integers(0, 10**5), st.integers(0, 10**5).map(str)), "tenant": choice(["faculty-a"]),
        "serial": plain, "description": unicode_text, "tags": tags,
    }, ("name", "cluster")),
    Spec(IPAddress, "/ipam/ip-addresses/import/", {
        "address": st.tuples(st.integers(0, 255), st.integers(1, 254), choice([24, 32])).map(
            lambda t: f"10.77.{t[0]}.{t[1]}/{t[2]}"),
        "status": choice(["active", "reserved", "dhcp"]), "role": choice(["", "vip", "anycast"]),
        "dns_name": plain.map(lambda t: f"{t.lower()}.example"), "tenant": choice(["faculty-a", "{tenant_a}"]),
        "interface": choice(["", "{iface_a}"]), "description": unicode_text, "tags": tags,
    }, ("address",)),
    Spec(Tenant, "/tenancy/tenants/import/", {
        "name": _name("ten"), "slug": plain.map(lambda t: f"ten-{t.lower()}"), "description": unicode_text,
        "comments": unicode_text, "tags": tags,
    }, ("name", "slug"), tenanted=False),
    Spec(Contact, "/tenancy/contacts/import/", {
        "name": _name("con"), "title": unicode_text, "phone": st.one_of(plain, st.integers(0, 10**9)),
        "email": plain.map(lambda t: f"{t}@example.org"), "address": unicode_text,
        "link": plain.map(lambda t: f"https://example.org/{t}"), "tenant": choice(["faculty-a"]),
        "description": unicode_text, "tags": tags,
    }, ("name",)),
]


@st.composite
def rows(draw: Any, spec: Spec) -> list[dict[str, Any]]:
    """One to three rows: clean ones, then some values spoiled, columns dropped or unknown ones added."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        row = {}
        for name, values in spec.columns.items():
            if name in spec.required or draw(st.integers(0, 2)):
                row[name] = draw(values)
        for _ in range(draw(choice([0, 0, 1, 1, 2]))):
            how = draw(choice(["spoil", "spoil", "spoil", "drop", "unknown"]))
            key = draw(choice(sorted(row))) if row else None
            if how == "spoil" and key:
                row[key] = draw(hostile)
            elif how == "drop" and key:
                row.pop(key)
            elif how == "unknown":
                row[draw(st.one_of(plain, poison, choice(["id", "ID", "Name", " name", "tags "])))] = draw(hostile)
        out.append(row)
    return out


# --- serialising rows as a user's file would hold them ---------------------------------------------------------

def to_json(rows: list[dict[str, Any]]) -> str:
    # Non-finite numbers as the literals a client may send: 1e309 parses as infinity; NaN is accepted by Python.
    return json.dumps(rows, ensure_ascii=True).replace("-Infinity", "-1e309").replace("Infinity", "1e309")


def to_yaml(rows: list[dict[str, Any]]) -> str:
    return yaml.safe_dump(rows, allow_unicode=True, sort_keys=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", "replace").decode()  # a form or file carries no lone surrogates


def to_csv(rows: list[dict[str, Any]], draw: Any) -> str:
    header = list(dict.fromkeys(_cell(k).replace("\n", " ") for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=draw(choice(["\n", "\r\n"])))
    extra = draw(choice(["", "", "", "duplicate", "quote", "short"]))
    if extra == "duplicate" and header:
        header.append(header[0])
    writer.writerow(header)
    for row in rows:
        cells = {_cell(k).replace("\n", " "): _cell(v) for k, v in row.items()}
        values = [cells.get(h, "") for h in header]
        if extra == "short" and values:
            values = values[:-1]
        writer.writerow(values)
    text = buf.getvalue()
    if extra == "quote":
        text += '"unterminated,' + "x" * 10 + "\n"
    return text


@st.composite
def imports(draw: Any) -> tuple[Spec, str, str, str, str]:
    """(spec, format, format sent, text, how): ``how`` is pasted text or an uploaded file (maybe not UTF-8)."""
    spec = draw(choice(SPECS))
    data = draw(rows(spec))
    fmt = draw(choice(["json", "json", "yaml", "csv", "csv"]))
    text = to_json(data) if fmt == "json" else to_yaml(data) if fmt == "yaml" else to_csv(data, draw)
    how = draw(choice(["paste"] * 6 + ["file", "file-bom", "file-latin1", "file-utf16"]))
    return spec, fmt, draw(choice([fmt, fmt, "auto"])), text, how


def given_rows(fmt: str, text: str) -> list[dict[str, Any]]:
    """The rows a JSON or YAML text denotes, read by the standard parsers (what the user gave)."""
    return json.loads(text) if fmt == "json" else yaml.safe_load(text)


# --- the world and the oracle -----------------------------------------------------------------------------------

@pytest.fixture
def import_world(world: Any, superuser: Any) -> Any:
    w = world
    Tag.objects.create(name="red", slug="red")
    Tag.objects.create(name="blue", slug="blue")
    w.root_web, w.a_web = Client(), Client()
    w.root_web.force_login(superuser)
    w.a_web.force_login(w.alice)
    w.refs = {"{dtype}": str(w.dtype.pk), "{site}": str(w.site.pk), "{cluster}": str(w.cluster.pk),
              "{iface_a}": str(w.srv_a.interfaces.get(name="eth0").pk), "{tenant_a}": str(w.a.pk)}
    return w


def _fill(value: Any, refs: dict[str, str]) -> Any:
    return refs.get(value, value) if isinstance(value, str) else value


def counts(model: type[models.Model]) -> tuple[int, ...]:
    through = model._meta.get_field("tags").remote_field.through if hasattr(model, "tags") else None
    return (model.objects.count(), ObjectChange.objects.count(), ConfigurationItem.objects.count(),
            through.objects.count() if through else 0)


def _post(client: Client, spec: Spec, fmt: str, text: str, how: str, action: str) -> Any:
    payload: dict[str, Any] = {"format": fmt, "action": action}
    if how == "paste":
        payload["data"] = text
    else:
        encoding = {"file": "utf-8", "file-bom": "utf-8-sig", "file-latin1": "latin-1", "file-utf16": "utf-16"}[how]
        payload["file"] = SimpleUploadedFile("rows.txt", text.encode(encoding, "replace"), content_type="text/plain")
    response = client.post(spec.url, payload)
    assert response.status_code < 500, (action, response.status_code)
    return response


def bad_lines(response: Any) -> set[int]:
    body = response.content.decode()
    if 'id="import-errors"' not in body:
        return set()
    table = body.split('id="import-errors"', 1)[1].split("</table>", 1)[0]
    return {int(n) for n in re.findall(r"<tr><td>(\d+)</td>", table)}


def _text_of(value: Any) -> Any:
    """What a text column stores for a given value (None for a value the import must refuse)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return None


def check_stored(spec: Spec, given: dict[str, Any], obj: models.Model, refs: dict[str, str]) -> None:
    """Each given column of a stored row holds the given value after the documented conversion."""
    for name, value in given.items():
        try:
            f = spec.model._meta.get_field(name) if isinstance(name, str) else None
        except Exception:
            f = None
        assert f is not None, f"an unknown column {name!r} was accepted"
        stored = getattr(obj, name) if not f.many_to_many else None
        empty = value is None or (isinstance(value, str) and not value.strip())
        if f.many_to_many:
            keys = value if isinstance(value, list) else [k for k in str(value or "").split(",")]
            assert sorted(t.slug for t in obj.tags.all()) == sorted({k.strip() for k in keys if k.strip()}), name
        elif f.is_relation:
            if empty:
                assert stored is None, name
            else:
                key = _fill(str(value).strip(), refs)
                assert key in {str(stored.pk), getattr(stored, "slug", None), getattr(stored, "name", None),
                               getattr(stored, "model", None)}, (name, value, stored)
        elif isinstance(f, (models.DateField,)):
            assert stored == (None if empty else dt.date.fromisoformat(str(value).strip())), (name, value, stored)
        elif isinstance(f, models.IntegerField):
            assert stored == (None if empty else int(str(value).strip())), (name, value, stored)
            assert not isinstance(value, float) or value.is_integer()
        elif isinstance(f, models.DecimalField):
            assert stored == (None if empty else Decimal(str(value).strip())), (name, value, stored)
        elif name == "address" and spec.model is IPAddress:
            assert stored == str(netaddr.IPNetwork(str(value).strip())), (name, value, stored)
        else:
            expected = "" if empty else _text_of(value)
            assert expected is not None, f"{name}: {type(value).__name__} was stored as {stored!r}"
            assert (stored or "") == expected, (name, value, stored)


class _Rollback(Exception):
    """Ends an example's savepoint."""


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          phases=[p for p in Phase if p is not Phase.shrink or not NO_SHRINK],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(case=imports(), as_root=st.integers(0, 2).map(lambda n: n == 0))
def test_imports_never_fail_the_server_and_preview_what_apply_does(import_world: Any, case: Any,
                                                                   as_root: bool) -> None:
    w = import_world
    spec, fmt, sent_fmt, text, how = case
    text = _fill_refs(text, w.refs)
    client = w.root_web if as_root else w.a_web
    try:
        with transaction.atomic():
            _one_import(w, spec, fmt, sent_fmt, text, how, client, as_root)
            raise _Rollback
    except _Rollback:
        pass


def _fill_refs(text: str, refs: dict[str, str]) -> str:
    for placeholder, value in refs.items():
        text = text.replace(placeholder, value)
    return text


def _one_import(w: Any, spec: Spec, fmt: str, sent_fmt: str, text: str, how: str, client: Client,
                as_root: bool) -> None:
    before_pks = set(spec.model.objects.values_list("pk", flat=True))
    before = counts(spec.model)
    preview = _post(client, spec, sent_fmt, text, how, "preview")
    assert counts(spec.model) == before, "the preview wrote something"
    applied = _post(client, spec, sent_fmt, text, how, "apply")
    event(f"{spec.model.__name__}: preview {preview.status_code}, apply {applied.status_code}")
    if preview.status_code == 200:
        assert applied.status_code == 302, ("the preview said every row was fine, the apply did not",
                                            bad_lines(applied), applied.content.decode()[-1500:])
    if applied.status_code != 302:
        assert counts(spec.model) == before, "a failed import wrote something"
        if preview.status_code == 400 and how == "paste" and fmt != "csv":
            _import_the_rows_the_preview_passed(w, spec, fmt, text, client, preview)
        return
    created = list(spec.model.objects.exclude(pk__in=before_pks).order_by("pk"))
    assert ObjectChange.objects.count() - before[1] >= len(created)
    if how in ("paste", "file", "file-bom") and fmt != "csv":
        given = given_rows(fmt, text)
        assert len(created) == len(given), (len(created), len(given))
        for row, obj in zip(given, created, strict=True):
            check_stored(spec, row, obj, w.refs)
    if not as_root and spec.tenanted:
        assert {o.tenant_id for o in created} <= {w.a.pk}, "tenant A's admin created rows outside tenant A"


def _import_the_rows_the_preview_passed(w: Any, spec: Spec, fmt: str, text: str, client: Client,
                                        preview: Any) -> None:
    """The rows without errors in the preview, imported on their own, must be accepted.

    (JSON and YAML only: there each row's line is known; a CSV row's line shifts with its quoting.)
    """
    try:
        records = exchange.parse(text, fmt)
    except exchange.ParseError:
        return  # the whole text was refused: no row was said to be fine
    data = given_rows(fmt, text)
    faulted = bad_lines(preview)
    good = [data[i] for i, rec in enumerate(records) if rec.line not in faulted]
    if not good or len(records) != len(data):
        return
    subset = json.dumps(good, ensure_ascii=True) if fmt == "json" else to_yaml(good)
    before = counts(spec.model)
    again = _post(client, spec, fmt, subset, "paste", "apply")
    assert again.status_code == 302, ("rows the preview passed were refused on their own",
                                      again.content.decode().split('id="import-errors"')[-1][:1500])
    assert counts(spec.model)[0] == before[0] + len(good)
