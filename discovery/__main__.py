"""``python -m discovery <agent> ...``: see discovery/agents/cli.py."""

from discovery.agents.cli import main

main()
