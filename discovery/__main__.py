"""``python -m discovery <agent> ...``: see discovery/cli.py."""

from discovery.cli import main

main()
