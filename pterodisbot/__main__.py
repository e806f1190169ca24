"""Command line: `python -m pterodisbot run | demo | check-config | doctor`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pterodisbot import __version__
from pterodisbot.config import ConfigValidationError, Settings, load_settings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
DEMO_NEEDS_SANDBOX = (
    "pterodisbot demo: this installation has no sandboxes (the Docker image leaves them out); "
    "run `make demo` from a checkout of the repository"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show "—" or "✓" must not turn a report into a traceback.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # `python -m pterodisbot` alone starts the bot, like the original pterodisbot.py did.
        args = parser.parse_args(["run"])
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


def _parser() -> argparse.ArgumentParser:
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="config file (default: $PTERODISBOT_CONFIG or ./config.ini)",
    )
    files.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="file with DISCORD_TOKEN and PTERODACTYL_API_KEY (default: .env beside the config)",
    )

    parser = argparse.ArgumentParser(
        prog="pterodisbot",
        description="Watch and run Pterodactyl/Pelican game servers from Discord.",
    )
    parser.add_argument("--version", action="version", version=f"pterodisbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", parents=[files], help="start the bot (the default)")
    run.set_defaults(handler=_run)
    demo = commands.add_parser(
        "demo", help="run the bot on a simulated panel and a local Discord sandbox"
    )
    demo.add_argument(
        "--port", type=int, default=8765, help="port of the demo page on 127.0.0.1 (default 8765)"
    )
    demo.add_argument("--servers", type=int, default=8, help="simulated game servers (default 8)")
    demo.add_argument("--verbose", action="store_true", help="log what the bot does")
    demo.set_defaults(handler=_demo)
    check = commands.add_parser(
        "check-config", parents=[files], help="validate the configuration and exit"
    )
    check.set_defaults(handler=_check_config)
    doctor = commands.add_parser(
        "doctor",
        parents=[files],
        help="check the configuration, the panel, the API key and the bot token; list the servers",
    )
    doctor.set_defaults(handler=_doctor)
    return parser


def load_or_report(
    config: Path | None, env_file: Path | None, *, require_token: bool = True
) -> Settings | None:
    """Load settings, or print every problem (never a traceback) and return None."""
    try:
        return load_settings(config, dotenv_path=env_file, require_token=require_token)
    except ConfigValidationError as problems:
        print(problems.render(), file=sys.stdout)
        return None


def summary(settings: Settings) -> list[str]:
    """Return a few lines describing the configuration, never showing a secret."""
    panel = settings.pterodactyl
    watch = settings.monitoring
    discord = settings.discord
    guilds = (
        f"{len(discord.guild_ids)} ({', '.join(map(str, discord.guild_ids))})"
        if discord.guild_ids
        else "every guild the bot is in"
    )
    servers = (
        f"{len(watch.servers)} listed ({', '.join(watch.servers)})"
        if watch.servers
        else "every server the API key can see"
    )
    lines = [
        f"panel: {panel.host} ({panel.key_type} key, at most "
        f"{panel.requests_per_minute} requests/min)",
        f"poll interval: {watch.poll_interval:g} s (server list every "
        f"{watch.server_list_refresh:g} s)",
        f"servers: {servers}",
        f"guilds: {guilds}; commands sync: {discord.sync_commands}",
    ]
    if discord.api_base is not None:
        lines.append(f"discord API: {discord.api_base}")
    log_file = settings.logging.file
    lines.append(
        f"logging: {logging.getLevelName(settings.logging.level)} to the console"
        + (f" and {log_file}" if log_file is not None else "")
    )
    return lines


def _check_config(args: argparse.Namespace) -> int:
    settings = load_or_report(args.config, args.env_file)
    if settings is None:
        return EXIT_CONFIG
    print("configuration OK")
    for line in summary(settings):
        print(f"  {line}")
    for warning in settings.warnings:
        print(f"  warning: {warning}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    settings = load_or_report(args.config, args.env_file)
    if settings is None:
        return EXIT_CONFIG
    from pterodisbot.log_setup import configure_logging

    try:
        configure_logging(settings.logging, secrets=settings.secret_values())
    except OSError as exc:
        print(
            f"logging.file: cannot open {settings.logging.file} ({exc.strerror}) — expected a "
            "path the bot may write to",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    for warning in settings.warnings:
        log.warning("config: %s", warning)
    from pterodisbot.app import run

    return asyncio.run(run(settings))


def _demo(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535 or not 1 <= args.servers <= 500:
        print("pterodisbot demo: --port is 0 to 65535 and --servers 1 to 500", file=sys.stderr)
        return EXIT_CONFIG
    try:
        from pterodisbot.demo import run_demo
    except ModuleNotFoundError as error:
        # The Docker image installs the bot only; the sandboxes the demo runs on stay in the repo.
        if (error.name or "").partition(".")[0] != "pterodisbot_sandbox":
            raise
        print(DEMO_NEEDS_SANDBOX, file=sys.stderr)
        return EXIT_CONFIG

    return asyncio.run(run_demo(port=args.port, servers=args.servers, verbose=args.verbose))


def _doctor(args: argparse.Namespace) -> int:
    # Without a token doctor still checks the panel (and says the token was not checked).
    settings = load_or_report(args.config, args.env_file, require_token=False)
    if settings is None:
        return EXIT_CONFIG
    from pterodisbot.doctor import run_doctor
    from pterodisbot.log_setup import configure_logging

    # The report says it all; beside it only errors from the layers underneath, redacted.
    quiet = dataclasses.replace(settings.logging, level=logging.ERROR, file=None, loggers={})
    configure_logging(quiet, secrets=settings.secret_values())
    return asyncio.run(run_doctor(settings, out=sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
