"""Services, typed relationships between CIs, and redundancy groups.

The dependency graph is one integer edge table between CI registry ids
(:class:`Relationship`), which both PostgreSQL and the in-memory graph of
:mod:`cmdb.services.graph` walk.  Every write bumps :class:`GraphVersion`, so
each web process knows with one tiny query whether its cached graph is stale.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from cmdb.core.models.base import ChangeLoggedModel, CIModel, OrganizationalModel
from cmdb.core.scope import ADMIN_ONLY


class ServiceType(models.TextChoices):
    BUSINESS = "business", "Business service"
    TECHNICAL = "technical", "Technical service"


class SupportHours(models.TextChoices):
    ALWAYS = "24x7", "24x7"
    EXTENDED = "extended", "Mon-Sat 07-22"
    BUSINESS = "business", "Mon-Fri 08-17"


class Propagation(models.TextChoices):
    """Which end of an edge suffers when the other end fails."""

    TO_SOURCE = "to_source", "Target failure affects the source (source depends on target)"
    TO_TARGET = "to_target", "Source failure affects the target (target is made of sources)"
    NONE = "none", "No impact"


class Service(CIModel):
    """A business or technical service; a CI so it can be an end of relationships."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    service_type = models.CharField(max_length=10, choices=ServiceType.choices, default=ServiceType.BUSINESS)
    sla_availability = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="Availability target in percent",
    )
    support_hours = models.CharField(max_length=10, choices=SupportHours.choices, default=SupportHours.BUSINESS)
    link = models.URLField(blank=True, help_text="Where users reach the service")

    search_fields = ("name", "slug", "description", "comments")

    class Meta:
        ordering = ("name",)


class RelationshipType(OrganizationalModel):
    """``depends_on``, ``runs_on``, ... plus user-defined types, each with its inverse name.

    ``allowed_source_kinds``/``allowed_target_kinds`` list CI kinds (``dcim.device``);
    empty means any kind.
    """

    inverse_name = models.CharField(max_length=100)
    propagation = models.CharField(max_length=10, choices=Propagation.choices, default=Propagation.TO_SOURCE)
    allowed_source_kinds = models.JSONField(default=list, blank=True)
    allowed_target_kinds = models.JSONField(default=list, blank=True)
    builtin = models.BooleanField(default=False, editable=False)

    def clean(self) -> None:
        super().clean()
        for field in ("allowed_source_kinds", "allowed_target_kinds"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(k, str) and "." in k for k in value):
                raise ValidationError({field: 'A list of CI kinds such as "dcim.device".'})


class Relationship(ChangeLoggedModel):
    """A typed, directed edge between two CIs: ``source`` <type> ``target``."""

    source = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="relations_out")
    target = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="relations_in")
    type = models.ForeignKey(RelationshipType, on_delete=models.PROTECT, related_name="relationships")
    origin = models.CharField(max_length=50, blank=True, help_text="Who created it: manual, discovery, import")
    description = models.CharField(max_length=200, blank=True)

    display_field = "description"
    tenant_path = "source__tenant"
    search_fields = ("description", "origin")

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "type"], name="services_relationship_unique"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="services_relationship_no_self"),
        ]
        indexes = [models.Index(fields=["target", "type"])]

    def __str__(self) -> str:
        try:
            return f"{self.source.name} {self.type.slug} {self.target.name}"
        except ObjectDoesNotExist:  # an end is being deleted with it (change-log repr)
            return f"CI {self.source_id} -> CI {self.target_id}"

    def clean(self) -> None:
        super().clean()
        if self.source_id is not None and self.source_id == self.target_id:
            raise ValidationError({"target": "A CI cannot have a relationship with itself."})

    @classmethod
    def validate_batch(cls, objs: list[Relationship]) -> dict[int, dict[str, list[str]]]:
        """Allowed kinds per type, for a whole batch with two queries (not three per edge)."""
        from cmdb.core.models.registry import ConfigurationItem

        ci_ids = {o.source_id for o in objs} | {o.target_id for o in objs}
        kinds = dict(ConfigurationItem.objects.filter(pk__in=ci_ids - {None}).values_list("pk", "kind"))
        types = RelationshipType.objects.in_bulk({o.type_id for o in objs} - {None})
        errors: dict[int, dict[str, list[str]]] = {}
        for i, obj in enumerate(objs):
            rtype = types.get(obj.type_id)
            if rtype is None:
                continue
            for end, allowed in (("source", rtype.allowed_source_kinds), ("target", rtype.allowed_target_kinds)):
                kind = kinds.get(getattr(obj, f"{end}_id"))
                if allowed and kind is not None and kind not in allowed:
                    errors.setdefault(i, {}).setdefault(end, []).append(
                        f"A {rtype.slug} relationship cannot have a {kind} as {end} "
                        f"(allowed: {', '.join(allowed)})."
                    )
        return errors

    @classmethod
    def post_create(cls, created: list[Relationship]) -> None:
        from .graph import bump

        bump()


class RedundancyGroup(CIModel):
    """A set of CIs of which at least ``min_up`` must be up: a switch pair, a cluster's hosts.

    A CI itself, so dependents point at the group with ordinary relationships and
    impact analysis marks them degraded (not down) while enough members survive.
    """

    name = models.CharField(max_length=100, unique=True)
    min_up = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    search_fields = ("name", "description")

    class Meta:
        ordering = ("name",)

    @classmethod
    def post_create(cls, created: list[RedundancyGroup]) -> None:
        from .graph import bump

        bump()


class RedundancyMember(ChangeLoggedModel):
    """One CI's membership in a redundancy group."""

    group = models.ForeignKey(RedundancyGroup, on_delete=models.CASCADE, related_name="members")
    ci = models.ForeignKey("core.ConfigurationItem", on_delete=models.CASCADE, related_name="redundancy_memberships")

    display_field = "ci"
    #: What ``str()`` shows, as columns the API's fast reader fetches with the page (cmdb.api.fastread).
    display_columns = ("ci__name", "group__name")
    tenant_path = "group__tenant"

    class Meta:
        ordering = ("group", "id")
        constraints = [models.UniqueConstraint(fields=["group", "ci"], name="services_redundancy_member_unique")]

    @staticmethod
    def display_of(ci_name: str, group_name: str) -> str:
        return f"{ci_name} in {group_name}"

    def __str__(self) -> str:
        try:
            return self.display_of(self.ci.name, self.group.name)
        except ObjectDoesNotExist:
            return f"CI {self.ci_id} in group {self.group_id}"

    def clean(self) -> None:
        super().clean()
        if self.group_id and self.ci_id and self.group.ci_id == self.ci_id:
            raise ValidationError({"ci": "A redundancy group cannot be its own member."})

    @classmethod
    def post_create(cls, created: list[RedundancyMember]) -> None:
        from .graph import bump

        bump()


class GraphVersion(models.Model):
    """One row whose counter every relationship or redundancy write increments."""

    version = models.BigIntegerField(default=0)

    tenant_scope = ADMIN_ONLY

    class Meta:
        verbose_name = "graph version"

    def __str__(self) -> str:
        return f"graph version {self.version}"
