"""The README's curl session, run as written against the real server (only `API=` changes)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from tests.api.conftest import Api

ROOT = Path(__file__).resolve().parents[2]


def readme_session() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## HTTP API", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's HTTP API section has no sh block"
    return block.group(1)


async def test_the_readme_curl_session_works(api: Api, database_url: str) -> None:
    script = readme_session().replace("API=http://127.0.0.1:9000", f"API={api.url}")
    assert f"API={api.url}" in script
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    out = stdout.decode()
    assert process.returncode == 0, out + stderr.decode()
    assert '"email":"rosa.diaz@example.com"' in out
    assert '"workflow_id":"create-customers-' in out
    assert re.search(r'"customers":\[\{"id":"cus_\w+"\}\],"count":1', out)
    key_line = out.strip().splitlines()[-1]
    assert re.fullmatch(r"publishable key apk_\w+ \(web store\): pk_\w+", key_line), key_line
    assert "Traceback" not in out + stderr.decode()
