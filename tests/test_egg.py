"""deploy/egg-pterodisbot.json: the panel's egg import format, and settings the bot accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pterodisbot.config import load_settings

REPO = Path(__file__).resolve().parents[1]
EGG = REPO / "deploy" / "egg-pterodisbot.json"

# Pterodactyl's EggVariable::RESERVED_ENV_NAMES: the panel refuses these as variable names.
RESERVED = {"SERVER_MEMORY", "SERVER_IP", "SERVER_PORT", "ENV", "HOME", "USER", "STARTUP"}
RESERVED |= {"SERVER_UUID", "UUID"}
# What Wings sets for every server, usable in the startup command without a variable.
BUILT_IN = {"SERVER_MEMORY", "SERVER_IP", "SERVER_PORT", "STARTUP", "P_SERVER_UUID", "TZ"}
# The Laravel rules the panel validates variable values with (the ones this egg may use).
KNOWN_RULES = {"required", "nullable", "string", "integer", "boolean", "url", "max", "min"}
KNOWN_RULES |= {"between", "in", "regex", "starts_with", "numeric", "alpha_dash"}


@pytest.fixture(scope="module")
def egg() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EGG.read_text(encoding="utf-8"))
    return data


def test_egg_has_every_field_the_panel_import_reads(egg: dict[str, Any]) -> None:
    # app/Services/Eggs/Sharing/EggImporterService.php (PTDL_v2)
    assert egg["meta"]["version"] == "PTDL_v2"
    assert isinstance(egg["name"], str)
    assert egg["name"]
    assert isinstance(egg["author"], str)
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", egg["author"])
    assert isinstance(egg["description"], str)
    images = egg["docker_images"]
    assert isinstance(images, dict)
    assert images
    assert all(isinstance(k, str) and isinstance(v, str) and ":" in v for k, v in images.items())
    assert isinstance(egg["startup"], str)
    assert egg["startup"]
    assert isinstance(egg["file_denylist"], list)
    install = egg["scripts"]["installation"]
    assert {"script", "container", "entrypoint"} <= set(install)
    assert install["script"].startswith("#!/bin/bash")


def test_egg_config_holds_json_strings_as_the_panel_stores_them(egg: dict[str, Any]) -> None:
    config = egg["config"]
    assert set(config) == {"files", "startup", "logs", "stop"}
    for key in ("files", "startup", "logs"):
        assert isinstance(config[key], str), key
        assert isinstance(json.loads(config[key]), dict), key
    # Wings marks the server "running" when a console line contains this text.
    done = json.loads(config["startup"])["done"]
    assert done == "connected to Discord as "
    # ^C is SIGINT: the bot's clean shutdown (flush state, close the gateway).
    assert config["stop"] == "^C"


def test_the_ready_marker_is_what_the_bot_logs_once_connected() -> None:
    lifecycle = (REPO / "pterodisbot" / "lifecycle.py").read_text(encoding="utf-8")
    assert '"connected to Discord as %s in %d guild(s): %s"' in lifecycle


def test_egg_variables_are_valid_panel_variables(egg: dict[str, Any]) -> None:
    variables = egg["variables"]
    names = [v["env_variable"] for v in variables]
    assert len(names) == len(set(names))
    for variable in variables:
        assert set(variable) >= {
            "name",
            "description",
            "env_variable",
            "default_value",
            "user_viewable",
            "user_editable",
            "rules",
            "field_type",
        }
        env = variable["env_variable"]
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", env), env
        assert env not in RESERVED, env
        assert isinstance(variable["default_value"], str), env
        assert isinstance(variable["user_viewable"], bool), env
        assert isinstance(variable["user_editable"], bool), env
        assert len(variable["name"]) <= 191, env
        rules = variable["rules"].split("|")
        assert {rule.split(":", 1)[0] for rule in rules} <= KNOWN_RULES, env
        assert ("required" in rules) != ("nullable" in rules), env


def test_startup_uses_only_defined_variables(egg: dict[str, Any]) -> None:
    defined = {v["env_variable"] for v in egg["variables"]}
    startup = egg["startup"]
    braces = set(re.findall(r"\{\{([A-Z0-9_]+)\}\}", startup))
    dollars = set(re.findall(r"\$\{([A-Z0-9_]+)\}", startup))
    assert braces <= defined
    assert dollars <= defined | BUILT_IN
    assert "python -m pterodisbot run" in startup
    assert "PTERODISBOT_HTTP_PORT=${SERVER_PORT}" in startup


def test_egg_defaults_with_the_example_config_make_valid_settings(
    egg: dict[str, Any], tmp_path: Path
) -> None:
    # What the panel hands the bot: every variable's default, plus the three the admin fills in.
    env = {v["env_variable"]: v["default_value"] for v in egg["variables"]}
    env |= {
        "DISCORD_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456",
        "PTERODACTYL_URL": "https://panel.example.net",
        "PTERODACTYL_API_KEY": "ptlc_Z9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeDcBaZyX",
        "PTERODISBOT_HTTP_HOST": "0.0.0.0",
        "PTERODISBOT_HTTP_PORT": "25565",
    }
    config = tmp_path / "config.ini.local"
    config.write_text((REPO / "config.ini").read_text(encoding="utf-8"), encoding="utf-8")

    settings = load_settings(config, env=env)

    assert settings.pterodactyl.url == "https://panel.example.net"
    assert settings.monitoring.poll_interval == 10
    assert settings.http.enabled is True
    assert settings.http.port == 25565
    assert settings.discord.locations_file == tmp_path / "embed" / "embed_locations.json"


def test_install_script_installs_the_pinned_requirements(egg: dict[str, Any]) -> None:
    script = egg["scripts"]["installation"]["script"]
    # Packages land in .local/lib/python3.12: the runtime image must be that same Python.
    assert egg["scripts"]["installation"]["container"].startswith("python:3.12")
    assert all(image.endswith(":python_3.12") for image in egg["docker_images"].values())
    assert "-r requirements.txt" in script
    assert "--prefix /mnt/server/.local" in script
    assert "cp config.ini config.ini.local" in script
    assert "\r" not in script
