from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "cmdb.users"
    label = "users"
    verbose_name = "Users and permissions"
