"""The salesflow dashboard (``salesflow dashboard`` runs it with Streamlit).

Five pages: Live, Sales, Forecast, Data quality, Pipeline. Settings come from the same config as
the CLI (``SALESFLOW_CONFIG`` / ``SALESFLOW__*``), so it reads the embedded lake and DuckDB
warehouse or a PostgreSQL warehouse alike. An empty data directory shows "no data yet". Every
number is formatted by ``salesflow.dashboard.formatting`` (the HTML report uses the same), every
time is UTC on the 24-hour clock, and a filter either applies to a figure or the figure says so.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from salesflow.config import load_settings
from salesflow.dashboard import formatting as fmt
from salesflow.dashboard.data import DashboardData, latest_per_rule, partial_days, pass_rate_per_day

PAGES = ("Live", "Sales", "Forecast", "Data quality", "Pipeline")
ALL = "All"
SVG = {"embedOptions": {"renderer": "svg"}}  # axis labels as text in the page (and for the browser tests)


def no_data(what: str) -> None:
    st.info(f"No data yet: {what}. Run `salesflow demo`, `salesflow stream` or `salesflow batch` and come back.")


def show(frame: pd.DataFrame, currency: str, **kinds: Any) -> None:
    """A formatted table: a plain one when short (readable, selectable text), a scrolling grid when long."""
    shown = fmt.table(frame, currency, kinds)
    if len(shown) <= 25:
        st.table(shown, hide_index=True)
    else:
        st.dataframe(shown, hide_index=True)


def change(now: float, before: float | None) -> str | None:
    if before is None:
        return None
    if before == 0:
        return "new" if now else "0.0%"
    return fmt.percent(now / before - 1)


def live_page(data: DashboardData, categories: list[str], stores: list[str]) -> None:
    @st.fragment(run_every=2)
    def refresh() -> None:
        live = data.live(categories, stores)
        if live is None:
            no_data("gold.sales_by_window is empty")
            return
        st.caption(f"Event time now: {fmt.moment(live.as_of)} UTC"
                   + (f" · gold updated {live.freshness_seconds:,.0f} s ago" if live.freshness_seconds is not None
                      else ""))
        tiles = (("Revenue", "revenue", lambda v: fmt.money(v, data.currency)), ("Orders", "orders", fmt.count),
                 ("Units", "units", fmt.count), ("Avg order value", "aov", lambda v: fmt.money(v, data.currency)))
        for label, numbers in live.totals.items():
            cols = st.columns(4)
            for col, (name, key, show_value) in zip(cols, tiles, strict=True):
                deltas = [f"{when} {change(numbers[key], earlier[label][key] if earlier else None) or 'n/a'}"
                          for when, earlier in live.earlier.items()]
                col.metric(f"{name}, last {label}", show_value(numbers[key]), delta=" · ".join(deltas),
                           delta_color="off", delta_arrow="off")
        st.caption("Each tile against the same window 1 hour (1 h) and 1 day (1 d) earlier; n/a: no data then.")
        run = data.last_run()
        st.caption("No pipeline run recorded yet" if run is None else
                   f"Last run: {run.command}, finished {fmt.moment(run.finished_at)} UTC"
                   + (f", {run.events_per_second:,.0f} events/s" if run.events_per_second else ""))
        start = pd.Timestamp(live.as_of) - pd.Timedelta(minutes=60)
        st.subheader(f"Orders per minute, {fmt.clock(start)}–{fmt.clock(live.as_of)} UTC (last 60 minutes)")
        st.altair_chart(live_chart(live.per_minute, start, pd.Timestamp(live.as_of)), width="stretch")
        left, right = st.columns(2)
        left.subheader("Top categories (60 min)")
        with left:
            show(live.top_categories, data.currency)
        right.subheader("Top stores (60 min)")
        with right:
            show(live.top_stores, data.currency)

    refresh()


def live_chart(per_minute: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> alt.Chart:
    """One bar per minute on a fixed 60-minute UTC axis: a young stream shows as a short run of
    bars at the right, not as two bars stretched over the chart."""
    axis = alt.Axis(format="%H:%M", title="Minute (UTC)")  # a utc scale formats its ticks in UTC
    domain = [_utc(start), _utc(end)]
    x = alt.X("window_start:T", timeUnit="utcyearmonthdatehoursminutes",
              scale=alt.Scale(type="utc", domain=domain), axis=axis)
    shown = per_minute.assign(minute=per_minute["window_start"].map(fmt.clock))
    return (alt.Chart(shown).mark_bar()
            .encode(x=x, y=alt.Y("orders:Q", title="Orders", axis=alt.Axis(format=",.0f", tickMinStep=1)),
                    tooltip=[alt.Tooltip("minute:N", title="Minute (UTC)"),
                             alt.Tooltip("orders:Q", title="Orders", format=",")])
            .properties(usermeta=SVG))


def _utc(moment: pd.Timestamp) -> alt.DateTime:
    return alt.DateTime(year=moment.year, month=moment.month, date=moment.day, hours=moment.hour,
                        minutes=moment.minute, seconds=moment.second, utc=True)


def sales_page(data: DashboardData, start: date | None, end: date | None, category: str | None,
               store: str | None) -> None:
    window = {"start_date": start, "end_date": end}
    both = {"category": category, "store_id": store}
    daily = data.query("daily_revenue", {**window, **both})
    if daily is None or daily.empty:
        no_data("the warehouse has no sales (run `salesflow warehouse load`)")
        return
    scope = " · ".join(f"{label}: {value}" for label, value in
                       (("category", category), ("store", store and data.store_label(store))) if value)
    st.caption(f"Showing {scope}" if scope else "Showing every category and store")
    partial = dict(partial_days(daily))
    cols = st.columns(3)
    revenue, orders = float(daily["revenue"].sum()), float(daily["orders"].sum())
    cols[0].metric("Revenue", fmt.money(revenue, data.currency))
    cols[1].metric("Orders", fmt.count(orders))
    cols[2].metric("Avg order value", fmt.money(revenue / orders if orders else None, data.currency))

    st.subheader("Daily revenue")
    kinds = ["partial day" if d in partial else "full day" for d in daily["day"]]
    marked = daily.assign(day_text=daily["day"].map(fmt.day), day_kind=kinds)
    line = alt.Chart(marked).mark_line().encode(
        x=alt.X("day:T", title="Day", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%d %b")),
        y=alt.Y("revenue:Q", title=f"Revenue ({data.currency})", axis=alt.Axis(format=",.0f")))
    points = alt.Chart(marked).mark_point(filled=True).encode(
        x="day:T", y="revenue:Q",
        color=alt.Color("day_kind:N", title=None, scale=alt.Scale(domain=["full day", "partial day"],
                                                                   range=["#4c78a8", "#e45756"])),
        tooltip=[alt.Tooltip("day_text:N", title="Day"),
                 alt.Tooltip("revenue:Q", title="Revenue", format=",.2f"),
                 alt.Tooltip("dod_growth:Q", title="Day over day", format="+.1%")])
    st.altair_chart((line + points).properties(usermeta=SVG), width="stretch")
    for day, newest in partial.items():
        st.caption(f"{day:%Y-%m-%d} is a partial day (data up to {fmt.clock(newest)} UTC): its revenue is not "
                   f"comparable with full days.")
    with st.expander("Daily figures"):
        show(daily, data.currency)

    monthly = data.query("monthly_revenue_growth", both)
    if monthly is not None and not monthly.empty:
        st.subheader("Month over month")
        st.caption("Growth compares like periods: a whole month with the whole month before; the newest month, "
                   "if partial, month to date (without a last day the data cuts short) against the same days "
                   "of the month before, as 'compared days' says. No growth after a partial month.")
        show(monthly.drop(columns=["days"]), data.currency)
    growth = data.query("category_growth", both)
    if growth is not None and not growth.empty:
        st.subheader("Category growth")
        show(growth, data.currency)

    st.subheader("Top products")
    top = data.query("top_products", {**window, **both, "top_n": 10})
    if top is not None and not top.empty:
        top = top.assign(label=top["name"].fillna(top["product_id"]) + " (" + top["category"].fillna("") + ")")
        st.altair_chart(alt.Chart(top).mark_bar().encode(
            x=alt.X("revenue:Q", title=f"Revenue ({data.currency})", axis=alt.Axis(format=",.0f")),
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
            tooltip=[alt.Tooltip("name:N", title="Product"), alt.Tooltip("product_id:N", title="Id"),
                     alt.Tooltip("revenue:Q", title="Revenue", format=",.2f"),
                     alt.Tooltip("units:Q", title="Units", format=",")]).properties(usermeta=SVG),
            width="stretch")
        show(top.drop(columns=["label", "units_rank"]), data.currency)

    funnel = data.query("conversion_funnel", {**window, "category": category})
    if funnel is not None and not funnel.empty:
        st.subheader("Funnel: views → carts → orders")
        if store:
            st.caption("The funnel is not filtered by store: product views and cart adds carry no store.")
        stages = pd.DataFrame({"stage": ["Views", "Carts", "Orders"],
                               "count": [funnel["views"].sum(), funnel["carts"].sum(), funnel["orders"].sum()]})
        stages["share"] = stages["count"] / stages["count"].iloc[0] if stages["count"].iloc[0] else 0.0
        stages["label"] = [f"{fmt.count(c)} ({fmt.percent(s, signed=False)})" for c, s in
                           zip(stages["count"], stages["share"], strict=True)]
        base = alt.Chart(stages).encode(y=alt.Y("stage:N", sort=["Views", "Carts", "Orders"], title=None))
        bars = base.mark_bar().encode(x=alt.X("count:Q", title="Count", axis=alt.Axis(format=",.0f")))
        text = base.mark_text(align="left", dx=4).encode(x="count:Q", text="label:N")
        st.altair_chart((bars + text).properties(usermeta=SVG, height=140), width="stretch")
        show(funnel, data.currency)


def forecast_page(data: DashboardData) -> None:
    models = data.forecast_models()
    if not models:
        no_data("no forecast model trained (run `salesflow forecast train` and `forecast predict`)")
        return
    st.subheader("Models")
    st.caption("WAPE: weighted absolute percentage error of the rolling backtest (total absolute error over "
               "total units). Lower is better.")
    st.dataframe(pd.DataFrame([{"Version": m["version"], "Model": m["kind"], "Promoted": "yes" if m["promoted"] else "",
                                **{f"WAPE, {r['horizon']} day(s) ahead": fmt.percent(r["wape"], signed=False)
                                   for r in m["metrics"]}} for m in models]), hide_index=True)
    promoted = next((m for m in models if m["promoted"]), models[-1])
    history = data.backtest(promoted["version"])
    if history is not None and not history.empty:
        st.subheader(f"Actual vs predicted per category (backtest, next day, {promoted['kind']})")
        st.caption("The band: where the category's daily errors fell 80% of the time in the backtest.")
        st.altair_chart(backtest_chart(history))
    ahead = data.forecast_ahead()
    if ahead is None:
        no_data("no predictions yet (run `salesflow forecast predict`)")
        return
    st.subheader("Next 7 days: predicted units per category, with the interval")
    st.altair_chart(forecast_chart(ahead))
    compare = data.query("demand_vs_actual", {"horizon_days": 1})
    st.subheader("Demand vs actual")
    if compare is not None and "actual_units" in compare:
        # The query adds up the products' bounds, which overstates a category's band (see the
        # chart above for the category's own): the table shows the numbers that add up.
        compare = compare[compare["actual_units"].notna()].drop(columns=["lower_units", "upper_units"],
                                                                 errors="ignore")
    if compare is not None and not compare.empty:
        show(compare, data.currency)
    else:
        st.info("Demand vs actual appears once forecast days have passed and their sales are in the "
                "warehouse (`salesflow warehouse load` after those days).")


def backtest_chart(history: pd.DataFrame) -> alt.FacetChart:
    """Small multiples of the backtest: actual and predicted per category, the error band behind."""
    x = alt.X("target_date:T", title="Day", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%d %b"))
    band = alt.Chart().mark_area(opacity=0.2, color="#ff7f0e").encode(
        x=x, y=alt.Y("lower:Q", title="Units"), y2="upper:Q")
    long = history.melt(id_vars=["category", "target_date", "lower", "upper"], value_vars=["actual", "predicted"],
                        var_name="series", value_name="units")
    lines = alt.Chart().mark_line().encode(x=x, y=alt.Y("units:Q", title="Units"),
                                           color=alt.Color("series:N", title=None))
    return (alt.layer(band, lines, data=long).properties(width=260, height=130)
            .facet(facet=alt.Facet("category:N", title=None), columns=3)
            .resolve_scale(y="independent").properties(usermeta=SVG))


def forecast_chart(ahead: pd.DataFrame) -> alt.FacetChart:
    """Small multiples: one panel per category, each with its own scale, band and line."""
    base = alt.Chart().encode(x=alt.X("target_date:T", title="Day", scale=alt.Scale(type="utc"),
                                      axis=alt.Axis(format="%d %b")))
    band = base.mark_area(opacity=0.25).encode(y=alt.Y("lower_units:Q", title="Units"), y2="upper_units:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("predicted_units:Q", title="Units"),
        tooltip=[alt.Tooltip("day_text:N", title="Day"),
                 alt.Tooltip("predicted_units:Q", title="Predicted", format=",.0f"),
                 alt.Tooltip("lower_units:Q", title="Lower", format=",.0f"),
                 alt.Tooltip("upper_units:Q", title="Upper", format=",.0f")])
    shown = ahead.assign(day_text=ahead["target_date"].map(fmt.day))
    return (alt.layer(band, line, data=shown).properties(width=260, height=130)
            .facet(facet=alt.Facet("category:N", title=None), columns=3)
            .resolve_scale(y="independent").properties(usermeta=SVG))


def quality_page(data: DashboardData) -> None:
    results = data.quality_results()
    runs = data.pipeline_runs()
    if results is None and runs is None:
        no_data("no quality checks recorded")
        return
    if results is not None:
        latest = latest_per_rule(results)
        st.subheader("Latest result of every rule")
        show(latest, data.currency)
        freshness_note(data, latest)
        failed = results[~results["passed"]].sort_values("checked_at").tail(20)
        st.subheader(f"Latest failures with sample rows ({len(failed)} shown)")
        for row in failed.itertuples():
            with st.expander(f"{fmt.moment(row.checked_at)} · {row.layer}.{row.table_name} {row.rule}: "
                             f"{fmt.count(row.violating_rows)} row(s), {row.action}"):
                sample = list(row.sample) if row.sample is not None else []
                st.code("\n".join(map(str, sample)) or "(no sample rows)", language=None, wrap_lines=True)
        rate = pass_rate_per_day(results)
        st.subheader("Quality over time: share of checks passed, per day and layer")
        mark = alt.Chart(rate).mark_line(point=True) if rate["day"].nunique() > 1 else \
            alt.Chart(rate).mark_bar()
        x = alt.X("day:T", title="Day checked", scale=alt.Scale(type="utc"),
                  axis=alt.Axis(format="%Y-%m-%d")) if rate["day"].nunique() > 1 else \
            alt.X("layer:N", title="Layer")
        st.altair_chart(mark.encode(x=x, y=alt.Y("pass_rate:Q", title="Checks passed", scale=alt.Scale(domain=[0, 1]),
                                                 axis=alt.Axis(format="%")),
                                    color=alt.Color("layer:N", title="Layer"),
                                    tooltip=[alt.Tooltip("pass_rate:Q", title="Passed", format=".1%"),
                                             alt.Tooltip("checks:Q", title="Checks")]).properties(usermeta=SVG),
                        width="stretch")
    if runs is not None:
        st.subheader("Reconciliation per run")
        show(runs[["run_id", "command", "started_at", "bronze_rows", "silver_events", "quarantined",
                   "duplicates", "balanced"]].sort_values("started_at", ascending=False), data.currency)


def freshness_note(data: DashboardData, latest: pd.DataFrame) -> None:
    stale = latest[latest["rule"].str.startswith("freshness") & (latest["status"] != "passed")]
    newest = data.newest_order_time()
    if stale.empty or newest is None:
        return
    age = pd.Timestamp.now(tz="UTC") - pd.Timestamp(newest)
    if age > timedelta(days=2):
        st.info(f"The freshness rule compares the newest order ({fmt.moment(newest)} UTC) with the wall clock: "
                f"it is {age.days:,} days old. Historical data, like the demo's, fails this rule by design; on a "
                f"live feed the same failure means new orders stopped arriving.")


def pipeline_page(data: DashboardData) -> None:
    status = data.tables()
    if status is None:
        no_data("the lake is empty")
        return
    st.subheader("Lineage")
    st.graphviz_chart(data.lineage_dot(status))
    st.subheader("Tables")
    show(status, data.currency)
    st.subheader("Time travel")
    existing = status[status["version"].notna()]
    table = st.selectbox("Table", existing["table"].tolist())
    newest = int(existing[existing["table"] == table]["version"].iloc[0])
    version = st.number_input("As of version", min_value=0, max_value=newest, value=newest, step=1)
    rows = data.table_as_of(table, int(version))
    st.caption(f"{table} as of version {int(version)}")
    if rows is not None:
        show(rows, data.currency)


def main() -> None:
    st.set_page_config(page_title="salesflow", layout="wide")
    data = DashboardData(load_settings())
    st.sidebar.title("salesflow")
    page = st.sidebar.radio("Page", PAGES)
    categories, stores = data.filters()
    span = data.date_span() if page == "Sales" else None
    category = store = None
    if page in ("Live", "Sales"):  # the filters every figure of these pages takes
        picked = st.sidebar.selectbox("Category", [ALL, *categories])
        category = None if picked == ALL else picked
        chosen_store = st.sidebar.selectbox("Store", [ALL, *stores],
                                            format_func=lambda s: s if s == ALL else data.store_label(s))
        store = None if chosen_store == ALL else chosen_store
    start = end = None
    if span is not None:
        chosen = st.sidebar.date_input("Date range", value=span, min_value=span[0], max_value=span[1])
        if isinstance(chosen, tuple) and len(chosen) == 2:
            start, end = chosen
    st.title(page)
    if page == "Live":
        live_page(data, [category] if category else [], [store] if store else [])
    elif page == "Sales":
        sales_page(data, start, end, category, store)
    elif page == "Forecast":
        forecast_page(data)
    elif page == "Data quality":
        quality_page(data)
    else:
        pipeline_page(data)


main()
