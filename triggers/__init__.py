"""How people reach the system: the `CustomerFlows` Python client and the `customers` CLI."""
