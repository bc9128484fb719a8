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
    try:
        execute_from_command_line(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # ``cmdb impact core-zi-01 | head``: the reader has what it wanted and closed the pipe. Quietly
        # end like other Unix tools (exit status 141 = 128 + SIGPIPE), without a traceback, and point
        # stdout at /dev/null so the interpreter's final flush does not raise the same error again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(128 + 13)


if __name__ == "__main__":
    main()
