"""The Dagster UI of a deployment shows the WordPress pipeline as users see it, in a real browser.

Users judge the platform by the asset graph and the catalog: whether every layer of the
pipeline is there, materialized, described and owned. GraphQL answers can be right while the
page is broken (a JavaScript error, a missing code location, a dialog over everything), so this
test opens the running webserver of the session's deployment in Debian's Chromium, driven
headless by Playwright (never a downloaded browser), asserts what a person would look for, and
saves screenshots under test-artifacts/ for people to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from lakehouse_assets_tests.deployment.conftest import GROUP, MaterializedDeployment
from lakehouse_assets_tests.deployment.deployment import LOCATION, REPO_ROOT, SETUP_HINT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
]

CHROMIUM = Path(os.environ.get("LAKEHOUSE_CHROMIUM", "/usr/bin/chromium"))
# Flags for a machine with no network but loopback and no display (see docs/deployment.md).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
NODE_NAMES = ["posts", "statistics_pages", "terms", "statistics_postname"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"Chromium not found at {CHROMIUM}: {SETUP_HINT}"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_asset_graph_shows_every_layer_materialized(
    materialized: MaterializedDeployment, page: Page
):
    page.goto(
        f"{materialized.deployment.url}/locations/{LOCATION}/asset-groups/{GROUP}/lineage",
        wait_until="domcontentloaded",
    )
    nodes = len(materialized.asset_keys)
    # One node per asset; each names its latest event ("… ago", never "–") and its partitions.
    expect(page.get_by_text(re.compile(r"^[\d,]+ partitions$"))).to_have_count(
        nodes, timeout=60_000
    )
    expect(page.get_by_text(re.compile(r" ago$"))).to_have_count(nodes)
    for name in NODE_NAMES:
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    # The layer of each node is one of its kinds (medallion icons for bronze, silver, gold).
    for layer, count in {"raw": 3, "Bronze": 3, "Silver": 3, "Gold": 1}.items():
        expect(page.get_by_text(layer, exact=True)).to_have_count(count)
    # The checks ran and passed, as the nodes say: six on each silver table, the volume guard
    # and schema_drift on each bronze table, the volume guard on gold.
    expect(page.get_by_text("6 / 6 Passed", exact=True)).to_have_count(3)
    expect(page.get_by_text("2 / 2 Passed", exact=True)).to_have_count(3)
    expect(page.get_by_text("1 / 1 Passed", exact=True)).to_have_count(1)
    expect(page.get_by_text(re.compile(r"^Materialize all")).first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-asset-graph.png"))


def test_asset_catalog_lists_the_pipeline_materialized(
    materialized: MaterializedDeployment, page: Page
):
    page.goto(
        f"{materialized.deployment.url}/assets?asset-selection=group:{GROUP}",
        wait_until="domcontentloaded",
    )
    nodes = len(materialized.asset_keys)
    for path in materialized.asset_keys:
        # Long names are middle-truncated on screen; the link to the asset is exact.
        link = page.locator(f'a[href="/assets/{"/".join(path)}"]')
        expect(link.first).to_be_visible(timeout=60_000)

    # Status column, once loaded: per asset 1 partition materialized, 0 failed.
    def status(icon: str, count: str) -> Locator:
        cells = page.locator(f'div:has(> [aria-label="partition_{icon}"])')
        return cells.filter(has_text=re.compile(f"^{count}$"))

    expect(status("success", "1")).to_have_count(nodes, timeout=60_000)
    expect(status("failure", "0")).to_have_count(nodes)
    body = page.locator("body")
    expect(body).to_contain_text("Blog posts (post_type 'post') with their daily page-view")
    expect(body).to_contain_text("WordPress posts, pages, attachments and revisions")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-asset-catalog.png"))


def test_gold_partition_page_shows_owner_metadata_and_columns(
    materialized: MaterializedDeployment, page: Page
):
    page.goto(
        f"{materialized.deployment.url}/assets/gold/wordpress_api/statistics_postname"
        f"?view=partitions&partition={materialized.partition}",
        wait_until="domcontentloaded",
    )
    body = page.locator("body")
    expect(body).to_contain_text(materialized.partition, timeout=60_000)
    page.goto(
        f"{materialized.deployment.url}/assets/gold/wordpress_api/statistics_postname",
        wait_until="domcontentloaded",
    )
    expect(body).to_contain_text("Row count", timeout=60_000)
    for text in ("data-engineering", "layer: gold", "source: wordpress_api", "wordpress_api_job"):
        expect(body).to_contain_text(text)
    for column in ("post_ID", "statistics_count", "statistics_date_day"):
        expect(page.get_by_text(column, exact=True).first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-gold-asset.png"), full_page=True)
