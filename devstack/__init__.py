"""Embedded servers for development and tests: PostgreSQL and the Temporal dev server."""

from devstack.postgres import EmbeddedPostgres
from devstack.temporal import TemporalDevServer, temporal_cli_path

__all__ = ["EmbeddedPostgres", "TemporalDevServer", "temporal_cli_path"]
