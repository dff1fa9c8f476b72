"""The salesflow dashboard (``salesflow dashboard`` runs it with Streamlit).

Five pages: Live, Sales, Forecast, Data quality, Pipeline. Settings come from the same config as
the CLI (``SALESFLOW_CONFIG`` / ``SALESFLOW__*``), so it reads the embedded lake and DuckDB
warehouse or a PostgreSQL warehouse alike. An empty data directory shows "no data yet".
"""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from salesflow.config import load_settings
from salesflow.dashboard.data import DashboardData

PAGES = ("Live", "Sales", "Forecast", "Data quality", "Pipeline")


def no_data(what: str) -> None:
    st.info(f"No data yet: {what}. Run `salesflow demo`, `salesflow stream` or `salesflow batch` and come back.")


def live_page(data: DashboardData, categories: list[str], stores: list[str]) -> None:
    @st.fragment(run_every=2)
    def refresh() -> None:
        live = data.live(categories, stores)
        if live is None:
            no_data("gold.sales_by_window is empty")
            return
        st.caption(f"Event time now: {live.as_of:%Y-%m-%d %H:%M} UTC"
                   + (f" · gold updated {live.freshness_seconds:,.0f} s ago" if live.freshness_seconds is not None
                      else ""))
        for label, numbers in live.totals.items():
            cols = st.columns(4)
            cols[0].metric(f"Revenue, last {label}", f"{numbers['revenue']:,.2f}")
            cols[1].metric(f"Orders, last {label}", f"{numbers['orders']:,.0f}")
            cols[2].metric(f"Units, last {label}", f"{numbers['units']:,.0f}")
            cols[3].metric(f"Avg order value, last {label}", f"{numbers['aov']:,.2f}")
        rate = data.stream_rate()
        st.caption(f"Last run: {rate:,.0f} events/s" if rate else "No pipeline run recorded yet")
        st.subheader("Orders per minute (last 60 minutes)")
        st.altair_chart(alt.Chart(live.per_minute).mark_bar().encode(x="window_start:T", y="orders:Q"),
                        width="stretch")
        left, right = st.columns(2)
        left.subheader("Top categories (60 min)")
        left.dataframe(live.top_categories, hide_index=True)
        right.subheader("Top stores (60 min)")
        right.dataframe(live.top_stores, hide_index=True)

    refresh()


def sales_page(data: DashboardData, start: date | None, end: date | None, category: str | None,
               store: str | None) -> None:
    window = {"start_date": start, "end_date": end}
    daily = data.query("daily_revenue", {**window, "category": category, "store_id": store})
    if daily is None or daily.empty:
        no_data("the warehouse has no sales (run `salesflow warehouse load`)")
        return
    st.subheader("Daily revenue" + "".join(f" · {label} {value}" for label, value in
                                          (("category", category), ("store", store)) if value))
    st.altair_chart(alt.Chart(daily).mark_line(point=True).encode(x="day:T", y="revenue:Q",
                                                                  tooltip=["day:T", "revenue:Q", "dod_growth:Q"]),
                    width="stretch")
    st.dataframe(daily, hide_index=True)
    monthly = data.query("monthly_revenue_growth")
    if monthly is not None and not monthly.empty:
        st.subheader("Month over month")
        st.dataframe(monthly, hide_index=True)
    growth = data.query("category_growth")
    if growth is not None and not growth.empty:
        st.subheader("Category growth")
        st.dataframe(growth, hide_index=True)
    st.subheader("Top products" + (f" in {category}" if category else ""))
    top = data.query("top_products", {**window, "top_n": 10, "category": category, "store_id": store})
    if top is not None and not top.empty:
        st.altair_chart(alt.Chart(top).mark_bar().encode(x="revenue:Q", y=alt.Y("product_id:N", sort="-x")),
                        width="stretch")
    funnel = data.query("conversion_funnel", window)
    if funnel is not None and not funnel.empty:
        st.subheader("Funnel: views -> carts -> orders")
        st.dataframe(funnel, hide_index=True)


