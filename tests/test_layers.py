"""The import arrows of docs/architecture.md hold: `make lint` fails on an import that breaks one.

Each case copies the packages and pyproject.toml to a temporary folder, adds one forbidden import
and runs lint-imports there: the contract that covers it must report it broken. Without that
contract in pyproject.toml, the case fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.processes import REPO, subprocess_env

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("pterodisbot", "pterodisbot_sandbox", "tests", "bench")


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _lint_copy(tmp_path: Path, module: str, bad_import: str) -> subprocess.CompletedProcess[str]:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{bad_import}\n", encoding="utf-8")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=subprocess_env(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_pass_on_the_tree_as_it_is(tmp_path: Path) -> None:
    done = _lint_copy(tmp_path, "pterodisbot/units.py", "")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("contract", "module", "bad_import"),
    [
        ("layers", "pterodisbot/monitor.py", "from pterodisbot.bot import views"),
        ("core", "pterodisbot/units.py", "import discord"),
        ("core", "pterodisbot/graphs.py", "import pterodisbot_sandbox.panel"),
        ("panel", "pterodisbot/panel/client.py", "from pterodisbot import monitor"),
        ("sandbox", "pterodisbot_sandbox/_panel_fleet.py", "from pterodisbot import config"),
        ("sandbox-users", "pterodisbot/bot/views.py", "import pterodisbot_sandbox.discord_rules"),
        ("private", "tests/test_monitor.py", "from pterodisbot_sandbox import _panel_fleet"),
    ],
)
def test_an_import_against_the_arrows_breaks_its_contract(
    tmp_path: Path, contract: str, module: str, bad_import: str
) -> None:
    name = str(_contracts()[contract]["name"])
    done = _lint_copy(tmp_path, module, bad_import)
    assert done.returncode != 0, done.stdout
    assert f"{name} BROKEN" in done.stdout, done.stdout


def test_every_core_module_is_a_source_of_the_core_contract() -> None:
    contracts = _contracts()
    layers = contracts["layers"]["layers"]
    assert isinstance(layers, list)
    core_layer = {name.strip().strip("()") for name in layers[-1].split(":")}
    sources = contracts["core"]["source_modules"]
    assert isinstance(sources, list)
    existing = {name for name in core_layer if _exists(name)}
    assert existing == {name.removeprefix("pterodisbot.") for name in sources}


def _exists(name: str) -> bool:
    base = REPO / "pterodisbot" / name
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()
