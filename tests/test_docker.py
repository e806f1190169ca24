"""The Dockerfile, .dockerignore, docker-compose.yml and deploy/ files, checked without Docker.

There is no Docker engine here: these tests read the files and check the essentials; the
install steps themselves run in a fresh venv in `scripts/docker-install-check.sh` (`make test`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from pterodisbot.config import settings_from_sections

REPO = Path(__file__).resolve().parents[1]


def instructions(path: Path = REPO / "Dockerfile") -> list[tuple[str, str]]:
    """Return the Dockerfile's instructions as (KEYWORD, arguments), continuations joined."""
    found: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.endswith("\\"):
            current += raw[:-1] + " "
            continue
        line = (current + raw).strip()
        current = ""
        keyword, _, rest = line.partition(" ")
        found.append((keyword.upper(), " ".join(rest.split())))
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions()


def _first(steps: list[tuple[str, str]], keyword: str, contains: str = "") -> int:
    for index, (word, rest) in enumerate(steps):
        if word == keyword and contains in rest:
            return index
    raise AssertionError(f"no {keyword} {contains!r} in the Dockerfile")


def test_base_image_is_python_312_slim_pinned_to_an_exact_release(dockerfile) -> None:
    froms = [rest for word, rest in dockerfile if word == "FROM"]
    assert len(froms) == 1
    image = froms[0].split()[0]
    # python:3.12.<patch>-slim-<debian release>, optionally @sha256:...; never latest or 3.12-slim.
    assert re.fullmatch(r"python:3\.12\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image


def test_runs_as_a_non_root_user(dockerfile) -> None:
    users = [(i, rest) for i, (word, rest) in enumerate(dockerfile) if word == "USER"]
    assert users, "no USER: the bot would run as root"
    index, user = users[-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert index < _first(dockerfile, "ENTRYPOINT")
    # The user is created in the image, with the fixed uid the README tells hosts to chown to.
    assert "useradd --system --uid 10001" in dockerfile[_first(dockerfile, "RUN", "useradd")][1]


def test_requirements_are_installed_in_their_own_layer_before_the_code(dockerfile) -> None:
    copy_requirements = _first(dockerfile, "COPY", "requirements.txt")
    install = _first(dockerfile, "RUN", "pip install --no-cache-dir -r requirements.txt")
    copy_code = _first(dockerfile, "COPY", "pterodisbot ")
    assert dockerfile[copy_requirements][1].split()[0] == "requirements.txt"
    assert copy_requirements < install < copy_code
    # Nothing but requirements.txt is copied before the dependency layer.
    copies_before = [r for w, r in dockerfile[:install] if w == "COPY"]
    assert copies_before == [dockerfile[copy_requirements][1]]


def test_healthcheck_probes_the_health_endpoint(dockerfile) -> None:
    [health] = [rest for word, rest in dockerfile if word == "HEALTHCHECK"]
    assert "--start-period=" in health
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command == ["python", "-m", "pterodisbot.web.probe"]
    assert (REPO / "pterodisbot" / "web" / "probe.py").is_file()
    env = dict(_env(dockerfile))
    assert env["PTERODISBOT_HTTP_ENABLED"] == "true"
    assert env["PTERODISBOT_HTTP_HOST"] == "0.0.0.0"
    [expose] = [rest for word, rest in dockerfile if word == "EXPOSE"]
    assert expose == env["PTERODISBOT_HTTP_PORT"]


def _env(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for word, rest in dockerfile:
        if word == "ENV":
            pairs += [tuple(item.split("=", 1)) for item in shlex.split(rest)]  # type: ignore[misc]
    return pairs


def test_environment_names_real_settings_and_puts_state_in_the_volumes(dockerfile) -> None:
    env = dict(_env(dockerfile))
    config_path = PurePosixPath(env["PTERODISBOT_CONFIG"])
    volumes = json.loads(next(rest for word, rest in dockerfile if word == "VOLUME"))
    assert volumes == ["/app/embed", "/app/data"]
    secrets = {"DISCORD_TOKEN": "x" * 30, "PTERODACTYL_API_KEY": "ptlc_" + "a" * 40}
    overrides = {k: v for k, v in env.items() if k.startswith("PTERODISBOT_")}
    overrides.pop("PTERODISBOT_CONFIG")
    settings = settings_from_sections(
        {"pterodactyl": {"url": "https://panel.example.com"}},
        env=overrides | secrets,
        base_dir=Path(str(config_path.parent)),
    )
    # The default relative locations_file lands in the embed/ volume, beside the config.
    locations = PurePosixPath(str(settings.discord.locations_file))
    assert locations.parent == PurePosixPath("/app/embed")
    assert settings.http.enabled


def test_sigterm_is_the_stop_signal_and_the_entrypoint_runs_the_bot(dockerfile) -> None:
    assert ("STOPSIGNAL", "SIGTERM") in dockerfile
    assert json.loads(next(r for w, r in dockerfile if w == "ENTRYPOINT")) == [
        "python",
        "-m",
        "pterodisbot",
    ]
    assert json.loads(next(r for w, r in dockerfile if w == "CMD")) == ["run"]


def _ignored(patterns: list[str], path: str) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/")
        hit = fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(path, bare + "/*")
        if bare.startswith("**/"):
            hit = hit or fnmatch.fnmatch(path.rsplit("/", 1)[-1], bare[3:])
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_state_out_but_not_what_is_copied(dockerfile) -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".env", ".venv", "embed/embed_locations.json", "data/bot.log", ".git", "tests"):
        assert _ignored(patterns, path), path
    copied = [rest.split()[:-1] for word, rest in dockerfile if word == "COPY"]
    for sources in copied:
        for source in sources:
            assert not _ignored(patterns, source), source
            assert (REPO / source).exists(), source


def test_the_image_installs_the_bot_but_not_the_sandboxes(dockerfile) -> None:
    sources = [s for word, rest in dockerfile if word == "COPY" for s in rest.split()[:-1]]
    assert "pterodisbot" in sources
    assert not [s for s in sources if s.startswith("pterodisbot_sandbox")], sources
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert _ignored([line.strip() for line in lines if line.strip()], "pterodisbot_sandbox")
    # The install check proves it in a fresh venv: no sandbox package, and `demo` says why.
    script = (REPO / "scripts" / "docker-install-check.sh").read_text(encoding="utf-8")
    assert "import pterodisbot_sandbox" in script
    assert "python -m pterodisbot demo" in script


# ------------------------------------------------------------------ compose and deploy/


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    return data


def test_compose_runs_the_bot_with_mounted_config_env_secrets_and_volumes(compose) -> None:
    bot = compose["services"]["pterodisbot"]
    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert "./config.ini:/app/config.ini:ro" in bot["volumes"]
    assert {"embed:/app/embed", "data:/app/data"} <= set(bot["volumes"])
    assert bot["stop_signal"] == "SIGTERM"
    assert bot["stop_grace_period"] == "10s"
    assert "profiles" not in bot  # `docker compose up` starts the bot alone
    assert "ports" not in bot  # metrics stay inside the compose network


def test_compose_monitoring_profile_has_prometheus_and_grafana_on_loopback(compose) -> None:
    for name in ("prometheus", "grafana"):
        service = compose["services"][name]
        assert service["profiles"] == ["monitoring"]
        assert all(port.startswith("127.0.0.1:") for port in service["ports"]), name
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), volume
        image = service["image"]
        assert re.search(r":v?\d+\.\d+\.\d+$", image), image  # pinned, not latest


def test_prometheus_scrapes_the_bot_service_on_its_metrics_port(compose) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text("utf-8"))
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    port = compose["services"]["pterodisbot"]["environment"]["PTERODISBOT_HTTP_PORT"]
    assert job["static_configs"][0]["targets"] == [f"pterodisbot:{port}"]


def test_grafana_provisions_the_datasource_and_the_dashboard_folder() -> None:
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    [source] = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090"
    dashboards = yaml.safe_load((provisioning / "dashboards" / "pterodisbot.yml").read_text())
    [provider] = dashboards["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/pterodisbot.json").read_text())
    uids = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {source["uid"]}
    titles = {panel["title"] for panel in dashboard["panels"]}
    for wanted in ("Servers watched", "CPU (% of one core)", "Memory", "Resources request latency"):
        assert wanted in titles
    assert "Errors (not 2xx)" in titles
    assert "HTTP 429s and gateway drops" in titles


def test_make_test_runs_the_docker_install_check() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "scripts/docker-install-check.sh" in makefile
    script = REPO / "scripts" / "docker-install-check.sh"
    assert script.stat().st_mode & 0o111
