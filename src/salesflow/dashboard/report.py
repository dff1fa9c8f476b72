"""``salesflow report --out report.html``: the dashboard's charts as one self-contained HTML file.

For e-mail and CI artifacts: every chart is a PNG embedded as base64 (no script, no network), and
every number comes from the same data layer and analytics SQL as the live dashboard.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from salesflow.config import Settings
from salesflow.dashboard import formatting as fmt
from salesflow.dashboard.data import DashboardData, latest_per_rule, partial_days


def _png(draw: Callable[[Any], object], height: float = 3.2, panels: int = 0) -> str:
    """A chart as an embedded PNG; ``panels`` > 0 draws a grid of that many rows of three."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, height)) if not panels else \
        plt.subplots(panels, 3, figsize=(10, height), squeeze=False)
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _table(frame: pd.DataFrame, currency: str, rows: int = 15) -> str:
    return fmt.table(frame.head(rows), currency).to_html(index=False, border=0, classes="t")


def build_report(settings: Settings) -> tuple[str, dict[str, int]]:
    """The HTML, and how many charts and tables each section holds (for the CLI summary)."""
    data = DashboardData(settings)
    sections: list[str] = []
    counts: dict[str, int] = {}

    def section(title: str, parts: list[str]) -> None:
        body = "".join(parts) if parts else "<p class='empty'>No data yet.</p>"
        sections.append(f"<h2>{html.escape(title)}</h2>{body}")
        counts[title] = len(parts)

    currency = data.currency
    daily = data.query("daily_revenue")
    sales: list[str] = []
    if daily is not None and not daily.empty:
        partial = dict(partial_days(daily))

        def draw_daily(ax: Any) -> None:
            days = pd.to_datetime(daily["day"])
            ax.plot(days, daily["revenue"])
            cut = daily["day"].isin(list(partial))
            if cut.any():
                ax.plot(days[cut], daily["revenue"][cut], "o", color="#e45756", label="partial day")
                ax.legend(fontsize=8)
            ax.set_title(f"Daily revenue ({currency})")
            ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        sales.append(_png(draw_daily))
        top = data.query("top_products", {"top_n": 10})
        if top is not None and not top.empty:
            labels = (top["name"].fillna(top["product_id"]) + " (" + top["category"].fillna("") + ")")[::-1]
            sales.append(_png(lambda ax: (ax.barh(labels, top["revenue"][::-1]),
                                          ax.set_title(f"Top products by revenue ({currency})"),
                                          ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}"))))
        for name, title in (("monthly_revenue_growth", "Month over month (like days compared)"),
                            ("category_growth", "Category growth (like days compared)"),
                            ("conversion_funnel", "Funnel: views → carts → orders")):
            frame = data.query(name)
            if frame is not None and not frame.empty:
                sales.append(f"<h3>{html.escape(title)}</h3>{_table(frame, currency)}")
    section("Sales", sales)

    forecast: list[str] = []
    ahead = data.forecast_ahead()
    if ahead is not None:
        categories = sorted(ahead["category"].unique())

        def draw(axes: Any) -> None:
            from matplotlib.dates import DateFormatter  # matplotlib is the dashboard extra: loaded by _png

            for ax, category in zip(axes.flat, categories, strict=False):
                part = ahead[ahead["category"] == category]
                days = pd.to_datetime(part["target_date"])
                ax.fill_between(days, part["lower_units"], part["upper_units"], alpha=0.25)
                ax.plot(days, part["predicted_units"], marker="o")
                ax.set_title(str(category), fontsize=9)
                ax.tick_params(labelsize=7)
                ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
            for ax in list(axes.flat)[len(categories):]:
                ax.set_visible(False)
        forecast.append("<h3>Next 7 days: predicted units per category, with the interval</h3>"
                        + _png(draw, 1.9 * ((len(categories) + 2) // 3), panels=(len(categories) + 2) // 3))
    section("Forecast", forecast)

    quality: list[str] = []
    results = data.quality_results()
    if results is not None:
        latest = latest_per_rule(results)
        failing = latest[latest["status"] != "passed"]
        quality.append("<h3>Rules not passing in their latest check</h3>" + _table(failing, currency, 40)
                       if not failing.empty else "<p>Every rule passed its latest check.</p>")
    runs = data.pipeline_runs()
    if runs is not None:
        quality.append("<h3>Reconciliation per run</h3>" + _table(
            runs[["run_id", "command", "bronze_rows", "silver_events", "quarantined", "duplicates", "balanced"]],
            currency))
    section("Data quality", quality)

    tables = data.tables()
    section("Pipeline", [] if tables is None else [_table(tables[["table", "version", "rows", "files"]], currency, 40)])

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>salesflow report</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}img{{max-width:100%}}
table.t{{border-collapse:collapse;font-size:12px}}table.t td,table.t th{{padding:3px 8px;border-bottom:1px solid #ddd}}
.empty{{color:#888}}</style></head><body><h1>salesflow report</h1>
<p>{stamp} · lake {html.escape(settings.lake_root)}</p>
{"".join(sections)}</body></html>"""
    return page, counts


def write_report(settings: Settings, out: Path) -> dict[str, int]:
    page, counts = build_report(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return counts
