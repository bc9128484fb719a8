"""``cmdb discover``: reports ingested one transaction each; a bad one is reported and the others go on."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from discovery.models import Host

from .helpers import report

pytestmark = pytest.mark.django_db


def test_discover_file_ingests_good_reports_and_names_the_bad_one(tmp_path: Path) -> None:
    bad = report(hostname="broken", macs=["00:16:3e:00:00:09"])
    bad["software"] = [{"name": "", "version": "1"}]
    path = tmp_path / "reports.json"
    path.write_text(json.dumps([report(hostname="good", macs=["00:16:3e:00:00:08"]), bad]))
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 of 2 report\\(s\\) failed"):
        call_command("discover", "file", str(path), stdout=out, stderr=err)
    host = Host.objects.get()
    assert host.name == "good"
    assert f"good: create ci {host.ci_id}" in out.getvalue()
    assert "2 report(s): 1 create; 1 failed" in out.getvalue()
    assert "broken: report rejected: $.software[0].name" in err.getvalue()
