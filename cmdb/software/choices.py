"""Choice sets of the software and license models."""

from django.db import models


class ProductCategory(models.TextChoices):
    OPERATING_SYSTEM = "os", "Operating system"
    DATABASE = "database", "Database"
    MIDDLEWARE = "middleware", "Middleware / runtime"
    APPLICATION = "application", "Application"
    OFFICE = "office", "Office"
    CAD = "cad", "CAD / engineering"
    STATISTICS = "statistics", "Statistics"
    VIRTUALIZATION = "virtualization", "Virtualization"
    BACKUP = "backup", "Backup"
    SECURITY = "security", "Security"
    MONITORING = "monitoring", "Monitoring"
    DEVELOPMENT = "development", "Development"
    OTHER = "other", "Other"


class VersionScheme(models.TextChoices):
    GENERIC = "generic", "Generic (dpkg-like)"
    SEMVER = "semver", "Semantic versioning"
    DEBIAN = "debian", "Debian epoch:upstream-revision"
    RPM = "rpm", "RPM epoch:version-release"


class LicenseMetric(models.TextChoices):
    USER = "user", "Per user"
    DEVICE = "device", "Per device"
    CORE = "core", "Per core"
    CONCURRENT = "concurrent", "Concurrent"
    SITE = "site", "Site license"
    SUBSCRIPTION = "subscription", "Subscription"
