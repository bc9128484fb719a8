"""Software products, versions, installations on CIs, license pools and assignments.

Installations are facts reported by discovery or entered by hand; licenses are
CIs (they carry tenant, owner, criticality and can be targets of
``licensed_by`` relationships).  Compliance is not stored: it is computed from
installations and assignments by :mod:`cmdb.software.compliance`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from cmdb.core.models.base import ChangeLoggedModel, CIModel, PrimaryModel
from cmdb.core.scope import SHARED

from .choices import LicenseMetric, ProductCategory, VersionScheme
from .versions import version_key


class SoftwareProduct(PrimaryModel):
    """A product independent of its versions (vendor + name); the unit licenses count."""

    vendor = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    category = models.CharField(max_length=20, choices=ProductCategory.choices, default=ProductCategory.APPLICATION)
    version_scheme = models.CharField(max_length=10, choices=VersionScheme.choices, default=VersionScheme.GENERIC)

    tenant_scope = SHARED
    search_fields = ("name", "vendor", "slug", "description")

    class Meta:
        ordering = ("vendor", "name")
        constraints = [models.UniqueConstraint(fields=["vendor", "name"], name="software_product_unique_vendor_name")]

    def __str__(self) -> str:
        return f"{self.vendor} {self.name}" if self.vendor else self.name


class SoftwareVersion(PrimaryModel):
    """One version of a product, with a sort key so version ranges are SQL comparisons."""

    product = models.ForeignKey(SoftwareProduct, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=100)
    sort_key = models.CharField(max_length=600, editable=False, db_index=True)
    release_date = models.DateField(null=True, blank=True)
    end_of_support = models.DateField(null=True, blank=True, db_index=True)

    display_field = "version"
    tenant_scope = SHARED
    search_fields = ("version", "description")

    class Meta:
        ordering = ("product", "sort_key")
        constraints = [models.UniqueConstraint(fields=["product", "version"], name="software_version_unique")]
        indexes = [models.Index(fields=["product", "sort_key"])]

    def __str__(self) -> str:
        return self.version

    def compute_key(self) -> None:
        scheme = self.product.version_scheme if self.product_id else "generic"
        self.sort_key = version_key(self.version or "", scheme)

    def clean(self) -> None:
        super().clean()
        if self.version is not None and not self.version.strip():
            raise ValidationError({"version": "A version cannot be blank."})
        self.compute_key()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.compute_key()
        super().save(*args, **kwargs)


class SoftwareInstallation(ChangeLoggedModel):
    """A version installed on a CI (device, VM, container image, golden image), as last reported."""

    # No single-column indexes on ci and product: the unique (ci, version) and the (product, ci) index
    # lead with them, and every index costs each of the millions of rows a discovery ingest writes.
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="software",
                           db_index=False)
    version = models.ForeignKey(SoftwareVersion, on_delete=models.CASCADE, related_name="installations")
    # Denormalised from version: compliance counts per product over a million rows without a join.
    product = models.ForeignKey(SoftwareProduct, on_delete=models.CASCADE, related_name="+", editable=False,
                                db_index=False)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=50, blank=True, help_text="What reported it: manual, ansible, agent, ...")

    display_field = "version"
    #: What ``str()`` shows, as columns the API's fast reader fetches with the page (cmdb.api.fastread).
    display_columns = ("version__product__vendor", "version__product__name", "version__version", "ci__name")
    tenant_path = "ci__tenant"
    search_fields = ("source",)

    class Meta:
        ordering = ("ci", "version")
        constraints = [models.UniqueConstraint(fields=["ci", "version"], name="software_installation_unique")]
        indexes = [models.Index(fields=["product", "ci"])]

    @staticmethod
    def display_of(vendor: str, product: str, version: str, ci_name: str) -> str:
        return f"{vendor} {product} {version} on {ci_name}" if vendor else f"{product} {version} on {ci_name}"

    def __str__(self) -> str:
        try:
            product = self.version.product
            return self.display_of(product.vendor, product.name, self.version.version, self.ci.name)
        except ObjectDoesNotExist:  # the CI or version is being deleted with it (change-log repr)
            return f"installation of version {self.version_id} on CI {self.ci_id}"

    def clean(self) -> None:
        super().clean()
        if self.version_id:
            self.product_id = self.version.product_id
        if self.first_seen and self.last_seen and self.last_seen < self.first_seen:
            raise ValidationError({"last_seen": "Last seen cannot be before first seen."})

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.version_id and not self.product_id:
            self.product_id = self.version.product_id
        super().save(*args, **kwargs)


class License(CIModel):
    """A license pool: a quantity of a metric (users, devices, cores, ...) for a product."""

    name = models.CharField(max_length=100)
    product = models.ForeignKey(SoftwareProduct, on_delete=models.PROTECT, related_name="licenses")
    vendor = models.CharField(max_length=100, blank=True)
    metric = models.CharField(max_length=15, choices=LicenseMetric.choices, default=LicenseMetric.DEVICE)
    quantity = models.PositiveIntegerField(
        default=1, help_text="Seats, devices, cores or users; sites for a site license"
    )
    peak_usage = models.PositiveIntegerField(
        null=True, blank=True, help_text="Concurrent licenses: peak use reported by the license server"
    )
    cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                               validators=[MinValueValidator(0)], help_text="Cost per year")
    currency = models.CharField(max_length=3, default="EUR")
    contract_number = models.CharField(max_length=100, blank=True)
    order_number = models.CharField(max_length=100, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True, db_index=True)

    search_fields = ("name", "vendor", "contract_number", "order_number", "description")

    class Meta:
        ordering = ("name", "id")
        constraints = [models.UniqueConstraint(fields=["name"], name="software_license_unique_name")]

    def clean(self) -> None:
        super().clean()
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date is before the start date."})


class LicenseAssignment(ChangeLoggedModel):
    """A seat of a license given to a CI, a user or a group (exactly one of them)."""

    license = models.ForeignKey(License, on_delete=models.CASCADE, related_name="assignments")
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, null=True, blank=True,
                           related_name="license_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="license_assignments")
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="license_assignments")
    description = models.CharField(max_length=200, blank=True)

    display_field = "description"
    tenant_path = "license__tenant"
    search_fields = ("description",)

    class Meta:
        ordering = ("license", "id")
        constraints = [
            models.UniqueConstraint(fields=["license", "ci"], name="software_assignment_unique_ci"),
            models.UniqueConstraint(fields=["license", "user"], name="software_assignment_unique_user"),
            models.UniqueConstraint(fields=["license", "group"], name="software_assignment_unique_group"),
            models.CheckConstraint(
                condition=(
                    models.Q(ci__isnull=False, user__isnull=True, group__isnull=True)
                    | models.Q(ci__isnull=True, user__isnull=False, group__isnull=True)
                    | models.Q(ci__isnull=True, user__isnull=True, group__isnull=False)
                ),
                name="software_assignment_one_target",
            ),
        ]

    def __str__(self) -> str:
        if self.ci_id:
            return f"{self.license_id}: CI {self.ci_id}"
        if self.user_id:
            return f"{self.license_id}: user {self.user_id}"
        return f"{self.license_id}: group {self.group_id}"

    def clean(self) -> None:
        super().clean()
        targets = [t for t in (self.ci_id, self.user_id, self.group_id) if t]
        if len(targets) != 1:
            raise ValidationError({"ci": "Assign the seat to exactly one of: a CI, a user or a group."})
