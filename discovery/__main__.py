"""``python -m discovery <agent> ...``: the agents' command line, see discovery/agents/cli.py."""

from discovery.agents.cli import main

main()
