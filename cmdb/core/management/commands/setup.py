"""First-run setup: migrate, load the demo, create the admin and its token."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cmdb.users.services import admin_ensure, token_create


class Command(BaseCommand):
    help = (
        "Prepare an instance: apply migrations, collect static files, load the demo university "
        "(unless --no-demo) and create the 'admin' superuser with an API token. The password and the "
        "token are printed once, when they are created; running setup again changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
        parser.add_argument("--admin", default="admin", help="name of the superuser to create (default admin)")

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        from cmdb.core.domains import setup_steps

        for step in setup_steps():
            said = step()
            if said:
                self.stdout.write(str(said))
        if not opts["no_demo"]:
            call_command("demo", quiet=False)
        User = get_user_model()
        if User.objects.filter(username=opts["admin"]).exists():
            self.stdout.write(f"User {opts['admin']!r} exists; its password and tokens are unchanged.")
            return
        password = secrets.token_urlsafe(15)
        user, _created = admin_ensure(opts["admin"], f"{opts['admin']}@localhost", password)
        _token, key = token_create(user=user, write_enabled=True, description="created by cmdb setup")
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\nCreated superuser {user.username!r}. Shown once — store them now:\n"
            f"  password:  {password}\n  API token: {key}   (read-write)\n"
            f"Try: curl -H 'Authorization: Token {key}' http://127.0.0.1:8000/api/dcim/devices/?limit=5\n{bar}"
        )