def forecast_page(data: DashboardData) -> None:
    models = data.forecast_models()
    if not models:
        no_data("no forecast model trained (run `salesflow forecast train` and `forecast predict`)")
        return
    st.subheader("Models")
    st.dataframe(pd.DataFrame([{"version": m["version"], "kind": m["kind"], "promoted": m["promoted"],
                                **{f"WAPE {r['horizon']}": round(r["wape"], 3) for r in m["metrics"]}}
                               for m in models]), hide_index=True)
    promoted = next((m for m in models if m["promoted"]), models[-1])
    history = data.backtest(promoted["version"])
    if history is not None and not history.empty:
        st.subheader(f"Actual vs predicted per category (backtest, next day, {promoted['kind']})")
        long = history.melt(id_vars=["category", "target_date"], value_vars=["actual", "predicted"],
                            var_name="series", value_name="units")
        st.altair_chart(alt.Chart(long).mark_line().encode(x="target_date:T", y="units:Q", color="series:N",
                                                           facet=alt.Facet("category:N", columns=2))
                        .properties(width=380, height=150))
    ahead = data.forecast_ahead()
    if ahead is None:
        no_data("no predictions yet (run `salesflow forecast predict`)")
        return
    st.subheader("Next 7 days: predicted units per category, with intervals")
    base = alt.Chart(ahead).encode(x="target_date:T", color="category:N")
    band = base.mark_area(opacity=0.15).encode(y="lower_units:Q", y2="upper_units:Q")
    line = base.mark_line(point=True).encode(y="predicted_units:Q")
    st.altair_chart(band + line, width="stretch")
    compare = data.query("demand_vs_actual", {"horizon_days": 1})
    if compare is not None and not compare.empty:
        st.subheader("Demand vs actual (warehouse)")
        st.dataframe(compare, hide_index=True)


def quality_page(data: DashboardData) -> None:
    results = data.quality_results()
    runs = data.pipeline_runs()
    if results is None and runs is None:
        no_data("no quality checks recorded")
        return
    if results is not None:
        latest = results[results["checked_at"] == results["checked_at"].max()]["run_id"].iloc[0]
        st.subheader(f"Latest gate results (run {latest})")
        st.dataframe(results[results["run_id"] == latest][["layer", "table_name", "rule", "action", "passed",
                                                            "violating_rows"]], hide_index=True)
        failed = results[~results["passed"]]
        st.subheader(f"Failures with sample rows ({len(failed)})")
        st.dataframe(failed[["checked_at", "layer", "table_name", "rule", "violating_rows", "sample"]].tail(50),
                     hide_index=True)
        over_time = results.assign(day=results["checked_at"].dt.floor("h")).groupby("day", as_index=False).agg(
            checks=("passed", "size"), failed=("passed", lambda s: int((~s).sum())))
        st.subheader("Quality over time")
        st.altair_chart(alt.Chart(over_time).mark_line(point=True).encode(x="day:T", y="failed:Q"),
                        width="stretch")
    if runs is not None:
        st.subheader("Reconciliation per run")
        st.dataframe(runs[["run_id", "command", "started_at", "bronze_rows", "silver_events", "quarantined",
                           "duplicates", "balanced"]], hide_index=True)


def pipeline_page(data: DashboardData) -> None:
    status = data.tables()
    if status is None:
        no_data("the lake is empty")
        return
    st.subheader("Lineage")
    st.graphviz_chart(data.lineage_dot(status))
    st.subheader("Tables")
    st.dataframe(status, hide_index=True)
    st.subheader("Time travel")
    existing = status[status["version"].notna()]
    table = st.selectbox("Table", existing["table"].tolist())
    newest = int(existing[existing["table"] == table]["version"].iloc[0])
    version = st.number_input("As of version", min_value=0, max_value=newest, value=newest, step=1)
    rows = data.table_as_of(table, int(version))
    st.caption(f"{table} as of version {int(version)}")
    if rows is not None:
        st.dataframe(rows, hide_index=True)


def main() -> None:
    st.set_page_config(page_title="salesflow", layout="wide")
    data = DashboardData(load_settings())
    st.sidebar.title("salesflow")
    page = st.sidebar.radio("Page", PAGES)
    categories, stores = data.filters()
    span = data.date_span() if page == "Sales" else None
    picked_categories = st.sidebar.multiselect("Category", categories)
    picked_stores = st.sidebar.multiselect("Store", stores) if page in ("Live", "Sales") else []
    start = end = None
    if span is not None:
        chosen = st.sidebar.date_input("Date range", value=span, min_value=span[0], max_value=span[1])
        if isinstance(chosen, tuple) and len(chosen) == 2:
            start, end = chosen
    st.title(page)
    if page == "Live":
        live_page(data, picked_categories, picked_stores)
    elif page == "Sales":
        # The analytics SQL takes one category and one store as bound parameters.
        sales_page(data, start, end, picked_categories[0] if len(picked_categories) == 1 else None,
                   picked_stores[0] if len(picked_stores) == 1 else None)
    elif page == "Forecast":
        forecast_page(data)
    elif page == "Data quality":
        quality_page(data)
    else:
        pipeline_page(data)


main()
