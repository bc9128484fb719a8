"""``cmdb inventory --list | --host NAME``: Ansible's dynamic-inventory script interface.

Use as ``ansible-playbook -i playbooks/inventory/cmdb.sh ...`` (a two-line wrapper)
or through the ``cmdb`` inventory plugin that reads the REST API.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from playbooks.inventory import build_inventory, host_vars


class Command(BaseCommand):
    help = "Print the Ansible inventory of all devices and VMs as JSON (--list) or one host's variables (--host)."

    def add_arguments(self, parser: Any) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--list", action="store_true", help="All groups and host variables")
        group.add_argument("--host", metavar="NAME", help="Variables of one host")
        parser.add_argument("--indent", action="store_true", help="Pretty-print")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            data = build_inventory()
        elif options["host"]:
            data = host_vars(options["host"])
        else:
            raise CommandError("Give --list or --host NAME.")
        flags = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS if options["indent"] else 0
        self.stdout.write(orjson.dumps(data, option=flags).decode())
