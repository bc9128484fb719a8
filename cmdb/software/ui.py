"""Web-UI pages for the software models (lists, details, forms through the UI registry)."""

from cmdb.ui.registry import RelatedTable, register, register_link, register_panel

from . import filtersets, models
from .panels import installed_software_panel

register(models.SoftwareProduct, filterset=filtersets.SoftwareProductFilterSet,
         columns=["name", "vendor", "category", "version_scheme", "tags"], group="Software",
         list_filters=["category"],
         related=[RelatedTable("Versions", "software.softwareversion", "product", ("version", "end_of_support"),
                               filter_param="product_id")])
register(models.SoftwareVersion, filterset=filtersets.SoftwareVersionFilterSet,
         columns=["version", "product", "release_date", "end_of_support"], group="Software")
register(models.SoftwareInstallation, filterset=filtersets.SoftwareInstallationFilterSet,
         columns=["ci", "product", "version", "source", "last_seen"], group="Software")
register(models.License, filterset=filtersets.LicenseFilterSet,
         columns=["name", "product", "metric", "quantity", "tenant", "end_date", "cost"], group="Software",
         list_filters=["metric", "tenant"],
         related=[RelatedTable("Assignments", "software.licenseassignment", "license", ("ci", "user", "group"),
                               filter_param="license_id")])
register(models.LicenseAssignment, filterset=filtersets.LicenseAssignmentFilterSet,
         columns=["license", "ci", "user", "group", "description"], group="Software")

register_link("Software", "License compliance", "software-compliance-page", "software.license")
register_link("Software", "Which CIs run a product", "software-which", "software.softwareinstallation")
register_link("Software", "Installed on a CI", "software-installed-on", "software.softwareinstallation")
register_link("Software", "Past end of support", "software-end-of-support", "software.softwareinstallation")
register_panel("*", installed_software_panel)
