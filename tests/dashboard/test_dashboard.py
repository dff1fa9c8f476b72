"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real pipeline run."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
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
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DEMAND_PREDICTIONS
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
        try:  # tall enough that a screenshot holds the whole page (Streamlit scrolls inside the page)
            yield b.new_page(viewport={"width": 1400, "height": 3600})
        finally:
            b.close()


def open_page(page: Any, name: str) -> None:
    page.get_by_role("radiogroup").get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=name, exact=True).wait_for(timeout=60_000)


def metric(page: Any, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    box.wait_for(timeout=60_000)
    return str(box.locator('[data-testid="stMetricValue"]').inner_text())


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar select box titled ``label``."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).locator("input").click()
    page.get_by_role("option", name=option, exact=True).click()


def figures(page: Any) -> dict[str, str]:
    """What the page shows: each metric, table and chart (its SVG), by position, read in one go
    (Streamlit replaces elements while it reruns)."""
    return dict(page.evaluate("""() => {
        const out = {};
        const read = (sel, name, pick) =>
            document.querySelectorAll(sel).forEach((e, i) => { out[name + ' ' + i] = pick(e); });
        read('[data-testid="stMetric"]', 'metric', e => e.innerText);
        read('[data-testid="stTable"]', 'table', e => e.innerText);
        read('[data-testid="stVegaLiteChart"]', 'chart', e => (e.querySelector('svg') || {}).innerHTML || '');
        return out;
    }"""))


def settled(page: Any) -> dict[str, str]:
    """The figures once the page has stopped changing (charts draw after the data arrives)."""
    before = figures(page)
    for _ in range(120):
        page.wait_for_timeout(500)
        now = figures(page)
        drawn = all(value for key, value in now.items() if key.startswith("chart"))
        if now == before and drawn and page.locator('[data-testid="stStatusWidget"]').count() == 0:
            return now
        before = now
    raise AssertionError("the page kept changing")


def axis_labels(chart: Any) -> list[str]:
    return [str(t.text_content()) for t in chart.locator("g.role-axis-label text").all()]


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


def test_every_page_renders_formatted_figures(lake: Settings, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    expect = {"Live": "Orders per minute", "Sales": "Daily revenue", "Forecast": "Actual vs predicted per category",
              "Data quality": "Latest result of every rule", "Pipeline": "Lineage"}
    data = DashboardData(lake)
    top = data.query("top_products", {"top_n": 1})
    assert top is not None
    with dashboard(lake.data_dir, tmp_path / "dash.log") as url, browser() as page:
        page.goto(url, timeout=60_000)
        for name, text in expect.items():
            open_page(page, name)
            page.get_by_text(text).first.wait_for(timeout=60_000)
            settled(page)
            page.screenshot(path=str(SHOTS / f"{name.lower().replace(' ', '_')}.png"), full_page=True)
            body = page.locator("body").inner_text()
            assert not re.search(r"\bNone\b|\bNaN\b", body), name
            if name == "Sales":
                assert re.fullmatch(r"\$\d{1,3}(,\d{3})+\.\d{2}", metric(page, "Revenue"))  # currency, separators
                assert re.search(r"[+−]\d+\.\d%", body)  # growth as a signed percentage
                assert re.search(r"\b\d+\.\d%", body)  # conversion as a percentage
                assert str(top["name"][0]) in body  # products by name, not only by id
                assert "window_start" not in body and "mom_growth" not in body  # human titles
            if name == "Forecast":
                ahead = data.forecast_ahead()
                assert ahead is not None
                # A category's band comes from its own backtest errors, not its products' bounds added
                # up (every product missing the same way on the same day): far narrower.
                gold = Lake(lake.lake_root).read(GOLD_DEMAND_PREDICTIONS).to_pandas()
                summed = gold.groupby(["category", "target_date"])[["lower_units", "upper_units"]].sum()
                width = ahead.set_index(["category", "target_date"])
                narrower = (width["upper_units"] - width["lower_units"]) < (summed["upper_units"] -
                                                                             summed["lower_units"])
                assert narrower.mean() > 0.8 and (width["lower_units"] <= width["upper_units"]).all()
                chart = page.locator('[data-testid="stVegaLiteChart"]').nth(1)
                titles = [t.text_content() for t in chart.locator("g.role-title-text text").all()]
                assert chart.locator("g.role-scope.cell > g").count() == ahead["category"].nunique()
                assert titles == sorted(ahead["category"].unique())  # one panel per category, titled
                assert "Lower is better" in body
                history = data.backtest(next(m for m in data.forecast_models() if m["promoted"])["version"])
                assert history is not None
                tested = page.locator('[data-testid="stVegaLiteChart"]').nth(0)  # the backtest's small multiples
                assert tested.locator("g.role-scope.cell > g").count() == history["category"].nunique()
                assert tested.locator("g.mark-area path").count() == history["category"].nunique()  # a band each
                # The band is the errors' 10th to 90th percentile around the prediction: above it when
                # the model under-forecast most days, never negative.
                assert (history["lower"] <= history["upper"]).all() and (history["lower"] >= 0).all()
        assert "bronze.events" in body and "gold.daily_sales" in body  # lineage and table list
    log = (tmp_path / "dash.log").read_text()
    assert "Traceback" not in log and "Error" not in log, log[-2000:]


def test_a_category_filter_changes_every_sales_figure(lake: Settings, tmp_path: Path) -> None:
    category = DashboardData(lake).filters()[0][0]
    with dashboard(lake.data_dir, tmp_path / "dash.log") as url, browser() as page:
        page.goto(url, timeout=60_000)
        open_page(page, "Sales")
        page.get_by_text("Top products").first.wait_for(timeout=60_000)
        everything = settled(page)
        choose(page, "Category", category)
        page.get_by_text(f"Showing category: {category}").wait_for(timeout=60_000)
        filtered = settled(page)
        page.screenshot(path=str(SHOTS / "sales_filtered.png"), full_page=True)
        assert everything.keys() == filtered.keys() and len(everything) >= 8
        unchanged = [key for key in everything if everything[key] == filtered[key]]
        assert unchanged == [], f"figures the category filter did not change: {unchanged}"

        open_page(page, "Live")  # stores by name and city beside their id
        page.get_by_text("Top stores (60 min)").first.wait_for(timeout=60_000)
        choose(page, "Category", "All")
        settled(page)
        names = DashboardData(lake).store_names()
        rows = page.locator('[data-testid="stTable"]').nth(1).locator("tbody tr")
        assert rows.count() >= 1
        for row in rows.all():
            cells = [str(c.inner_text()).strip() for c in row.locator("td, th").all()]
            named = names[names["store_id"] == cells[0]]
            assert len(named) == 1 and cells[1:3] == [named["store_name"].iloc[0], named["city"].iloc[0]], cells
    log = (tmp_path / "dash.log").read_text()
    assert "Traceback" not in log, log[-2000:]


def test_live_chart_spans_the_hour_on_a_young_stream(tmp_path: Path) -> None:
    """Three minutes of data: the chart still spans 60 minutes on a 24-hour axis (it used to shrink to the
    data), and the tiles say there is nothing to compare with an hour and a day before."""
    settings = load_settings(data_dir=tmp_path / "young")
    started = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
    land(settings, SimulationSpec(events=600, seed=53, realtime_from=started, realtime_seconds=180.0))
    run_batch(settings)
    live = DashboardData(settings).live()
    assert live is not None and live.per_minute["window_start"].nunique() <= 4
    with dashboard(settings.data_dir, tmp_path / "dash.log") as url, browser() as page:
        page.goto(url, timeout=60_000)
        page.get_by_text("Orders per minute").first.wait_for(timeout=60_000)
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        chart.locator("g.role-axis-label text").first.wait_for(timeout=60_000)
        ticks = [t for t in axis_labels(chart) if re.fullmatch(r"\d\d:\d\d", t)]
        minutes = [int(t[:2]) * 60 + int(t[3:]) for t in ticks]
        assert len(minutes) >= 5 and max(minutes) - min(minutes) >= 45, ticks  # the whole hour, 24-hour clock
        assert f"{live.as_of:%H:%M}" in page.get_by_text("Orders per minute").first.inner_text()
        assert "1 h n/a · 1 d n/a" in metric_delta(page, "Revenue, last 60 min")
        assert re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d{2}", metric(page, "Revenue, last 60 min"))
        page.screenshot(path=str(SHOTS / "live_young_stream.png"), full_page=True)


def metric_delta(page: Any, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return str(box.locator('[data-testid="stMetricDelta"]').inner_text())


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
        page.get_by_text("Last run: stream").wait_for(timeout=30_000)  # stream runs are recorded too
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
