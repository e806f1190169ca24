"""The demo page in a real browser: Debian's Chromium, headless, driven by Playwright.

`make test` installs both (scripts/install-browser.sh). Without them the test is skipped and
says which is missing, except under `CI=true`, where a missing browser is a failure: CI must
not pass without having run it. `BROWSER_TEST_CHROMIUM` names another Chromium executable.
The screenshot lands in artifacts/demo.png (gitignored).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from pterodisbot.demo import Demo

CHROMIUM = Path("/usr/bin/chromium")
# Points the test at another Chromium (or, set to a missing path, shows what CI does without one).
# Not PTERODISBOT_*: the bot refuses unknown variables of its own prefix.
CHROMIUM_ENV = "BROWSER_TEST_CHROMIUM"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AMBER = 0xFEE75C
GREEN = 0x57F287

ADMIN_COMMANDS = {"fleet_board", "purge_embeds", "refresh_embeds", "reload_config"}

# One demo serves every test here (it takes seconds to start); each test opens its own browser
# and acts on its own servers.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.asyncio(loop_scope="module"),
    # Under `make test`'s workers (pytest-xdist), every test here runs in one worker: one demo.
    pytest.mark.xdist_group("demo_browser"),
]


def in_ci() -> bool:
    """Tell whether this run is CI's (`CI=true`, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def find_chromium() -> tuple[str | None, str]:
    """Return Chromium's executable, or None and why it is missing."""
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        if os.access(chosen, os.X_OK):
            return chosen, ""
        return (
            None,
            f"{CHROMIUM_ENV}={chosen} is not an executable (point it at Chromium or unset it)",
        )
    if CHROMIUM.exists():
        return str(CHROMIUM), ""
    found = shutil.which("chromium")
    if found:
        return found, ""
    return None, (
        f"Debian's chromium is not installed (no {CHROMIUM}, no chromium on PATH): "
        "run scripts/install-browser.sh as root (make test does; it uses apt-get)"
    )


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Return Chromium's executable; without it or Playwright, skip saying why (fail in CI)."""
    executable, why = find_chromium()
    missing = [why] if executable is None else []
    if importlib.util.find_spec("playwright") is None:
        missing.append(
            "playwright is not installed: run scripts/install-browser.sh (make test does)"
        )
    if executable is not None and not missing:
        return executable
    if in_ci():
        pytest.fail(f"CI=true and the browser test cannot run: {'; '.join(missing)}", pytrace=False)
    pytest.skip(f"browser test skipped: {'; '.join(missing)}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """Run the demo on a free port, without the random crashes of the flaky server."""
    workdir = tmp_path_factory.mktemp("demo")
    running = Demo(port=0, chaos=False, seed_embeds=("mcmodded", "valheim1"), workdir=workdir)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def page(tmp_path: Path, chromium: str) -> AsyncIterator[Any]:
    """Return a page of a fresh headless Chromium profile."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


async def _embed_colour(page: Any, message_id: str) -> int | None:
    value = await page.get_attribute(f'.message[data-id="{message_id}"] .embed', "data-color")
    return None if not value else int(value)


async def test_visitor_posts_a_status_embed_and_restarts_the_server_as_operator(
    demo: Demo, page: Any
) -> None:
    try:
        await _visit(demo, page)
    except BaseException:
        # What the browser showed when it went wrong is the fastest way to see why.
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "demo-failure.png"))
        raise


