"""Customer data printed by the `customers` CLI is text, never Rich markup (docs/security.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from triggers.cli.common import GROUP_COLUMNS, show_rows

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ("[/]", "[link=https://evil.example]pay here[/link]", "[bold red]x", "\\[escaped]")


@pytest.mark.parametrize("name", HOSTILE)
def test_table_cells_print_verbatim(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    show_rows([{"id": "cusgroup_1", "name": name, "created_at": None}], GROUP_COLUMNS, "g", False)
    printed = capsys.readouterr().out
    assert name in printed
    assert "\x1b]8;" not in printed  # no terminal hyperlink


def test_error_line_prints_user_text_verbatim() -> None:
    """An error message quoting user input (here a malformed --address) does not crash the
    command as markup: it prints as typed, with the documented exit status 1."""
    command = ["create", "--email", "a@example.com", "--address", "[/] [bold]x"]
    result = subprocess.run(
        [sys.executable, "-m", "triggers.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "", "TEMPORAL_ADDRESS": ""},
    )
    assert result.returncode == 1, result.stderr
    assert "invalid_data" in result.stderr
    assert "[/] [bold]x" in result.stderr
    assert "Traceback" not in result.stderr
