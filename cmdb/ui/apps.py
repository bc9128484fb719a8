from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "cmdb.ui"
    label = "ui"
    verbose_name = "Web UI"

    def ready(self) -> None:
        # Pages of the core apps, then any app's own ``ui`` module.
        from . import builtin, registry

        builtin.register_all()
        registry.autodiscover()
        # Django's admin has its own password-only login form; send it through ours so the
        # second factor and the rate limit apply there too.
        from django.contrib import admin

        from .views.auth import admin_login

        admin.site.login = admin_login
        # Every login (the UI's, a test client's force_login, any future one) starts the session's lifetime.
        from django.contrib.auth.signals import user_logged_in

        from .middleware import session_started

        user_logged_in.connect(session_started, dispatch_uid="cmdb.ui.session_started")
