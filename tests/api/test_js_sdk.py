"""Compatibility with Medusa's own client: `@medusajs/js-sdk` 2.21.2 (pinned in js/package.json,
installed with `npm ci` into js/node_modules) drives the real server through admin login,
customers, addresses, groups and batch membership, API keys, store registration and /me. The
script is first type-checked against the SDK's declared types (`tsc`, @medusajs/types 2.21.2)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from tests.api.conftest import PASSWORD, Api, unique_email

JS = Path(__file__).resolve().parent / "js"


def install_sdk() -> None:
    """`npm ci` from the lock file when the pinned SDK is not installed yet."""
    installed = JS / "node_modules" / "@medusajs" / "js-sdk" / "package.json"
    if not installed.exists():
        npm = shutil.which("npm")
        assert npm, "npm is required (make test installs nodejs and npm)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            check=True,
            timeout=600,
            capture_output=True,
        )
    assert '"version": "2.21.2"' in installed.read_text()


async def test_medusa_js_sdk_drives_the_api(api: Api) -> None:
    node = shutil.which("node")
    assert node, "node is required (make test installs nodejs and npm)"
    await asyncio.to_thread(install_sdk)
    typecheck = await asyncio.to_thread(
        subprocess.run,
        [node, "node_modules/typescript/bin/tsc", "-p", "tsconfig.json"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr
    email = unique_email("sdk-admin")
    await api.services.auth.create_user(email, PASSWORD)
    env = {
        **os.environ,
        "BASE_URL": api.url,
        "ADMIN_EMAIL": email,
        "ADMIN_PASSWORD": PASSWORD,
        "RUN": uuid.uuid4().hex[:12],
    }
    process = await asyncio.create_subprocess_exec(
        node,
        "compat.mjs",
        cwd=JS,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=240)
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 0, output
    assert output.startswith("ok ") and int(output.split()[1]) >= 50, output
