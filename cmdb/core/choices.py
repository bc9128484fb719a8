"""Choice sets shared by every configuration item."""

from django.db import models


class LifecycleStatus(models.TextChoices):
    """The lifecycle every CI goes through; reconcilers act only on some states."""

    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "Maintenance"
    RETIRED = "retired", "Retired"
    DISPOSED = "disposed", "Disposed"


class Criticality(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    #: A record of an erasure: which change records had their personal data blanked, by whom and why.
    ERASE = "erase", "Erased"
