from cmdb.core.domains import DomainConfig


class ChangesConfig(DomainConfig):
    name = "cmdb.changes"
    label = "changes"
    verbose_name = "Change management"
