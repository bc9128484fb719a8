from cmdb.core.domains import DomainConfig


class UsersConfig(DomainConfig):
    name = "cmdb.users"
    label = "users"
    verbose_name = "Users and permissions"
    api_urls = ("users", ".api.urls")
    jobs_module = ".jobs"  # users.ldap_sync
    receivers_module = ".directory"
    generic_admin = True
