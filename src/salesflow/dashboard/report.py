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

from salesflow.common.extras import require
from salesflow.config import Settings
from salesflow.dashboard.data import DashboardData


def _png(draw: Callable[[Any], object], height: float = 3.2) -> str:
    matplotlib = require("matplotlib", "drawing charts")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, height))
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _table(frame: pd.DataFrame, rows: int = 15) -> str:
    return frame.head(rows).to_html(index=False, float_format=lambda v: f"{v:,.2f}", border=0, classes="t")


def build_report(settings: Settings) -> tuple[str, dict[str, int]]:
    """The HTML, and how many charts and tables each section holds (for the CLI summary)."""
    data = DashboardData(settings)
    sections: list[str] = []
    counts: dict[str, int] = {}

    def section(title: str, parts: list[str]) -> None:
        body = "".join(parts) if parts else "<p class='empty'>No data yet.</p>"
        sections.append(f"<h2>{html.escape(title)}</h2>{body}")
        counts[title] = len(parts)

    daily = data.query("daily_revenue")
    sales: list[str] = []
    if daily is not None and not daily.empty:
        sales.append(_png(lambda ax: (ax.plot(pd.to_datetime(daily["day"]), daily["revenue"]),
                                      ax.set_title("Daily revenue"))))
        top = data.query("top_products", {"top_n": 10})
        if top is not None and not top.empty:
            sales.append(_png(lambda ax: (ax.barh(top["product_id"][::-1], top["revenue"][::-1]),
                                          ax.set_title("Top products by revenue"))))
        for name in ("monthly_revenue_growth", "category_growth", "conversion_funnel"):
            frame = data.query(name)
            if frame is not None and not frame.empty:
                sales.append(f"<h3>{name.replace('_', ' ')}</h3>{_table(frame)}")
    section("Sales", sales)

    forecast: list[str] = []
    ahead = data.forecast_ahead()
    if ahead is not None:
        def draw(ax: Any) -> None:
            for category, part in ahead.groupby("category"):
                ax.plot(pd.to_datetime(part["target_date"]), part["predicted_units"], label=category)
                ax.fill_between(pd.to_datetime(part["target_date"]), part["lower_units"], part["upper_units"],
                                alpha=0.1)
            ax.set_title("Next 7 days: predicted units per category (with intervals)")
            ax.legend(fontsize=7, ncol=5)
        forecast.append(_png(draw, 3.8))
    section("Forecast", forecast)

    quality: list[str] = []
    results = data.quality_results()
    if results is not None:
        failed = results[~results["passed"]]
        quality.append(_table(failed[["checked_at", "layer", "table_name", "rule", "action", "violating_rows"]]
                              .tail(20)) if not failed.empty else "<p>Every check passed.</p>")
    runs = data.pipeline_runs()
    if runs is not None:
        quality.append("<h3>Reconciliation per run</h3>" + _table(
            runs[["run_id", "command", "bronze_rows", "silver_events", "quarantined", "duplicates", "balanced"]]))
    section("Data quality", quality)

    tables = data.tables()
    section("Pipeline", [] if tables is None else [_table(tables[["table", "version", "rows", "files"]], 40)])

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
