"""The Kubernetes platform as the CMDB records it: clusters, the namespaces it manages on them,
who gets which ClusterRole in them, and the cluster user or group name of a contact.

``Cluster`` and ``Namespace`` are CIs (rows in the registry, change-logged, tenant-scoped): a
namespace is what a service or a tenant gets on the platform, and raising its quota is an edit of
this CI, permissioned by tenant and recorded like every other change.  The reconciler
(:mod:`k8s.sync`) derives the objects a cluster should carry from these rows alone.

``RoleMapping`` keeps "owner → admin, technical → edit, everyone else → view" as data (a data
migration seeds it), so a site can map its own contact roles without a code change.
``K8sSubject`` gives a contact (a core model this domain does not change) the user or group
name the cluster's authenticator knows them by.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from cmdb.core.models.base import ChangeLoggedModel, CIModel
from cmdb.core.scope import SHARED
from cmdb.core.secrets import SecretPolicy, validate_reference

#: Cluster credentials: env variables whose name contains K8S, or files under CMDB_SECRET_DIRS.
CREDENTIALS_POLICY = SecretPolicy(purpose="the cluster's credentials", name_must_contain="K8S")

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: A Kubernetes quantity as the API accepts it for CPU, memory and storage ("500m", "4", "8Gi", "1.5").
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
#: Label keys and values (prefix/name, 63 characters for the name part), checked before the server sees them.
LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")

dns1123_validator = RegexValidator(
    DNS1123_LABEL, "Use lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123)."
)
quantity_validator = RegexValidator(QUANTITY, 'A Kubernetes quantity such as "500m", "4", "8Gi".')


def _validate_credentials(value: str) -> None:
    validate_reference(value, CREDENTIALS_POLICY)


class Cluster(CIModel):
    """A Kubernetes cluster the CMDB reconciles namespaces on.

    The credentials are a bearer token given only as a secret reference (``env:CMDB_K8S_TOKEN``,
    ``file:/run/secrets/k8s-token``); the worker resolves it when it talks to the cluster.
    ``served_version`` is what the server reported the last time the reconciler asked.
    """

    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField(max_length=300, help_text="The API server, e.g. https://k8s.example.org:6443")
    ca_certificate = models.TextField(blank=True, help_text="PEM CA bundle that signed the API server's certificate")
    credentials = models.CharField(
        max_length=300, validators=[_validate_credentials],
        help_text="Secret reference to a bearer token (env:NAME with K8S in the name, or file:/path)")
    served_version = models.CharField(max_length=50, blank=True, editable=False,
                                      help_text="Version the server reported (discovered)")
    field_manager = models.CharField(max_length=128, default="cmdb",
                                     validators=[RegexValidator(r"^[A-Za-z0-9][-A-Za-z0-9_.:]*$",
                                                                "Letters, digits, '-', '_', '.', ':'.")])

    search_fields = ("name", "api_url", "description")

    class Meta:
        ordering = ("name",)

    def clean(self) -> None:
        super().clean()
        pem = (self.ca_certificate or "").strip()
        if pem and "-----BEGIN CERTIFICATE-----" not in pem:
            raise ValidationError({"ca_certificate": "Give the CA as a PEM certificate (-----BEGIN CERTIFICATE-----)."})


def _validate_labels(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        return {field: "A JSON object of string keys and string values."}
    for key, item in value.items():
        prefix, _, name = key.rpartition("/")
        if not name or len(name) > 63 or not LABEL_NAME.match(name) or len(prefix) > 253:
            return {field: f"{key[:80]!r} is not a valid label or annotation key."}
        if not isinstance(item, str):
            return {field: f"The value of {key[:80]!r} must be a string."}
        if field == "labels" and (len(item) > 63 or not LABEL_NAME.match(item)):
            return {field: f"The value of {key[:80]!r} is not a valid label value (63 characters, alphanumerics, "
                           "'-', '_', '.')."}
    return {}


class Namespace(CIModel):
    """A namespace the CMDB manages on a cluster, for a service and/or a tenant.

    Quota and limit-range fields are Kubernetes quantities; an empty field means "no such limit"
    and leaves the entry out of the ResourceQuota (or LimitRange).  ``storage_classes`` maps a
    storage class to its requests.storage quota.  ``labels``/``annotations`` are added to the ones
    the CMDB writes itself (CI id, service, tenant, criticality, owner, managed-by).
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="namespaces")
    name = models.CharField(max_length=63, validators=[dns1123_validator])
    service = models.ForeignKey("services.Service", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    managed = models.BooleanField(default=True, help_text="Reconciled by the CMDB (off: recorded only)")
    requests_cpu = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    requests_memory = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    limits_cpu = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    limits_memory = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    pods = models.PositiveIntegerField(null=True, blank=True)
    pvcs = models.PositiveIntegerField(null=True, blank=True, help_text="PersistentVolumeClaims")
    storage = models.CharField(max_length=20, blank=True, validators=[quantity_validator],
                               help_text="requests.storage over all storage classes")
    storage_classes = models.JSONField(default=dict, blank=True,
                                       help_text='Per storage class: {"fast": "100Gi"}')
    default_cpu = models.CharField(max_length=20, blank=True, validators=[quantity_validator],
                                   help_text="LimitRange: a container's default CPU limit")
    default_memory = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    default_request_cpu = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    default_request_memory = models.CharField(max_length=20, blank=True, validators=[quantity_validator])
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    # Set by discovery (k8s.inventory), never by hand: what the cluster says about the namespace.
    unmanaged = models.BooleanField(
        default=False, editable=False,
        help_text="Found on the cluster without being declared in the CMDB (an orphan until someone adopts it)")
    stale = models.BooleanField(default=False, editable=False, help_text="Seen on the cluster before, gone now")

    search_fields = ("name", "description")

    class Meta:
        ordering = ("cluster", "name")
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="k8s_namespace_unique_name")]

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.managed:
            self.unmanaged = False  # adopted: it is declared now
        if not self.service_id and not self.tenant_id and not self.unmanaged:
            errors["service"] = "A namespace belongs to a service, a tenant or both."
        if self.service_id and not self.tenant_id:
            self.tenant_id = self.service.tenant_id
        if not isinstance(self.storage_classes, dict) or not all(
            isinstance(k, str) and DNS1123_LABEL.match(k.replace(".", "-")) and isinstance(v, str)
            and QUANTITY.match(v) for k, v in self.storage_classes.items()
        ):
            errors["storage_classes"] = 'A JSON object of storage class → quantity, e.g. {"fast": "100Gi"}.'
        errors.update(_validate_labels(self.labels, "labels"))
        errors.update(_validate_labels(self.annotations, "annotations"))
        if errors:
            raise ValidationError(errors)


