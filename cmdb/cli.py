"""The ``cmdb`` command: Django's management commands with the project's settings.

``cmdb serve``, ``cmdb demo``, ``cmdb token create``, ``cmdb audit verify``
and ``cmdb setup`` are the project's own; every other Django command
(``cmdb migrate``, ``cmdb createsuperuser``, ``cmdb shell``) works as well.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmdb.settings")
    from django.core.management import execute_from_command_line

    args = ["cmdb", *(sys.argv[1:] if argv is None else argv)]
    if len(args) == 1:
        args.append("help")
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
