from django.apps import AppConfig


class AnsibleConfig(AppConfig):
    name = "playbooks"
    label = "cmdb_ansible"
    verbose_name = "Ansible"
