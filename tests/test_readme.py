"""Every shell command the README shows works as written in a fresh shell in the repository.

The commands come from the README's `sh` blocks and its inline code. Each is checked cheaply,
without running the bot: a make target through `make -n` (its variables must reach the recipe,
whose `pterodisbot` arguments are then parsed as below), `.venv/bin/python -m pterodisbot ...`
parsed by the CLI's own parser run by `.venv/bin/python`, files a `cp`/`docker` command needs.
A command no check knows fails, so a new README command cannot slip past.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
from collections.abc import Callable

import pytest
import yaml

from tests.processes import REPO

README = REPO / "README.md"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
# What a README command may start with; inline code starting otherwise is not a command.
_COMMAND_WORDS = frozenset({"make", "python", "python3", "cp", "docker", "sudo", "source"})
_SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")
_RULE = re.compile(r"^([A-Za-z][\w-]*):", re.MULTILINE)
# Parses a command line with the CLI's own parser (exit 2 and argparse's message if it is wrong).
_PARSE = "import sys; from pterodisbot.__main__ import _parser; _parser().parse_args(sys.argv[1:])"


def readme_commands(text: str) -> list[str]:
    """Return the shell commands of a README: `sh` block lines and inline command code."""
    commands: list[str] = []
    for language, body in _FENCE.findall(text):
        if language not in _SHELL_LANGUAGES:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            # A comment starts at a '#' after a space; `#` inside a word is not one.
            command = re.split(r"\s#", " " + line, maxsplit=1)[0].strip()
            if command:
                commands.append(" ".join(command.split()))
    prose = _FENCE.sub("", text)
    for span in _INLINE.findall(prose):
        words = span.split()
        if words and (words[0] in _COMMAND_WORDS or words[0].startswith((".venv/", "./"))):
            commands.append(" ".join(words))
    return commands


def fresh_shell_env() -> dict[str, str]:
    """Return what a new shell has: PATH (without this checkout's venv), HOME, LANG."""
    venv_bin = str(REPO / ".venv" / "bin")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env = {k: os.environ[k] for k in ("HOME", "LANG") if k in os.environ}
    return {**env, "PATH": path}


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=REPO,
        env=fresh_shell_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_cli(args: list[str]) -> None:
    """Assert `.venv/bin/python -m pterodisbot <args>` names a real subcommand and real flags."""
    assert VENV_PYTHON.exists(), ".venv/bin/python is missing: run `make venv` first"
    parsed = _run([str(VENV_PYTHON), "-c", _PARSE, *args])
    assert parsed.returncode == 0, f"pterodisbot {' '.join(args)}: {parsed.stderr.strip()}"


def check_python(words: list[str]) -> None:
    """Accept `.venv/bin/python -m pterodisbot ...` only: a bare `python` is not the venv's."""
    assert words[0] == ".venv/bin/python", (
        f"{words[0]!r} outside .venv has none of the requirements: write .venv/bin/python or a "
        "make target"
    )
    assert words[1:3] == ["-m", "pterodisbot"], f"only `-m pterodisbot` is checked, not {words}"
    check_cli(words[3:])


def check_make(words: list[str]) -> None:
    """Assert the targets exist, every VAR=value reaches the recipe, and its CLI call parses."""
    targets = [w for w in words[1:] if "=" not in w]
    values = [w.partition("=")[2] for w in words[1:] if "=" in w]
    assert targets, f"{' '.join(words)}: name a target"
    # Read from the Makefile: `make -n` takes any existing file or folder (deploy/) as a target.
    rules = set(_RULE.findall((REPO / "Makefile").read_text(encoding="utf-8")))
    for target in targets:
        assert target in rules, f"{' '.join(words)}: no rule {target!r} in the Makefile"
    # -n prints the recipe without running it (a $(MAKE) line runs, with -n handed down).
    dry = _run(["make", "-n", "--no-print-directory", *words[1:]])
    assert dry.returncode == 0, f"{' '.join(words)}: {dry.stderr.strip()}"
    for value in values:
        assert value in dry.stdout, f"{' '.join(words)}: {value!r} never reaches the recipe"
    for line in dry.stdout.splitlines():
        argv = shlex.split(line)
        if argv[:3] == [".venv/bin/python", "-m", "pterodisbot"]:
            check_cli(argv[3:])


def check_cp(words: list[str]) -> None:
    """Assert the file copied is in the repository."""
    source = words[1]
    assert (REPO / source).is_file(), f"{' '.join(words)}: no {source} in the repository"


def check_docker(words: list[str]) -> None:
    """Assert what a docker command needs from the repository is there (no engine runs here)."""
    sub = words[1]
    if sub == "build":
        context = REPO / words[-1]
        assert (context / "Dockerfile").is_file(), f"{' '.join(words)}: no Dockerfile"
    elif sub == "run":
        for option, value in itertools.pairwise(words):
            if option == "--env-file":
                assert value == ".env", f"{' '.join(words)}: the README makes .env, not {value}"
            if option == "-v" and value.startswith('"$PWD/'):
                local = value.removeprefix('"$PWD/').partition(":")[0]
                assert (REPO / local).exists(), f"{' '.join(words)}: no {local}"
    elif sub == "compose":
        compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
        services = compose["services"].values()
        profiles = {p for service in services for p in service.get("profiles", [])}
        for option, value in itertools.pairwise(words):
            if option == "--profile":
                assert value in profiles, f"{' '.join(words)}: docker-compose.yml has no {value}"
        assert words[-2:] == ["up", "-d"], words
    else:
        # Commands on the running container: nothing in the repository to check.
        assert sub in {"logs", "stop", "kill"}, f"no check knows `docker {sub}`"


def check_sudo(words: list[str]) -> None:
    """Assert `sudo chown UID:GID` names the uid the image runs as."""
    assert words[1] == "chown", f"no check knows `sudo {words[1]}`"
    uid = words[2].partition(":")[0]
    assert f"--uid {uid} " in (REPO / "Dockerfile").read_text(encoding="utf-8"), words


CHECKS: dict[str, Callable[[list[str]], None]] = {
    "make": check_make,
    ".venv/bin/python": check_python,
    "python": check_python,
    "python3": check_python,
    "cp": check_cp,
    "docker": check_docker,
    "sudo": check_sudo,
}
# Each command once, in README order, named by itself in the test ids.
COMMANDS = list(dict.fromkeys(readme_commands(README.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
def test_readme_command_works_as_written_in_a_fresh_shell(command: str) -> None:
    words = shlex.split(command)
    check = CHECKS.get(words[0])
    assert check is not None, f"README command {command!r}: no check knows {words[0]!r}; add one"
    check(words)


def test_readme_lists_the_make_targets_and_every_subcommand() -> None:
    assert {"make demo", "make test", "make bench", "make venv"} <= set(COMMANDS)
    shown = {c.split()[3] for c in COMMANDS if c.startswith(".venv/bin/python -m pterodisbot ")}
    assert shown == {"check-config", "doctor", "run"}
    assert "make demo PORT=9000 SERVERS=20" in COMMANDS


def test_extraction_finds_block_lines_and_inline_commands_but_not_other_code() -> None:
    text = (
        "Run `make demo PORT=1` or `python:3.12-slim` and `config.ini`.\n"
        "```sh\nmake test   # all of it\ndocker run -d \\\n  img\n```\n"
        "```\nconfiguration has 2 problem(s):\n```\n"
    )
    assert readme_commands(text) == ["make test", "docker run -d img", "make demo PORT=1"]


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        ("python -m pterodisbot demo --port 9000", "outside .venv"),
        (".venv/bin/python -m pterodisbot demo --prot 9000", "unrecognized arguments: --prot"),
        (".venv/bin/python -m pterodisbot serve", "invalid choice: 'serve'"),
        ("make deploy", "no rule 'deploy' in the Makefile"),
        ("make run PORT=9000", "'9000' never reaches the recipe"),
    ],
)
def test_a_command_that_would_fail_is_caught(command: str, complaint: str) -> None:
    words = shlex.split(command)
    with pytest.raises(AssertionError, match=re.escape(complaint)):
        CHECKS[words[0]](words)
