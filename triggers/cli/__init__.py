"""`customers`: the command line over `CustomerFlows`.

Every trigger runs a durable workflow and prints its result with the Web UI link of the run;
`--no-wait` prints the workflow id and returns at once, `--json` prints machine-readable output.
Errors print their type and message (no stack trace) and exit with status 1.

`common` holds the `main` group and what the commands share; importing the command modules
registers their commands on it.
"""

from api.cli import add_commands
from triggers.cli import addresses, bulk, customers, groups, operations
from triggers.cli.common import main

add_commands(main)  # the HTTP API's commands: users, api-keys, serve

__all__ = ["addresses", "bulk", "customers", "groups", "main", "operations"]
