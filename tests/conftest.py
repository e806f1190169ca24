"""Shared fixtures: each area keeps its own in tests/fixtures/ and is registered here."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.panel",
    "tests.fixtures.discord",
    "tests.fixtures.product",
    "tests.fixtures.outside",
    "tests.fixtures.postgres",
]
