"""VDI pools, their size schedules and timetables, desktops, and the capacity data of host clusters.

Pools and desktops are CIs (rows in the CI registry, change-logged, tenant-scoped through their own
``tenant``).  Everything else belongs to the tenant of what it describes: a schedule rule or a timetable
to its pool's tenant, a host's capacity to the host's, a cluster's policy to the cluster's.  GPU profiles
are shared reference data (a vendor's vGPU types).

Validation that needs only the row is in ``clean()``; validation that needs the whole cluster (capacity)
or the licence pools (seats) is in :mod:`vdi.capacity` and :mod:`vdi.licences`, called from
:meth:`Pool.clean` so every write path (API, UI, imports) refuses the same way, naming the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from cmdb.core.models.base import ChangeLoggedModel, CIModel, OrganizationalModel


class PoolType(models.TextChoices):
    POOLED = "pooled", "Pooled (non-persistent)"
    PERSISTENT = "persistent", "Persistent (dedicated)"


class Driver(models.TextChoices):
    LIBVIRT = "libvirt", "libvirt"
    KUBEVIRT = "kubevirt", "KubeVirt"


class DesktopState(models.TextChoices):
    PROVISIONING = "provisioning", "Provisioning"
    READY = "ready", "Ready"
    ASSIGNED = "assigned", "Assigned"
    IN_USE = "in_use", "In use"
    DRAINING = "draining", "Draining"
    BROKEN = "broken", "Broken"
    DELETING = "deleting", "Deleting"


class GpuProfile(OrganizationalModel):
    """A vGPU type (``nvidia-a16-2q``): the GPU model it runs on and the frame buffer each instance takes.

    A physical GPU carries instances of one profile size only, so it offers
    ``frame buffer of the GPU ÷ frame buffer of the profile`` slots of that profile.
    """

    gpu_model = models.CharField(max_length=50, help_text="The physical GPU model, as in the hosts' inventory")
    frame_buffer_mb = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ("name",)
        verbose_name = "GPU profile"


class HostCapacity(ChangeLoggedModel):
    """What a hypervisor host (a device in a cluster) offers desktops: cores, memory, physical GPUs.

    The hypervisor's address is ``uri`` (a libvirt URI such as ``qemu+ssh://host/system``); the driver
    opens it to place desktops on this host.
    """

    host = models.OneToOneField("dcim.Device", on_delete=models.CASCADE, related_name="vdi_capacity")
    cpu_cores = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    memory_mb = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    gpu_model = models.CharField(max_length=50, blank=True)
    gpu_count = models.PositiveIntegerField(default=0)
    gpu_frame_buffer_mb = models.PositiveIntegerField(default=0, help_text="Frame buffer of one GPU")
    uri = models.CharField(max_length=200, blank=True, help_text="libvirt URI of the hypervisor")

    tenant_path = "host__tenant"
    display_field = "host"
    search_fields = ("gpu_model", "uri")

    class Meta:
        ordering = ("host",)
        verbose_name = "host capacity"
        verbose_name_plural = "host capacities"

    def __str__(self) -> str:
        return f"capacity of host {self.host_id}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.host_id and not self.host.cluster_id:
            errors["host"] = "The host is in no cluster; desktops are placed on a cluster's hosts."
        if self.gpu_count and not (self.gpu_model and self.gpu_frame_buffer_mb):
            errors["gpu_model" if not self.gpu_model else "gpu_frame_buffer_mb"] = (
                "Hosts with GPUs need the GPU model and its frame buffer.")
        if errors:
            raise ValidationError(errors)


class ClusterPolicy(ChangeLoggedModel):
    """How far a cluster's resources may be promised: the CPU and memory overcommit ratios."""

    cluster = models.OneToOneField("virtualization.Cluster", on_delete=models.CASCADE, related_name="vdi_policy")
    cpu_overcommit = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("4"),
                                         validators=[MinValueValidator(Decimal("0.1"))])
    memory_overcommit = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1"),
                                            validators=[MinValueValidator(Decimal("0.1"))])

    tenant_path = "cluster__tenant"
    display_field = "cluster"

    class Meta:
        ordering = ("cluster",)
        verbose_name = "cluster policy"
        verbose_name_plural = "cluster policies"

    def __str__(self) -> str:
        return f"policy of cluster {self.cluster_id}"


