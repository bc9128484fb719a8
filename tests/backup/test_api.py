"""The backup API: CIs with secret references only, validated policies, read-only observations, the schema."""

from __future__ import annotations

from typing import Any

import pytest

from backup.models import Repository, validate_cron

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(api: Any) -> dict[str, Any]:
    r = api.post("/api/backup/repositories/", {"name": "primary", "repo_url": "/srv/restic/primary",
                                                "password_ref": "env:CMDB_RESTIC_PASSWORD"}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def policy_payload(repo: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "files", "paths": ["/srv/data"], "repository": repo["id"], "schedule": "15 1 * * *", **extra}


def test_repository_is_a_ci_and_plain_secrets_are_refused(api: Any, repo: dict[str, Any]) -> None:
    assert repo["ci_id"] and repo["role"]["value"] == "backup" and repo["password_ref"] == "env:CMDB_RESTIC_PASSWORD"
    r = api.post("/api/backup/repositories/", {"name": "x", "repo_url": "/srv/x", "password_ref": "hunter2-secret"},
                 format="json")
    assert r.status_code == 400 and "password_ref" in r.json()
    assert "hunter2" not in r.content.decode()
    r = api.post("/api/backup/repositories/", {"name": "x", "repo_url": "s3:s3.example.org/bucket",
                                                "password_ref": "env:CMDB_RESTIC_PASSWORD",
                                                "credentials": {"AWS_SECRET_ACCESS_KEY": "AKIAplainsecret"}},
                 format="json")
    assert r.status_code == 400 and "credentials" in r.json() and "AKIAplainsecret" not in r.content.decode()
    r = api.post("/api/backup/repositories/", {"name": "x", "repo_url": "/srv/x", "password_ref": "env:SECRET_KEY"},
                 format="json")
    assert r.status_code == 400 and "RESTIC" in str(r.json()["password_ref"])  # only restic's own secrets
    r = api.post("/api/backup/repositories/", {"name": "x", "repo_url": "ftp://nope", "password_ref":
                                                "env:CMDB_RESTIC_PASSWORD"}, format="json")
    assert r.status_code == 400 and "repo_url" in r.json()
    r = api.post("/api/backup/repositories/", {"name": "s3", "repo_url": "s3:s3.example.org/bucket",
                                                "password_ref": "env:CMDB_RESTIC_PASSWORD", "role": "archive",
                                                "append_only": True,
                                                "credentials": {"AWS_ACCESS_KEY_ID": "env:CMDB_RESTIC_S3_ID",
                                                                "AWS_SECRET_ACCESS_KEY": "env:CMDB_RESTIC_S3_KEY"}},
                 format="json")
    assert r.status_code == 201, r.content


def test_policy_validation(api: Any, repo: dict[str, Any]) -> None:
    r = api.post("/api/backup/policies/", policy_payload(repo), format="json")
    assert r.status_code == 201, r.content
    assert r.json()["keep_daily"] == 7 and r.json()["ci_id"]
    bad = {
        "schedule": {"schedule": "0 0 30 2 *"},          # February 30th never comes
        "check_schedule": {"check_schedule": "not cron"},
        "keep_last": {"keep_last": 0, "keep_hourly": 0, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0,
                      "keep_yearly": 0},
        "paths": {"paths": ["relative/path"]},
        "check_subset": {"check_subset": "lots"},
        "archive_repository": {"archive_repository": repo["id"], "archive_years": 10},  # not an archive repository
        "repository": {"repository": 999999},
        "rpo_hours": {"rpo_hours": 2_147_483_647},  # would overflow the coverage report's durations
        "restore_test_max_age_days": {"restore_test_max_age_days": 2_147_483_647},
    }
    for field, change in bad.items():
        r = api.post("/api/backup/policies/", policy_payload(repo, name=f"bad-{field}", **change), format="json")
        assert r.status_code == 400, (field, r.content)
        assert field in r.json(), (field, r.json())


def test_cron_that_never_fires() -> None:
    from django.core.exceptions import ValidationError

    for never in ("0 0 31 4,6,9,11 *", "0 0 30 2 *"):
        with pytest.raises(ValidationError, match="never fires"):
            validate_cron(never, "schedule")
    validate_cron("0 0 29 2 *", "schedule")  # leap years
    validate_cron("0 0 30 2 1", "schedule")  # with a weekday cron fires on Mondays in February


def test_observations_are_read_only_and_listed(api: Any, repo: dict[str, Any]) -> None:
    for endpoint in ("snapshots", "runs", "restore-tests"):
        assert api.get(f"/api/backup/{endpoint}/").status_code == 200
        assert api.post(f"/api/backup/{endpoint}/", {}, format="json").status_code == 405
    assert api.get("/api/backup/repositories/?role=archive").json()["count"] == 0
    assert api.get("/api/backup/repositories/?rol=archive").status_code == 400  # strict filters
    assert Repository.objects.get(pk=repo["id"]).ci_id == repo["ci_id"]


def test_attachments_and_schema(api: Any, repo: dict[str, Any]) -> None:
    from tests import factories

    policy = api.post("/api/backup/policies/", policy_payload(repo), format="json").json()
    server = factories.device("srv1")
    r = api.post("/api/backup/policy-attachments/", {"policy": policy["id"], "ci": server.ci_id}, format="json")
    assert r.status_code == 201, r.content
    schema = api.get("/api/schema/?format=json").json()
    for path in ("repositories", "policies", "policy-attachments", "snapshots", "runs", "restore-tests", "coverage"):
        assert f"/api/backup/{path}/" in schema["paths"], path
