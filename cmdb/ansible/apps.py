from django.apps import AppConfig


class AnsibleConfig(AppConfig):
    name = "cmdb.ansible"
    label = "cmdb_ansible"
    verbose_name = "Ansible"
