"""`python -m pterodisbot.web.probe`: exit 0 if `/healthz` answers 200 (Docker's HEALTHCHECK)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

PORT_ENV = "PTERODISBOT_HTTP_PORT"
DEFAULT_PORT = 9550


def probe(url: str, *, timeout: float = 4.0) -> tuple[bool, str]:
    """Ask `url` for health; return (healthy, one line saying why)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200, f"healthy ({answer.status})"
    except urllib.error.HTTPError as exc:
        try:
            reasons = json.loads(exc.read() or b"{}").get("reasons") or []
        except ValueError:
            reasons = []
        return False, f"unhealthy ({exc.code}): " + ("; ".join(map(str, reasons)) or exc.reason)
    except (OSError, ValueError) as exc:
        return False, f"no answer from {url}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    """Probe the health endpoint and return 0 (healthy) or 1."""
    parser = argparse.ArgumentParser(description=__doc__)
    port = os.environ.get(PORT_ENV) or str(DEFAULT_PORT)
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}/healthz")
    parser.add_argument("--timeout", type=float, default=4.0)
    args = parser.parse_args(argv)
    healthy, why = probe(args.url, timeout=args.timeout)
    print(why, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