class RoleMapping(ChangeLoggedModel):
    """Which ClusterRole a contact role gets in the namespaces of the contact's service.

    ``contact_role`` is a contact role's slug (``owner``, ``technical``); the row with ``*``
    applies to every other role.  Seeded by migration 0002 with owner → admin, technical → edit,
    * → view.  A CI's ``owner`` contact counts as role ``owner``.
    """

    contact_role = models.CharField(max_length=100, unique=True,
                                    validators=[RegexValidator(r"^(\*|[-a-zA-Z0-9_]+)$", "A role slug or '*'.")])
    cluster_role = models.CharField(max_length=253, validators=[RegexValidator(
        r"^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$", "A ClusterRole name.")])

    display_field = "contact_role"
    tenant_scope = SHARED
    search_fields = ("contact_role", "cluster_role")

    class Meta:
        ordering = ("contact_role",)

    def __str__(self) -> str:
        return f"{self.contact_role} → {self.cluster_role}"


class SubjectKind(models.TextChoices):
    USER = "User", "User"
    GROUP = "Group", "Group"


class K8sSubject(ChangeLoggedModel):
    """The user or group name a contact has on Kubernetes clusters (the subject of its RoleBindings)."""

    contact = models.OneToOneField("tenancy.Contact", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=5, choices=SubjectKind.choices, default=SubjectKind.USER)
    name = models.CharField(max_length=253, help_text="As the cluster's authenticator names them")

    tenant_path = "contact__tenant"
    search_fields = ("name",)

    class Meta:
        ordering = ("name",)
        verbose_name = "Kubernetes subject"


