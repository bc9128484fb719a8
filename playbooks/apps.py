from cmdb.core.domains import DomainConfig


class AnsibleConfig(DomainConfig):
    """The Ansible domain: the CMDB's inventory, the Ansible reconciler, and the playbooks and roles it runs.

    The playbooks, roles, inventory plugin and ``ansible.cfg`` in this folder are package data, so an
    installed CMDB runs them from its own package.
    """

    name = "playbooks"
    label = "cmdb_ansible"
    verbose_name = "Ansible"
    api_urls = ("ansible", ".api.urls")
    reconcilers_module = ".reconcilers"
    receivers_module = ".receivers"
