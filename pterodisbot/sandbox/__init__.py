"""Stand-ins for the outside world (a Pterodactyl panel, Discord) for tests and `make demo`."""

from __future__ import annotations
