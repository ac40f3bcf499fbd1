"""End to end, as a new user would: `python -m devstack` (what `make dev` runs) in one process, the
`customers` CLI in others, and headless Chromium on the Web UI. The stack runs with a PII key, so
the UI must show the decrypted email through the codec server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "customers")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic",
]  # fmt: skip


class Stack:
    def __init__(self, root: Path) -> None:
        ui_port = free_port()
        self.ui = f"http://127.0.0.1:{ui_port}"
        self.env = {
            **{k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")},
            "DATA_DIR": str(root / "data"),
            "EMBEDDED_POSTGRES_PORT": str(free_port()),
            "TEMPORAL_PORT": str(free_port()),
            "TEMPORAL_UI_PORT": str(ui_port),
            "TEMPORAL_UI_URL": self.ui,
            "CODEC_SERVER_PORT": str(free_port()),
            "CODEC_CORS_ORIGINS": self.ui,
            "PII_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
            "PII_TAG_KEY_ID": "k1",
            "METRICS_PORT": str(free_port()),
            "API_PORT": str(free_port()),
        }  # fmt: skip
        self.log = root / "stack.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = len(self.output())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=self.env,
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "customer-flows is running" not in self.output()[offset:]:
            assert self.process.poll() is None, f"make dev exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"make dev did not come up:\n{self.output()}"
            time.sleep(0.5)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(60)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def admin_login(self) -> tuple[str, str]:
        """The first admin login the banner printed (the last one, after a restart)."""
        lines = [ln for ln in self.output().splitlines() if ln.strip().startswith("Admin login")]
        assert lines, self.output()
        email, password = lines[-1].split()[-3::2]
        return email, password

    def api(self, method: str, path: str, body: object = None, token: str = "") -> object:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.env['API_PORT']}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"content-type": "application/json"}
            | ({"authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="customer-flows-e2e-"))
    stack = Stack(root)
    stack.start()
    try:
        yield stack
    finally:
        if stack.process and stack.process.poll() is None:
            stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_banner_says_where_to_look(stack: Stack) -> None:
    out = stack.output()
    assert stack.ui in out
    assert "customers create --email" in out
    assert "PII encryption    on" in out
    assert f"HTTP API          http://127.0.0.1:{stack.env['API_PORT']}" in out


def test_the_api_serves_with_the_printed_admin_login(stack: Stack) -> None:
    email, password = stack.admin_login()
    assert email == "admin@example.com" and len(password) >= 12
    password_file = Path(stack.env["DATA_DIR"]) / "admin_password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    login = stack.api("POST", "/auth/user/emailpass", {"email": email, "password": password})
    assert isinstance(login, dict)
    token = login["token"]
    customer_email = f"api.{uuid.uuid4().hex[:6]}@example.com"
    created = stack.api("POST", "/admin/customers", {"email": customer_email}, token)
    assert isinstance(created, dict) and created["customer"]["email"] == customer_email
    listed = stack.api("GET", f"/admin/customers?q={quote(customer_email)}", token=token)
    assert isinstance(listed, dict) and listed["count"] == 1
    # the CLI sees what the API wrote: one database, one worker
    [row] = json.loads(stack.cli("list", "--q", customer_email, "--json").stdout)
    assert row["id"] == created["customer"]["id"]


def test_cli_creates_lists_and_finds_the_run(stack: Stack) -> None:
    email = f"peter.{uuid.uuid4().hex[:6]}@example.com"
    created = stack.cli("create", "--email", email, "--first-name", "Peter",
                        "--address", "city=Berlin,country_code=DE")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert email in created.stdout
    assert f"{stack.ui}/namespaces/default/workflows/create-customers-" in created.stdout

    listed = stack.cli("list", "--q", email, "--json")
    assert listed.returncode == 0, listed.stderr
    [customer] = json.loads(listed.stdout)
    assert customer["email"] == email

    found = stack.cli("runs", "--email", email, "--json")
    assert found.returncode == 0, found.stderr
    runs = json.loads(found.stdout)
    deadline = time.monotonic() + 10
    while not runs and time.monotonic() < deadline:  # visibility is eventually consistent
        time.sleep(0.5)
        runs = json.loads(stack.cli("runs", "--email", email, "--json").stdout)
    assert [r["type"] for r in runs] == ["CreateCustomersWorkflow"]
    assert runs[0]["status"] == "completed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--email", "not-an-email"), "invalid_data"),
        (("create", "--address", "cityBerlin"), "Malformed --address"),
        (("update", "cus_does_not_exist", "--first-name", "X"), "not_found"),
        (("group", "add-customers", "cusgroup_nope", "cus_nope"), "not_found"),
    ],
)
def test_bad_input_prints_a_clear_error_and_changes_nothing(
    stack: Stack, args: tuple[str, ...], message: str
) -> None:
    before = stack.cli("list", "--json", "--with-deleted")
    result = stack.cli(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert stack.cli("list", "--json", "--with-deleted").stdout == before.stdout


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: `make test` installs Debian's chromium"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_web_ui_finds_the_run_and_shows_the_decrypted_email(stack: Stack, tmp_path: Path) -> None:
    email = f"ui.{uuid.uuid4().hex[:6]}@example.com"
    created = stack.cli("create", "--email", email, "--first-name", "Uma", "--json")
    assert created.returncode == 0, created.stderr
    workflow_id = json.loads(created.stdout)["workflow_id"]
    from codec import keys, tags
    from settings import Settings

    # The list page, filtered by CustomerEmail as an operator would (the tag is a keyed hash).
    ring = keys.load_key_ring(Settings(pii_keys=stack.env["PII_KEYS"]))
    assert ring is not None
    import hashlib
    import hmac

    tags.configure(hmac.new(ring.keys["k1"], b"customer-email-tag", hashlib.sha256).digest())
    try:
        query = quote(f'CustomerEmail="{tags.email_tag(email)}"')
    finally:
        tags.configure(None)
    listing = _chromium("--virtual-time-budget=15000", "--dump-dom",
                        f"{stack.ui}/namespaces/default/workflows?query={query}")  # fmt: skip
    assert workflow_id in listing.stdout, listing.stdout[-2000:]

    # The run's page: its input, decrypted by the codec server for the browser.
    page = f"{stack.ui}/namespaces/default/workflows/{workflow_id}"
    detail = _chromium("--virtual-time-budget=20000", "--dump-dom", page)
    assert email in detail.stdout, detail.stdout[-3000:]
    # The README's screenshot: taken every time, written into docs/ only when asked
    # (DOCS_SCREENSHOT=1), so a test run leaves the tree as it found it.
    png = tmp_path / "web-ui-run.png"
    shot = _chromium("--virtual-time-budget=20000", "--window-size=1440,1000",
                     f"--screenshot={png}", page)  # fmt: skip
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.stderr[-2000:]
    assert png.stat().st_size > 20_000, "a blank page"
    if os.environ.get("DOCS_SCREENSHOT") == "1":
        shutil.copyfile(png, ROOT / "docs" / "web-ui-run.png")


def test_web_ui_decrypts_through_the_compose_codec_configuration(stack: Stack) -> None:
    """docker-compose's UI configuration, in the browser: a token-protected codec server (as
    compose runs it), the UI sending credentials (`TEMPORAL_CODEC_INCLUDE_CREDENTIALS`, set here
    through the UI's own codec settings), the operator signed in once at `/login`. Before the
    sign-in the codec server refuses the UI (401) and the page shows no email; after it, the
    run's input is decrypted."""
    from pydantic import SecretStr

    from codec.server import serve
    from settings import Settings
    from tests.e2e.cdp import Browser
    from tests.helpers import serving

    token = uuid.uuid4().hex * 2
    settings = Settings(
        pii_keys=stack.env["PII_KEYS"],
        pii_tag_key_id="k1",
        codec_server_port=free_port(),
        codec_auth_token=SecretStr(token),
        codec_cors_origins=stack.ui,
    )
    server = serve(settings, host="127.0.0.1")
    statuses: list[int] = []
    app = server.config.app

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        async def record(message: Any) -> None:
            if message["type"] == "http.response.start" and scope["path"] == "/decode":
                statuses.append(message["status"])
            await send(message)

        await app(scope, receive, record)

    server.config.app = counted
    email = f"compose.{uuid.uuid4().hex[:6]}@example.com"
    created = stack.cli("create", "--email", email, "--json")
    assert created.returncode == 0, created.stderr
    page = f"{stack.ui}/namespaces/default/workflows/{json.loads(created.stdout)['workflow_id']}"
    codec_url = f"http://127.0.0.1:{settings.codec_server_port}"
    browser = Browser()
    try:
        with serving(server):
            browser.open(f"{stack.ui}/namespaces/default/workflows")
            browser.wait_for(lambda: bool(browser.evaluate("!!document.body")), 30, "the UI")
            ui_settings = {
                "endpoint": codec_url,
                "includeCredentials": True,
                "passAccessToken": False,
                "overrideRemoteCodecConfiguration": True,
            }
            for key, value in ui_settings.items():
                browser.evaluate(
                    f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(value))})"
                )
            browser.open(page)
            browser.wait_for(lambda: 401 in statuses, 30, "the UI to ask the codec server")
            assert email not in browser.html()
            browser.open(f"{codec_url}/login")
            browser.wait_for(lambda: bool(browser.evaluate("!!document.forms[0]")), 10, "login")
            browser.evaluate(
                f"document.forms[0].token.value = {json.dumps(token)}; document.forms[0].submit()"
            )
            browser.wait_for(lambda: "signed in" in browser.html(), 10, "the sign-in")
            browser.open(page)
            browser.wait_for(lambda: email in browser.html(), 40, "the decrypted email")
            assert 200 in statuses
    finally:
        browser.close()


