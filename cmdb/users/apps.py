from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "cmdb.users"
    label = "users"
    verbose_name = "Users and permissions"

    def ready(self) -> None:
        from .directory import connect_signals

        connect_signals()
