"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real pipeline run."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from salesflow.common.processes import free_port
from salesflow.config import Settings, load_settings
from salesflow.dashboard.data import DashboardData
from salesflow.jobs import run_batch
from salesflow.jobs.forecast import predict, train
from salesflow.jobs.warehouse import load_warehouse
from salesflow.simulator import SimulationSpec
from tests.conftest import land
from tests.http import wait_healthy

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="make test installs Debian's chromium")]


@contextmanager
def dashboard(data_dir: Path, log: Path) -> Iterator[str]:
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "salesflow", "--data-dir", str(data_dir), "dashboard",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(f"{url}/_stcore/health", proc, log, 90)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            b.close()


def open_page(page: Any, name: str) -> None:
    page.get_by_role("radiogroup").get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=name, exact=True).wait_for(timeout=60_000)


def metric(page: Any, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    box.wait_for(timeout=60_000)
    return str(box.locator('[data-testid="stMetricValue"]').inner_text())


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("dash") / "data"
    settings = load_settings(data_dir=data, forecast={"folds": 1})
    land(settings, SimulationSpec(events=30_000, seed=51, start=date(2026, 7, 1), days=45))
    run_batch(settings)
    train(settings, kinds=("seasonal_naive", "lightgbm"))
    predict(settings)
    load_warehouse(settings)
    return settings


def test_every_page_renders_real_data_and_filters_apply(lake: Settings, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    expect = {"Live": "Orders per minute", "Sales": "Daily revenue", "Forecast": "Actual vs predicted per category",
              "Data quality": "Latest gate results", "Pipeline": "Lineage"}
    with dashboard(lake.data_dir, tmp_path / "dash.log") as url, browser() as page:
        page.goto(url, timeout=60_000)
        for name, text in expect.items():
            open_page(page, name)
            page.get_by_text(text).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)  # let charts draw before the picture
            page.screenshot(path=str(SHOTS / f"{name.lower().replace(' ', '_')}.png"), full_page=True)
        body = page.locator("body").inner_text()
        assert "bronze.events" in body and "gold.daily_sales" in body  # lineage and table list

        open_page(page, "Live")
        everything = metric(page, "Revenue, last 60 min")
        category = DashboardData(lake).filters()[0][0]
        page.locator('[data-testid="stMultiSelect"]').first.locator("input").click()
        page.keyboard.type(category)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        deadline = time.monotonic() + 30
        while metric(page, "Revenue, last 60 min") == everything:
            assert time.monotonic() < deadline, "the category filter did not change the live numbers"
            page.wait_for_timeout(500)
        open_page(page, "Sales")
        page.get_by_text(f"Top products in {category}").wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "sales_filtered.png"), full_page=True)
    log = (tmp_path / "dash.log").read_text()
    assert "Traceback" not in log and "Error" not in log, log[-2000:]


def test_live_numbers_move_when_new_events_stream_in(lake: Settings, tmp_path: Path) -> None:
    live = DashboardData(lake).live()
    assert live is not None
    with dashboard(lake.data_dir, tmp_path / "dash.log") as url, browser() as page:
        page.goto(url, timeout=60_000)
        before = metric(page, "Revenue, last 60 min")
        later = SimulationSpec(events=400, seed=52, realtime_from=live.as_of + timedelta(minutes=1),
                               realtime_seconds=180.0)
        land(lake, later)
        result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(lake.data_dir), "stream",
                                 "--available-now"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        deadline = time.monotonic() + 30  # the live page refreshes itself every 2 s
        while metric(page, "Revenue, last 60 min") == before:
            assert time.monotonic() < deadline, "live revenue did not change after new events"
            page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / "live_after_stream.png"), full_page=True)


def test_empty_data_dir_shows_no_data_yet(tmp_path: Path) -> None:
    with dashboard(tmp_path / "empty", tmp_path / "dash.log") as url, browser() as page:
        assert httpx.get(url, timeout=10).status_code == 200
        page.goto(url, timeout=60_000)
        for name in ("Live", "Sales", "Forecast", "Data quality", "Pipeline"):
            open_page(page, name)
            page.get_by_text("No data yet").first.wait_for(timeout=60_000)
    log = (tmp_path / "dash.log").read_text()
    assert "Traceback" not in log and not re.search(r"\bError\b", log), log[-2000:]


def test_static_report_has_the_charts_and_no_script(lake: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(lake.data_dir), "report",
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 3  # daily revenue, top products, forecast
    assert "<script" not in page and "http://" not in page.split("</style>")[1]  # self-contained
    assert "Reconciliation per run" in page and "bronze.events" in page
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "report.html").write_text(page)
    empty = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(tmp_path / "none"), "report",
                            "--out", str(tmp_path / "empty.html")], capture_output=True, text=True, timeout=300)
    assert empty.returncode == 0 and (tmp_path / "empty.html").read_text().count("No data yet") == 4


def test_sales_numbers_are_the_same_from_the_postgres_warehouse(lake: Settings, postgres_admin_url: str) -> None:
    from tests.pg import new_database

    pg = load_settings(data_dir=lake.data_dir, warehouse={"url": new_database(postgres_admin_url)})
    load_warehouse(lake)  # both warehouses current (an earlier test streamed more events into the lake)
    load_warehouse(pg)
    store = DashboardData(lake).filters()[1][0]
    everything = DashboardData(lake).query("daily_revenue")
    one_store = DashboardData(lake).query("daily_revenue", {"store_id": store})
    assert everything is not None and one_store is not None
    assert 0 < one_store["revenue"].sum() < everything["revenue"].sum()
    for name, params in (("daily_revenue", {}), ("daily_revenue", {"store_id": store, "category": "books"}),
                         ("top_products", {"top_n": 5, "store_id": store}), ("conversion_funnel", {})):
        duck, post = DashboardData(lake).query(name, params), DashboardData(pg).query(name, params)
        assert duck is not None and post is not None and len(duck) == len(post) > 0
        for column in duck.columns:
            if duck[column].dtype.kind == "f":
                assert (abs(duck[column].fillna(0) - post[column].astype(float).fillna(0)) < 1e-6).all(), column
            else:
                assert list(map(str, duck[column])) == list(map(str, post[column])), column