class NamespaceStatus(models.Model):
    """What the last reconcile saw of a managed namespace: its remaining drift, conflicts, the error that kept
    the cluster from being planned, and the quota's ``status.hard``/``status.used`` as the server reports them.

    Observation, not configuration: rewritten by every verify, so not change-logged (one row per namespace,
    upserted in bulk).  Read by the metrics (:mod:`k8s.metrics`).
    """

    namespace = models.OneToOneField(Namespace, on_delete=models.CASCADE, related_name="sync_status")
    last_sync = models.DateTimeField()
    drift_items = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    quota_hard = models.JSONField(default=dict, blank=True)
    quota_used = models.JSONField(default=dict, blank=True)

    tenant_path = "namespace__tenant"

    class Meta:
        verbose_name = "namespace sync status"

    def __str__(self) -> str:
        return f"{self.namespace_id}: {self.drift_items} drift"


class Node(CIModel):
    """A node of a cluster as discovery last saw it (:mod:`k8s.inventory`), linked to the machine it is.

    The link to the recorded device or virtual machine is found by the node's system UUID (through the
    discovered host that reported the same UUID, :data:`cmdb.core.hooks.machines_by_system_uuid`), else
    by name; ``link_rule`` says which rule linked it, and a link set by hand (``manual``) is kept.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="nodes")
    name = models.CharField(max_length=253)
    system_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    kubelet_version = models.CharField(max_length=50, blank=True)
    os_image = models.CharField(max_length=200, blank=True)
    kernel_version = models.CharField(max_length=100, blank=True)
    container_runtime = models.CharField(max_length=100, blank=True)
    architecture = models.CharField(max_length=20, blank=True)
    cpu = models.CharField(max_length=20, blank=True, help_text="Capacity as the node reports it")
    memory = models.CharField(max_length=20, blank=True, help_text="Capacity as the node reports it")
    max_pods = models.PositiveIntegerField(null=True, blank=True)
    ready = models.BooleanField(null=True, blank=True)
    device = models.ForeignKey("dcim.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    virtual_machine = models.ForeignKey("virtualization.VirtualMachine", on_delete=models.SET_NULL, null=True,
                                        blank=True, related_name="+")
    link_rule = models.CharField(max_length=20, blank=True,
                                 help_text='Rule that linked the node ("system-uuid", "name"); "manual" is kept')
    stale = models.BooleanField(default=False, editable=False, help_text="Seen on the cluster before, gone now")

    search_fields = ("name", "system_uuid", "description")
    # Readiness flaps: observation, recorded but not a change.
    snapshot_exclude = frozenset({"created", "last_updated", "ci", "last_seen", "ready"})

    class Meta:
        ordering = ("cluster", "name")
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="k8s_node_unique_name")]


class WorkloadKind(models.TextChoices):
    DEPLOYMENT = "Deployment", "Deployment"
    STATEFULSET = "StatefulSet", "StatefulSet"
    DAEMONSET = "DaemonSet", "DaemonSet"
    CRONJOB = "CronJob", "CronJob"


class Workload(CIModel):
    """A Deployment, StatefulSet, DaemonSet or CronJob discovery found in a namespace.

    It ``runs_on`` its namespace (a relationship edge, so impact analysis walks from a namespace to what
    runs in it), and its container images are software installations on it (product = registry and
    repository, version = tag or digest).  ``replicas`` is what the workload asks for (for a DaemonSet:
    the nodes it should run on), ``ready`` what the server reports ready.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="workloads")
    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="workloads")
    kind = models.CharField(max_length=20, choices=WorkloadKind.choices)
    name = models.CharField(max_length=253)
    replicas = models.PositiveIntegerField(null=True, blank=True)
    ready = models.PositiveIntegerField(null=True, blank=True)
    images = models.JSONField(default=list, blank=True, help_text="Container images of its pod template")
    stale = models.BooleanField(default=False, editable=False, help_text="Seen on the cluster before, gone now")

    search_fields = ("name", "description")
    snapshot_exclude = frozenset({"created", "last_updated", "ci", "last_seen", "ready"})

    class Meta:
        ordering = ("cluster", "namespace", "kind", "name")
        constraints = [models.UniqueConstraint(fields=["namespace", "kind", "name"], name="k8s_workload_unique")]
