"""The Grafana dashboard asks only for series a running bot really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from pterodisbot.web import WebServer
from tests.fixtures.product import Product

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/pterodisbot.json"


async def test_every_dashboard_query_names_a_series_the_bot_exports(product: Product) -> None:
    bot = await product.start()
    web = WebServer(bot, port=0)
    await web.start()
    try:
        async with product.session.get(web.url + "/metrics") as answer:
            text = await answer.text()
    finally:
        await web.stop()
    exported = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [v["definition"] for v in dashboard["templating"]["list"]]

    wanted = {name for query in queries for name in re.findall(r"pterodisbot_[a-z_]+", query)}

    assert len(wanted) >= 20
    assert wanted - exported == set()
