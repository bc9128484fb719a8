from cmdb.core.domains import DomainConfig, import_declared


class UiConfig(DomainConfig):
    name = "cmdb.ui"
    label = "ui"
    verbose_name = "Web UI"

    def ready(self) -> None:
        super().ready()
        # Every app's pages, menu entries and CI-page panels: the UI modules the apps declare
        # (``ui_module``, see cmdb/core/domains.py), in INSTALLED_APPS order.
        import_declared("ui_module")
        # Django's admin has its own password-only login form; send it through ours so the
        # second factor and the rate limit apply there too.
        from django.contrib import admin

        from .views.auth import admin_login

        admin.site.login = admin_login
        # Every login (the UI's, a test client's force_login, any future one) starts the session's lifetime.
        from django.contrib.auth.signals import user_logged_in

        from .middleware import session_started

        user_logged_in.connect(session_started, dispatch_uid="cmdb.ui.session_started")