async def _visit(demo: Demo, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(demo.url + "/")
    await page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    # The seeded embeds are there, with live buttons.
    await page.wait_for_selector(".message .e-title:text-is('Modded Minecraft (ATM9)')")

    await page.select_option("#user-select", "operator")
    await page.fill("#command-input", "/server_st")
    await page.click(".suggestion[data-name='server_status']")
    await page.type("input[data-option='server']", "Minecraft Surv", delay=20)
    await page.click(".choice[data-value='mcsurviv']")
    await page.click("#send")

    # The operator's private answer, then the public embed with its graph.
    await page.wait_for_selector(".message.ephemeral :text('Posted the status of')")
    title = page.locator(
        ".message:not(.ephemeral)", has=page.locator(".e-title", has_text="Minecraft Survival")
    )
    await title.first.wait_for()
    message_id = await title.first.get_attribute("data-id")
    assert message_id is not None
    graph = f'.message[data-id="{message_id}"] img.embed-image'
    await page.wait_for_function(
        "sel => { const img = document.querySelector(sel); "
        "return img && img.complete && img.naturalWidth > 0; }",
        arg=graph,
    )
    assert await _embed_colour(page, message_id) == GREEN
    names = await page.locator(f'.message[data-id="{message_id}"] .e-field-name').all_inner_texts()
    assert {"Status", "CPU", "Memory"} <= set(names)

    # Restart as the operator: the bot asks to confirm, privately, then acts.
    await page.click(f'.message[data-id="{message_id}"] button:text-is("Restart")')
    await page.click(".message.ephemeral button:text-is('Yes, restart')")
    colour_is = "([sel, want]) => Number(document.querySelector(sel)?.dataset.color) === want"
    embed = f'.message[data-id="{message_id}"] .embed'
    await page.wait_for_function(colour_is, arg=[embed, AMBER], timeout=20_000)
    await page.wait_for_function(colour_is, arg=[embed, GREEN], timeout=30_000)
    assert demo.panel.stats()["power"]["mcsurviv"] == {"restart": 1}

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo.png"))
    assert (ARTIFACTS / "demo.png").stat().st_size > 10_000
    assert errors == []


async def _open(demo: Demo, page: Any) -> list[str]:
    """Open the demo page and wait until it runs; return the list its errors are collected in."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(demo.url + "/")
    await page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    return errors


async def _offered_commands(page: Any, user: str) -> set[str]:
    """Type / as `user` and return the commands the picker offers."""
    await page.select_option("#user-select", user)
    await page.fill("#command-input", "")
    await page.fill("#command-input", "/")
    await page.wait_for_selector("#suggestions .suggestion[data-name='server_status']")
    names = await page.locator("#suggestions .suggestion").evaluate_all(
        "nodes => nodes.map(n => n.dataset.name)"
    )
    return set(names)


async def test_command_picker_offers_each_user_only_the_commands_discord_shows_them(
    demo: Demo, page: Any
) -> None:
    errors = await _open(demo, page)

    member = await _offered_commands(page, "member")
    owner = await _offered_commands(page, "owner")
    operator = await _offered_commands(page, "operator")

    assert {"server_status", "server_list"} <= member
    assert member & ADMIN_COMMANDS == set()
    assert operator & ADMIN_COMMANDS == set()
    assert owner == member | ADMIN_COMMANDS
    # Typed out in full, a hidden command is unknown to the member, as in Discord's picker.
    await page.select_option("#user-select", "member")
    await page.fill("#command-input", "/purge_embeds")
    await page.click("#send")
    await page.wait_for_selector(".notice:text('No command /purge_embeds')")
    assert await page.locator(".notice:text('permission')").count() == 0
    assert errors == []


async def _in_view(page: Any, selector: str) -> bool:
    """Tell whether the element is wholly inside the visible part of the channel."""
    return bool(
        await page.evaluate(
            "sel => { const box = document.querySelector('#messages').getBoundingClientRect();"
            " const r = document.querySelector(sel).getBoundingClientRect();"
            " return r.top >= box.top - 1 && r.bottom <= box.bottom + 1; }",
            selector,
        )
    )


async def _images_loaded(page: Any) -> None:
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#messages img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


async def test_switching_the_user_keeps_the_channel_scrolled_where_it_was(
    demo: Demo, page: Any
) -> None:
    errors = await _open(demo, page)
    await page.wait_for_selector(".message .e-title:text-is('Valheim Vikings')")
    # The operator posts three embeds; under each, their private "Posted the status of…".
    await page.select_option("#user-select", "operator")
    for identifier in ("palworld", "rustwipe", "factorio"):
        name = demo.panel.server(identifier).name
        await page.fill("#command-input", "/server_st")
        await page.click(".suggestion[data-name='server_status']")
        await page.fill("input[data-option='server']", identifier)
        await page.click(f".choice[data-value='{identifier}']")
        await page.click("#send")
        await page.wait_for_selector(f".message.ephemeral :text('Posted the status of {name}')")
    watched = await _embed_of(page, "Rust Monthly (flaky)")
    newest = await _embed_of(page, "Factorio Space Age")
    await _images_loaded(page)

    # Reading an embed in the middle (a private answer above it, more below): switching the
    # user hides or shows private answers, but what is being read stays where it is.
    await page.locator(watched).evaluate("node => node.scrollIntoView({block: 'center'})")
    assert await _scroll_top(page) > 200  # the channel is longer than the window
    assert not await _at_bottom(page)
    where = await _top_in_view(page, watched)
    for user in ("member", "owner", "operator"):
        await page.select_option("#user-select", user)
        await _images_loaded(page)
        assert await _in_view(page, watched), f"the Rust embed left the view as {user}"
        assert abs(await _top_in_view(page, watched) - where) <= 2, f"it moved as {user}"

    # At the bottom, with the embed just posted: it stays in view, the channel at its bottom.
    await page.evaluate(
        "() => { const b = document.querySelector('#messages'); b.scrollTop = b.scrollHeight; }"
    )
    for user in ("member", "operator"):
        await page.select_option("#user-select", user)
        await _images_loaded(page)
        assert await _in_view(page, newest), f"the embed just posted left the view as {user}"
        assert await _at_bottom(page)
    assert errors == []


async def _top_in_view(page: Any, selector: str) -> float:
    """Return how far below the top of the channel's view the element starts (pixels)."""
    return float(
        await page.evaluate(
            "sel => document.querySelector(sel).getBoundingClientRect().top"
            " - document.querySelector('#messages').getBoundingClientRect().top",
            selector,
        )
    )


async def _embed_of(page: Any, title: str) -> str:
    """Return a selector of the public status embed with this title."""
    message = page.locator(
        ".message:not(.ephemeral)", has=page.locator(".e-title", has_text=title)
    ).first
    await message.wait_for()
    return f'.message[data-id="{await message.get_attribute("data-id")}"] .embed'


async def _scroll_top(page: Any) -> float:
    return float(await page.evaluate("() => document.querySelector('#messages').scrollTop"))


async def _at_bottom(page: Any) -> bool:
    return bool(
        await page.evaluate(
            "() => { const b = document.querySelector('#messages');"
            " return b.scrollHeight - b.scrollTop - b.clientHeight < 2; }"
        )
    )


async def test_autocomplete_shows_searching_until_the_answer_to_what_was_typed(
    demo: Demo, page: Any
) -> None:
    # Autocomplete answers are held here and let through one at a time, in the test's order.
    held: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def hold(route: Any) -> None:
        spec = json.loads(route.request.post_data or "{}")
        if spec.get("type") == "autocomplete":
            await held.put((spec["options"][spec["focused"]], route))
        else:
            await route.continue_()

    await page.route("**/_sandbox/interactions", hold)
    errors = await _open(demo, page)
    field = "input[data-option='server']"
    choices = ".option-field .choices"
    await page.fill("#command-input", "/server_st")
    await page.click(".suggestion[data-name='server_status']")

    typed, empty = await asyncio.wait_for(held.get(), 10)
    assert typed == ""
    await empty.continue_()
    await page.wait_for_selector(f"{choices} .choice[data-value='valheim1']")
    assert await page.locator(f"{choices} .choice").count() == len(demo.panel.servers)

    # Typing: until the bot answered "Valh", no list of every server, only "searching…".
    await page.fill(field, "Valh")
    typed, valh = await asyncio.wait_for(held.get(), 10)
    assert typed == "Valh"
    assert await page.locator(f"{choices} .choice").count() == 0
    assert await page.locator(f"{choices} .searching").inner_text() == "searching…"
    assert await page.locator(f"{choices} .searching").is_visible()

    # The answer to an older question, arriving late, never replaces the newer one.
    await page.fill(field, "Minecraft")
    typed, minecraft = await asyncio.wait_for(held.get(), 10)
    assert typed == "Minecraft"
    async with page.expect_request_finished(lambda r: "interactions" in r.url):
        await valh.continue_()
    assert await page.locator(f"{choices} .choice").count() == 0
    await minecraft.continue_()
    await page.wait_for_selector(f"{choices} .choice[data-value='mcsurviv']")
    shown = await page.locator(f"{choices} .choice").all_inner_texts()
    assert shown
    assert all("Minecraft" in name for name in shown), shown
    assert errors == []


async def test_the_page_switches_between_status_alerts_and_audit(demo: Demo, page: Any) -> None:
    errors = await _open(demo, page)
    await page.wait_for_selector(".message .e-title:text-is('Valheim Vikings')")
    guild = demo.sandbox.world.guilds[0]
    operator_role = next(r.id for r in guild.roles if r.name == "Operator")
    channels = demo.info()["channels"]
    # A member asks in #alerts, pinging the Operator role, while the visitor reads #status.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{demo.url}/_sandbox/channels/{channels['alerts']}/messages",
            json={"user": "member", "content": f"<@&{operator_role}> is anyone on call?"},
        ) as posted,
    ):
        assert posted.status < 300, await posted.text()
    alerts_item = "#channel-list li[data-channel='alerts']"
    await page.wait_for_selector(f"{alerts_item} .badge:text-is('1')")

    await page.click(alerts_item)

    assert await page.text_content("#channel-name") == "alerts"
    assert (await page.text_content("#channel-topic") or "").startswith("Crashes, overloads")
    mention = page.locator(f".message .mention[data-role='{operator_role}']")
    await mention.wait_for()
    assert await mention.inner_text() == "@Operator"
    assert await page.locator(".message .e-title:text-is('Valheim Vikings')").count() == 0
    assert await page.locator(f"{alerts_item} .badge").count() == 0

    await page.click("#channel-list li[data-channel='audit']")
    assert await page.text_content("#channel-name") == "audit"
    await page.wait_for_function("() => !document.querySelector('.message .mention[data-role]')")

    await page.click("#channel-list li[data-channel='status']")
    await page.wait_for_selector(".message .e-title:text-is('Valheim Vikings')")
    assert errors == []
