"""The append-only, hash-chained change log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from cmdb.core.choices import ChangeAction


class ObjectChange(models.Model):
    """One create/update/delete of one object, attributed and tamper-evident.

    ``chain_hash`` covers the previous row's hash, the row's identifying
    columns (time, action, object, related object, user id, tenant, request,
    source, key version) and ``data_digest``, a salted digest of the personal
    and payload data (user name, object representation, before/after).  Both
    are HMAC-SHA256 under the audit key of version ``key_version`` (a secret
    outside the database, :mod:`cmdb.core.auditkeys`); version 0 marks the
    records from before keys existed, hashed with plain SHA-256.  The payload
    can be erased for data-protection reasons (``erased`` set, data blanked,
    and an ``erase`` record in the chain that names it, see
    :mod:`cmdb.core.erasure`) while the chain still verifies; any other edit
    breaks the chain at that row.
    """

    time = models.DateTimeField(db_index=True)
    # No database constraint and DO_NOTHING: the ids are part of the hash chain and must
    # survive the deletion of the user or tenant they name.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True,
        related_name="+",
    )
    tenant = models.ForeignKey(
        "tenancy.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True,
        related_name="+", help_text="Tenant of the changed object, for tenant-scoped visibility",
    )
    user_name = models.CharField(max_length=150, blank=True)
    request_id = models.UUIDField(db_index=True)
    source = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    changed_object_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    changed_object_id = models.PositiveBigIntegerField()
    related_object_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    related_object_id = models.PositiveBigIntegerField(null=True, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    prechange_data = models.JSONField(null=True, blank=True)
    postchange_data = models.JSONField(null=True, blank=True)
    salt = models.CharField(max_length=32)
    data_digest = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64, unique=True)
    erased = models.BooleanField(default=False)
    key_version = models.PositiveSmallIntegerField(
        default=0, help_text="Version of the audit key that signed this record (0: legacy, unkeyed SHA-256)"
    )

    display_field = "object_repr"
    tenant_path = "tenant"
    search_fields = ("object_repr", "user_name")

    class Meta:
        ordering = ("-time", "-id")
        indexes = [models.Index(fields=["changed_object_type", "changed_object_id"])]
        permissions = [("erase_objectchange", "Can erase personal data from change records")]

    def __str__(self) -> str:
        return f"{self.object_repr} {self.get_action_display().lower()} by {self.user_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Append-only: rows are written once by cmdb.core.changelog.append.
        if self.pk is not None:
            raise PermissionError("Object changes are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Object changes are append-only")
