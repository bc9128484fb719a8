"""Backup repositories, policies and their observed outcome (snapshots, runs, restore tests).

Repositories and policies are CIs (they have owners, tenants, criticality and relationships like
anything else the computing centre runs).  Snapshots, runs and restore tests are *observations*:
snapshots are synced from the repositories (the repository is the truth, the CMDB its inventory),
runs and restore tests record what the worker did and how it ended.  Observations are written in
bulk and are not change-logged row by row (a snapshot list of 10,000 rows is inventory, not a
change someone made); the policy and repository edits that cause them are.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from cmdb.core.models.base import ChangeLoggedModel, CIModel
from cmdb.core.secrets import SecretPolicy, reference_error

#: A repository's password and backend credentials: only references to variables or files
#: provisioned for restic (the name must contain RESTIC), see :mod:`cmdb.core.secrets`.
RESTIC_SECRETS = SecretPolicy("the restic repository's secrets", name_must_contain="RESTIC")
#: Backend variables restic reads from its environment, which a repository may set (by reference).
CREDENTIAL_VARIABLES = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
    "RESTIC_REST_USERNAME", "RESTIC_REST_PASSWORD", "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY",
    "AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY", "GOOGLE_PROJECT_ID", "GOOGLE_APPLICATION_CREDENTIALS",
})
_URL = re.compile(r"^(/\S*|sftp:\S+|rest:https?://\S+|s3:\S+)$")
_SUBSET = re.compile(r"^(\d{1,3}(\.\d+)?%|\d+/\d+|\d+[KMGT]?)$")
KEEP_FIELDS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")


def validate_cron(value: str, field: str) -> None:
    """A five-field cron expression that fires at least once.

    croniter accepts expressions such as ``0 0 30 2 *`` (February 30th) that never fire; a policy
    with such a schedule would silently never back anything up, so the day-of-month/month
    combination is checked too (when the weekday is ``*``: cron ORs the two day fields otherwise).
    """
    if not value:
        return
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValidationError({field: f"{value!r} is not a five-field cron expression "
                                       "(minute hour day month weekday)."})
    expanded, _ = croniter.expand(value)
    days, months, weekdays = expanded[2], expanded[3], expanded[4]
    if days == ["*"] or weekdays != ["*"]:
        return
    month_list = range(1, 13) if months == ["*"] else [int(m) for m in months]
    if not any(int(d) <= calendar.monthrange(2024, m)[1] for m in month_list for d in days):
        raise ValidationError({field: f"{value!r} never fires: no month in it has that day."})


def dump_commands() -> dict[str, str]:
    """Dump commands by name, as the operator configured them (``CMDB_BACKUP_DUMP_COMMANDS``).

    Why names and not commands: whoever may edit a policy must not be able to run a command of their
    choosing on the worker.  The operator decides what can run; a policy only picks one.
    """
    configured = getattr(settings, "CMDB_BACKUP_DUMP_COMMANDS", None) or {}
    return {str(k): str(v) for k, v in configured.items()}


def _reference_problem(value: Any) -> str | None:
    return reference_error(value, RESTIC_SECRETS)


class RepositoryRole(models.TextChoices):
    BACKUP = "backup", "Backup"
    ARCHIVE = "archive", "Archive"


class Repository(CIModel):
    """A restic repository: where snapshots live, and the secrets (by reference) to open it."""

    name = models.CharField(max_length=100, unique=True)
    repo_url = models.CharField(max_length=500,
                                help_text="restic repository: /local/path, sftp:…, rest:http(s)://…, s3:…")
    password_ref = models.CharField(max_length=300, help_text="env:NAME or file:/path (name contains RESTIC)")
    credentials = models.JSONField(default=dict, blank=True,
                                   help_text="Backend variables for restic, each a reference: "
                                             "{\"AWS_ACCESS_KEY_ID\": \"env:…\"}")
    role = models.CharField(max_length=10, choices=RepositoryRole.choices, default=RepositoryRole.BACKUP)
    append_only = models.BooleanField(default=False, help_text="The backend refuses deletes (an immutable archive).")

    search_fields = ("name", "repo_url", "description")

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "repositories"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.repo_url and not _URL.match(self.repo_url):
            errors["repo_url"] = "Give a local absolute path, sftp:host:/path, rest:http(s)://… or s3:…"
        if problem := _reference_problem(self.password_ref):
            errors["password_ref"] = problem
        if not isinstance(self.credentials, dict):
            errors["credentials"] = "An object of backend variable → reference."
        else:
            for name, ref in self.credentials.items():
                if name not in CREDENTIAL_VARIABLES:
                    known = ", ".join(sorted(CREDENTIAL_VARIABLES))
                    errors["credentials"] = f"{name}: not a restic backend variable ({known})."
                elif problem := _reference_problem(ref):
                    errors["credentials"] = f"{name}: {problem}"
        if errors:
            raise ValidationError(errors)


class Policy(CIModel):
    """What is backed up, when, how long it is kept, where it goes, and how it is proven."""

    name = models.CharField(max_length=100, unique=True)
    paths = models.JSONField(default=list, blank=True, help_text="Absolute paths the worker backs up")
    excludes = models.JSONField(default=list, blank=True, help_text="restic --exclude patterns")
    dump_command = models.CharField(max_length=100, blank=True,
                                    help_text="Instead of paths: the name of a dump command the operator configured "
                                              "(setting CMDB_BACKUP_DUMP_COMMANDS); its output is backed up")
    kubernetes_volumes = models.BooleanField(
        default=False, help_text="Instead of paths: the PersistentVolumeClaims of the Kubernetes namespaces the "
                                 "policy covers (a CronJob per namespace runs restic over them)")
    schedule = models.CharField(max_length=100, default="0 2 * * *", help_text="cron: when backups run")
    keep_last = models.PositiveIntegerField(default=0)
    keep_hourly = models.PositiveIntegerField(default=0)
    keep_daily = models.PositiveIntegerField(default=7)
    keep_weekly = models.PositiveIntegerField(default=4)
    keep_monthly = models.PositiveIntegerField(default=12)
    keep_yearly = models.PositiveIntegerField(default=0)
    # Upper bounds: a hundred years is beyond any policy, and far larger values overflow the durations
    # the coverage report compares with.
    rpo_hours = models.PositiveIntegerField(default=24, validators=[MinValueValidator(1), MaxValueValidator(876_000)],
                                            help_text="Recovery point objective: newest good backup at most this old")
    repository = models.ForeignKey(Repository, on_delete=models.PROTECT, related_name="policies")
    check_schedule = models.CharField(max_length=100, blank=True, default="0 4 * * 0")
    check_subset = models.CharField(max_length=20, blank=True, default="5%",
                                    help_text="restic check --read-data-subset (5%, 1/10, 500M)")
    restore_test_schedule = models.CharField(max_length=100, blank=True, default="0 5 * * 0")
    restore_sample_size = models.PositiveIntegerField(default=20, help_text="Files restored per restore test (0: all)")
    restore_test_max_age_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1),
                                                                                MaxValueValidator(36_500)])
    archive_repository = models.ForeignKey(Repository, on_delete=models.PROTECT, null=True, blank=True,
                                           related_name="archive_policies")
    archive_years = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(100)],
                                                help_text="Years the archive copies are kept (keep-yearly there)")

    search_fields = ("name", "description")

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "policies"

    def retention(self) -> dict[str, int]:
        """The keep-* options, exactly as restic takes them (zero: option not given)."""
        return {f: getattr(self, f) for f in KEEP_FIELDS}

    def sources(self) -> list[str]:
        """The kinds of source the policy names: ``paths``, ``dump_command``, ``kubernetes_volumes``."""
        return [name for name, given in (("paths", bool(self.paths)), ("dump_command", bool(self.dump_command)),
                                         ("kubernetes_volumes", bool(self.kubernetes_volumes))) if given]

    def _source_errors(self) -> dict[str, str]:
        """Exactly one source: a policy backs up files on a host, a dump's output, or a namespace's volumes."""
        given = self.sources()
        if not given:
            return {"paths": "Give what to back up: paths, a dump_command, or kubernetes_volumes "
                             "(the PersistentVolumeClaims of the Kubernetes namespaces the policy covers)."}
        if len(given) > 1:
            return {given[-1]: f"Give one source only, not {' and '.join(given)}: paths (files on the hosts), "
                               "a dump_command, or kubernetes_volumes."}
        return {}

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        for field in ("schedule", "check_schedule", "restore_test_schedule"):
            try:
                validate_cron(getattr(self, field), field)
            except ValidationError as exc:
                errors.update({k: v[0] for k, v in exc.message_dict.items()})
        if not self.schedule:
            errors["schedule"] = "A policy needs a schedule."
        if not any(getattr(self, f) for f in KEEP_FIELDS):
            errors["keep_last"] = ("Retention keeps nothing: set at least one of "
                                   "keep_last/hourly/daily/weekly/monthly/yearly above zero.")
        paths = self.paths
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            errors["paths"] = "A list of absolute paths."
        else:
            errors.update(self._source_errors())
        if self.dump_command and self.dump_command not in dump_commands():
            known = ", ".join(sorted(dump_commands())) or "none configured"
            errors["dump_command"] = (f"Name a dump command the operator configured in CMDB_BACKUP_DUMP_COMMANDS "
                                      f"({known}); commands themselves are not accepted here.")
        if not isinstance(self.excludes, list) or not all(isinstance(e, str) for e in self.excludes):
            errors["excludes"] = "A list of restic exclude patterns."
        if self.check_subset and not _SUBSET.match(self.check_subset):
            errors["check_subset"] = "restic's --read-data-subset: a percentage (5%), n/t (1/10) or a size (500M)."
        if self.repository_id and self.repository.role != RepositoryRole.BACKUP:
            errors["repository"] = "The target must be a backup repository (role backup)."
        if self.archive_repository_id:
            if self.archive_repository.role != RepositoryRole.ARCHIVE:
                errors["archive_repository"] = "The archive tier needs a repository with role archive."
            if not self.archive_years:
                errors["archive_years"] = "Say how many years archive copies are kept."
        elif self.archive_years:
            errors["archive_repository"] = "archive_years needs an archive repository."
        if errors:
            raise ValidationError(errors)


class PolicyAttachment(ChangeLoggedModel):
    """A policy applied directly to a CI or a service (a service is a CI too).

    CIs without an attachment inherit along member_of/runs_on/hosted_on (see :mod:`backup.coverage`).
    """

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="attachments")
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="backup_attachments")
    description = models.CharField(max_length=200, blank=True)

    tenant_path = "ci__tenant"
    display_field = "pk"
    display_columns = ("policy__name", "ci__name")
    search_fields = ("description",)

    class Meta:
        ordering = ("ci", "policy")
        constraints = [models.UniqueConstraint(fields=["policy", "ci"], name="backup_attachment_unique")]

    @staticmethod
    def display_of(policy_name: str, ci_name: str) -> str:
        return f"{policy_name} on {ci_name}"

    def __str__(self) -> str:
        try:
            return self.display_of(self.policy.name, self.ci.name)
        except (Policy.DoesNotExist, ValueError, AttributeError, models.ObjectDoesNotExist):
            return f"attachment {self.pk}"


class Snapshot(ChangeLoggedModel):
    """One restic snapshot as the repository lists it (synced, never edited)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="snapshots")
    snapshot_id = models.CharField(max_length=64)
    short_id = models.CharField(max_length=16)
    time = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)
    paths = models.JSONField(default=list, blank=True)
    #: Not ``tags``: that name means the CMDB's own tags to the change log and the API.
    restic_tags = models.JSONField(default=list, blank=True)
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of the files in the snapshot")
    files = models.BigIntegerField(null=True, blank=True)
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="backup_snapshots")
    policy = models.ForeignKey(Policy, on_delete=models.SET_NULL, null=True, blank=True, related_name="snapshots")

    tenant_path = "ci__tenant"
    display_field = "short_id"
    search_fields = ("short_id", "snapshot_id", "hostname")

    class Meta:
        ordering = ("-time", "id")
        constraints = [models.UniqueConstraint(fields=["repository", "snapshot_id"], name="backup_snapshot_unique")]
        indexes = [models.Index(fields=["ci", "time"])]


class RunStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class Run(ChangeLoggedModel):
    """One operation the worker ran against a repository and how it ended (restic's error if it failed)."""

    operation = models.CharField(max_length=20)  # init, backup, sync, forget, copy, check, restore-test
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    repository = models.ForeignKey(Repository, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    policy = models.ForeignKey(Policy, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="backup_runs")
    snapshot_id = models.CharField(max_length=64, blank=True)
    started = models.DateTimeField()
    duration = models.FloatField(default=0.0, help_text="Seconds")
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    tenant_path = "ci__tenant"
    display_field = "operation"
    search_fields = ("operation", "message")

    class Meta:
        ordering = ("-started", "-id")
        indexes = [models.Index(fields=["ci", "operation", "status", "started"])]


class RestoreTest(ChangeLoggedModel):
    """A sample of a snapshot restored into a scratch folder and compared with the snapshot's content."""

    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.SET_NULL, null=True, blank=True,
                           related_name="backup_restore_tests")
    #: Not ``snapshot``: that name is the change log's ``snapshot()`` method of every model.
    backup_snapshot = models.ForeignKey(Snapshot, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="restore_tests")
    repository = models.ForeignKey(Repository, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="restore_tests")
    restic_id = models.CharField(max_length=64, blank=True, help_text="The restic snapshot id tested")
    passed = models.BooleanField()
    tested_at = models.DateTimeField()
    duration = models.FloatField(default=0.0, help_text="Seconds the restore took (feeds RTO estimates)")
    files_checked = models.PositiveIntegerField(default=0)
    bytes_checked = models.BigIntegerField(default=0)
    message = models.TextField(blank=True)

    tenant_path = "ci__tenant"
    display_field = "restic_id"
    search_fields = ("restic_id", "message")

    class Meta:
        ordering = ("-tested_at", "-id")
        indexes = [models.Index(fields=["ci", "passed", "tested_at"])]