class Pool(CIModel):
    """A desktop pool: what each desktop is (golden image, size, GPU) and how many there should be."""

    name = models.CharField(max_length=50, unique=True)
    pool_type = models.CharField(max_length=12, choices=PoolType.choices, default=PoolType.POOLED)
    golden_image = models.ForeignKey("core.ConfigurationItem", on_delete=models.PROTECT, related_name="+",
                                     help_text="A VM or device CI; its installed software is counted per desktop")
    vcpus = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(256)])
    memory_mb = models.PositiveIntegerField(default=4096, validators=[MinValueValidator(128)])
    disk_gb = models.PositiveIntegerField(default=40, validators=[MinValueValidator(1)])
    gpu_profile = models.ForeignKey(GpuProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    min_size = models.PositiveIntegerField(default=0)
    max_size = models.PositiveIntegerField(default=10, validators=[MaxValueValidator(10000)])
    spare = models.PositiveIntegerField(default=0, help_text="Desktops kept ready beyond those in use")
    entitled_groups = models.JSONField(default=list, blank=True, help_text="Names of the user groups entitled")
    cluster = models.ForeignKey("virtualization.Cluster", on_delete=models.PROTECT, related_name="vdi_pools")
    driver = models.CharField(max_length=10, choices=Driver.choices, default=Driver.LIBVIRT)
    kube_cluster = models.CharField(max_length=100, blank=True,
                                    help_text="KubeVirt pools: the Kubernetes cluster CI's name (blank: the host "
                                              "cluster's name)")
    kube_namespace = models.CharField(max_length=63, default="vdi", validators=[RegexValidator(
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "A namespace name (DNS-1123 label).")],
        help_text="KubeVirt pools: the namespace of the pool's VirtualMachines")

    search_fields = ("name", "description")

    class Meta:
        ordering = ("name",)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        if self.min_size > self.max_size:
            errors["min_size"] = f"The minimum size {self.min_size} exceeds the maximum size {self.max_size}."
        if self.spare > self.max_size:
            errors["spare"] = f"{self.spare} spare desktops do not fit in the maximum size {self.max_size}."
        groups = self.entitled_groups
        if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
            errors["entitled_groups"] = "A list of group names."
        if self.golden_image_id and self.golden_image.kind not in GOLDEN_IMAGE_KINDS:
            errors["golden_image"] = (f"The golden image must be a virtual machine or a device, "
                                      f"not a {self.golden_image.kind}.")
        if errors:
            raise ValidationError(errors)
        if self.gpu_profile_id and self.cluster_id:
            from .capacity import gpu_profile_offered

            if not gpu_profile_offered(self.cluster_id, self.gpu_profile):
                raise ValidationError({"gpu_profile": f"No GPU of the cluster's hosts offers {self.gpu_profile} "
                                                      f"(it needs a {self.gpu_profile.gpu_model} GPU)."})
        from .services import refuse_pool_change

        refuse_pool_change(self)


GOLDEN_IMAGE_KINDS = ("virtualization.virtualmachine", "dcim.device")


class PoolScheduleRule(ChangeLoggedModel):
    """From ``start`` to ``end`` on ``weekday`` (0 = Monday) the pool should have ``size`` desktops."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="schedule_rules")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)], help_text="0 = Monday")
    start = models.TimeField()
    end = models.TimeField()
    size = models.PositiveIntegerField()

    tenant_path = "pool__tenant"
    display_field = "pool"

    class Meta:
        ordering = ("pool", "weekday", "start")
        verbose_name = "pool schedule rule"

    def __str__(self) -> str:
        return f"pool {self.pool_id}: day {self.weekday} {self.start}-{self.end} size {self.size}"

    @property
    def change_log_parent(self) -> Pool:
        return self.pool

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.start is not None and self.end is not None and self.end <= self.start:
            errors["end"] = "The end is not after the start (a rule ends on its own day)."
        if self.pool_id and self.size is not None and self.size > self.pool.max_size:
            errors["size"] = f"The schedule asks for {self.size} desktops; the pool's maximum is {self.pool.max_size}."
        if errors:
            raise ValidationError(errors)


class TimetableSource(ChangeLoggedModel):
    """A course timetable (iCalendar) of the lab's rooms: the pool grows to ``size`` ``lead_minutes``
    before each lecture held in a room matching ``room_filter`` and shrinks back when it ends.

    ``content`` is the ICS text, pasted or fetched from ``feed_url`` (:mod:`vdi.feeds`: when a source with a
    feed URL is saved without content, and by the job ``vdi.timetables.refresh``); it is parsed when saved,
    into :class:`Lecture` rows, and a file that does not parse is refused naming ``content`` (a feed that
    cannot be fetched, naming ``feed_url``).
    """

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="timetables")
    name = models.CharField(max_length=100)
    feed_url = models.URLField(blank=True, help_text="Where the ICS feed is published")
    content = models.TextField(blank=True, help_text="The ICS text (fetched from the feed URL when left blank)")
    room_filter = models.CharField(max_length=100, blank=True,
                                   help_text="Only lectures whose location contains this text (any if blank)")
    lead_minutes = models.PositiveIntegerField(default=15, validators=[MaxValueValidator(24 * 60)])
    size = models.PositiveIntegerField(help_text="Desktops wanted during a lecture")

    tenant_path = "pool__tenant"
    search_fields = ("name", "room_filter")

    class Meta:
        ordering = ("pool", "name")
        constraints = [models.UniqueConstraint(fields=["pool", "name"], name="vdi_timetable_unique_name")]

    @property
    def change_log_parent(self) -> Pool:
        return self.pool

    def clean(self) -> None:
        super().clean()
        from .ics import ICSError, parse_ics

        errors = {}
        fetched = bool(self.feed_url and not (self.content or "").strip())
        if fetched:
            from .feeds import FeedError, fetch

            try:
                self.content = fetch(self.feed_url)
            except FeedError as exc:
                raise ValidationError({"feed_url": f"The feed could not be fetched: {exc}"}) from None
        try:
            parse_ics(self.content or "")
        except ICSError as exc:
            errors["feed_url" if fetched else "content"] = f"The timetable does not parse: {exc}"
        if self.pool_id and self.size is not None and self.size > self.pool.max_size:
            errors["size"] = f"Lectures ask for {self.size} desktops; the pool's maximum is {self.pool.max_size}."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        from .ics import sync_lectures

        sync_lectures(self)

    @classmethod
    def post_create(cls, created: list[TimetableSource]) -> None:
        """The services' bulk insert does not call save(): parse the lectures of what it created."""
        from .ics import sync_lectures

        for source in created:
            sync_lectures(source)


class Lecture(ChangeLoggedModel):
    """One event of a timetable, as parsed: weekly recurring until ``until`` if ``weekly``."""

    source = models.ForeignKey(TimetableSource, on_delete=models.CASCADE, related_name="lectures")
    uid = models.CharField(max_length=255, blank=True)
    summary = models.CharField(max_length=255, blank=True)
    location = models.CharField(max_length=255, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    weekly = models.BooleanField(default=False)
    until = models.DateTimeField(null=True, blank=True)

    tenant_path = "source__pool__tenant"
    display_field = "summary"

    class Meta:
        ordering = ("source", "start")


class Desktop(CIModel):
    """One desktop of a pool: a domain on a host (libvirt) or a VirtualMachine (KubeVirt)."""

    name = models.CharField(max_length=64, unique=True)
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="desktops")
    state = models.CharField(max_length=12, choices=DesktopState.choices, default=DesktopState.PROVISIONING)
    assigned_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")
    host = models.ForeignKey("dcim.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_used = models.DateTimeField(null=True, blank=True)
    assignment_expires = models.DateTimeField(null=True, blank=True,
                                              help_text="Persistent pools: the assignment ends then")
    domain_uuid = models.CharField(max_length=36, blank=True)
    address = models.CharField(max_length=255, blank=True, help_text="Where the broker connects (host or IP)")

    search_fields = ("name", "description")

    class Meta:
        ordering = ("pool", "name")
        indexes = [models.Index(fields=["pool", "state"])]

    def clean(self) -> None:
        super().clean()
        if self.pool_id and self.tenant_id is None:
            self.tenant_id = self.pool.tenant_id  # a desktop belongs where its pool does
        if self.assignment_expires and self.pool_id and self.pool.pool_type != PoolType.PERSISTENT:
            raise ValidationError({"assignment_expires": "Only desktops of persistent pools keep an assignment."})
        if self.state in (DesktopState.ASSIGNED, DesktopState.IN_USE) and not self.assigned_user_id:
            raise ValidationError({"assigned_user": f"A desktop that is {self.state} needs its user."})

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pool_id and self.tenant_id is None:
            self.tenant_id = self.pool.tenant_id
        super().save(*args, **kwargs)


class LicencePolicy(ChangeLoggedModel):
    """What happens when VDI pools would use more seats of a licence than are left: refuse or warn."""

    class OnExceed(models.TextChoices):
        REFUSE = "refuse", "Refuse the change"
        WARN = "warn", "Warn only"

    license = models.OneToOneField("software.License", on_delete=models.CASCADE, related_name="vdi_policy")
    on_exceed = models.CharField(max_length=6, choices=OnExceed.choices, default=OnExceed.REFUSE)

    tenant_path = "license__tenant"
    display_field = "license"

    class Meta:
        ordering = ("license",)
        verbose_name = "licence policy"
        verbose_name_plural = "licence policies"

    def __str__(self) -> str:
        return f"policy of licence {self.license_id}: {self.on_exceed}"
