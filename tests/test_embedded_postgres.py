"""The embedded PostgreSQL's commands run as an unprivileged user when we are root (as ourselves
otherwise): they must reach the binaries wherever the project was cloned, even before this
process made a cluster."""

from __future__ import annotations

from pathlib import Path

from devstack.postgres import POSTGRES_BIN_PATH, EmbeddedPostgres


def test_a_cluster_found_on_disk_is_checked_though_the_binaries_sit_below_a_private_folder(
    tmp_path: Path,
) -> None:
    # A stale cluster, as a killed session leaves it: a data folder this process did not make.
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("17\n")
    # A fresh clone in a folder from `mktemp -d` (mode 0700): the server user may not enter it.
    private = POSTGRES_BIN_PATH.parent.parent
    mode = private.stat().st_mode
    private.chmod(0o700)
    try:
        assert EmbeddedPostgres(data, 0).is_running() is False
    finally:
        private.chmod(mode)