def test_worker_exports_metrics_with_saga_outcomes(stack: Stack) -> None:
    import urllib.request

    assert stack.cli("create", "--email", f"m.{uuid.uuid4().hex[:6]}@example.com").returncode == 0
    assert stack.cli("create", "--email", "not-valid").returncode == 1  # rejected before a run
    url = f"http://127.0.0.1:{stack.env['METRICS_PORT']}/metrics"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                body = response.read().decode()
            if "customer_flows_saga_runs{" in body:
                break
        except OSError:
            body = ""
        assert time.monotonic() < deadline, f"no saga counter at {url}:\n{body[-1500:]}"
        time.sleep(0.5)
    lines = [line for line in body.splitlines() if line.startswith("customer_flows_saga_runs")]
    assert any(
        'outcome="completed"' in line and "CreateCustomersWorkflow" in line for line in lines
    )
    assert "temporal_workflow_completed" in body or "temporal_" in body  # the SDK's own metrics


def test_a_taken_port_is_reported_clearly(stack: Stack, tmp_path: Path) -> None:
    second = Stack(tmp_path)
    second.env["TEMPORAL_PORT"] = stack.env["TEMPORAL_PORT"]  # already served by the first stack
    process = subprocess.run(
        [sys.executable, "-m", "devstack"], cwd=ROOT, env=second.env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert process.returncode == 1
    assert f"port {stack.env['TEMPORAL_PORT']} is taken" in process.stderr
    assert "Traceback" not in process.stderr + process.stdout


def test_ctrl_c_stops_everything_and_a_restart_keeps_the_data(stack: Stack) -> None:
    assert (
        stack.cli("create", "--email", f"keep.{uuid.uuid4().hex[:6]}@example.com").returncode == 0
    )
    before = json.loads(stack.cli("list", "--json").stdout)
    assert before
    assert stack.stop() == 0
    out = stack.output()
    assert "stopped: codec server, HTTP API, worker, Temporal dev server, PostgreSQL" in out
    with pytest.raises(ConnectionRefusedError):  # the codec server exited with the stack
        socket.create_connection(("127.0.0.1", int(stack.env["CODEC_SERVER_PORT"])), 5).close()
    login = stack.admin_login()
    stack.start()
    assert stack.admin_login() == login  # the same admin login after a restart
    listed = stack.cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    after = json.loads(listed.stdout)
    assert [c["id"] for c in after] == [c["id"] for c in before]
    runs = json.loads(stack.cli("runs", "--json", "--limit", "100").stdout)
    assert len(runs) >= 2  # the runs of before the restart are still there (SQLite state file)
