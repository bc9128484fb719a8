"""Bulk edit starts at "no change" and applies only what the user set (issue 14, found item 3).

The form is submitted the way a browser submits it: every value the rendered page carries
(selected options, input values), so a default preselected by the page would be sent and caught.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from cmdb.core.models import ObjectChange
from cmdb.dcim.models import Device
from tests import factories as f

pytestmark = pytest.mark.django_db

FIELDS = ("status", "criticality", "tenant_id", "role_id", "platform_id", "site_id", "cluster_id", "owner_id")


class _FormValues(HTMLParser):
    """What a browser would submit for the first POST form of a page (no button pressed)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self.in_form = False
        self.select: dict[str, Any] | None = None
        self.option: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select = {"name": a.get("name", ""), "multiple": "multiple" in a, "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self.select["options"].append(self.option)
        elif tag == "textarea":
            self.values.append((a.get("name", ""), ""))

    def handle_data(self, data: str) -> None:
        if self.option is not None and self.option["value"] is None:
            self.option["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.select is not None:
            options = self.select["options"]
            chosen = [o for o in options if o["selected"]]
            if not chosen and not self.select["multiple"] and options:
                chosen = options[:1]  # a single select without a selected option submits its first
            for o in chosen:
                value = o["value"] if o["value"] is not None else o["text"].strip()
                self.values.append((self.select["name"], value))
            self.select = None


def _browser_post_data(html: str) -> dict[str, list[str]]:
    parser = _FormValues()
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.values:
        data.setdefault(name, []).append(value)
    return data


def _state() -> dict[int, tuple[Any, ...]]:
    return {d["pk"]: (*(d[k] for k in FIELDS), d["last_updated"])
            for d in Device.objects.values("pk", "last_updated", *FIELDS)}


@pytest.fixture
def fifty(world: Any) -> list[int]:
    """50 devices whose status and criticality are not the model defaults (active, medium)."""
    pks = []
    for i in range(50):
        d = f.device(f"bulk{i:02}", at=world.goerlitz, dtype=world.r650, as_role=world.server,
                     status=("planned", "maintenance", "retired")[i % 3], criticality=("high", "low")[i % 2],
                     tenant=world.tenant_b if i % 2 else None, platform=world.debian if i % 5 == 0 else None)
        pks.append(d.pk)
    return pks


def _choose(client: Any, pks: list[int]) -> dict[str, list[str]]:
    r = client.post("/dcim/devices/edit/", {"pk": pks, "step": "choose"})
    assert r.status_code == 200
    data = _browser_post_data(r.content.decode())
    assert sorted(map(int, data["pk"])) == sorted(pks)
    return data


def test_the_untouched_form_changes_nothing(admin_client: Any, fifty: list[int]) -> None:
    before, changes = _state(), ObjectChange.objects.count()
    data = _choose(admin_client, fifty)
    for field in ("status", "criticality", "tenant", "role", "site", "platform"):
        assert data[field] == [""], (field, data[field])  # "— no change —"
    for step in ("preview", "apply"):
        r = admin_client.post("/dcim/devices/edit/", {**data, "step": step})
        assert r.status_code == 400 and "Set at least one field to change." in r.content.decode()
    assert _state() == before
    assert ObjectChange.objects.count() == changes


def test_setting_one_field_changes_only_that_field(admin_client: Any, fifty: list[int]) -> None:
    before = _state()
    data = {**_choose(admin_client, fifty), "criticality": ["critical"]}
    r = admin_client.post("/dcim/devices/edit/", {**data, "step": "preview"})
    preview = r.content.decode().split('id="bulk-preview"', 1)[1].split("</table>", 1)[0]
    assert preview.count("<tr>") == 51 and "Status" not in preview and "Tenant" not in preview
    r = admin_client.post("/dcim/devices/edit/", {**data, "step": "apply"})
    assert r.status_code == 302, r.content.decode().split("no change” to keep", 1)[-1][:2000]
    after = _state()
    criticality = FIELDS.index("criticality")
    for pk, old in before.items():
        new = after[pk]
        if pk not in fifty:
            assert new == old
            continue
        assert new[criticality] == "critical"
        assert new[:criticality] + new[criticality + 1 : -1] == old[:criticality] + old[criticality + 1 : -1]
    records = ObjectChange.objects.filter(action="update", changed_object_id__in=fifty)
    assert records.count() == 50
    for record in records:
        changed = {k for k in record.postchange_data if record.postchange_data[k] != record.prechange_data.get(k)}
        assert changed == {"criticality"}, changed


def test_a_value_every_object_already_has_records_nothing(admin_client: Any, world: Any) -> None:
    pks = [world.devices["web01"].pk, world.devices["web02"].pk]  # both at Zittau
    before, changes = _state(), ObjectChange.objects.count()
    data = {**_choose(admin_client, pks), "site": [str(world.zittau.pk)]}
    r = admin_client.post("/dcim/devices/edit/", {**data, "step": "apply"})
    assert r.status_code == 302
    assert _state() == before  # not even last_updated
    assert ObjectChange.objects.count() == changes
