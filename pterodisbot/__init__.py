"""Pterodisbot: watch and run Pterodactyl/Pelican game servers from Discord."""

from __future__ import annotations

__version__ = "0.1.0"
