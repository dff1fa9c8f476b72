"""The Python API: the README's example runs as written, and results come typed."""

from __future__ import annotations

import doctest
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import salesflow
from salesflow.errors import ConfigError, ParameterError

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    found = re.search(r"<!-- api-example -->\n```pycon\n(.*?)```\n<!-- /api-example -->", README.read_text(), re.S)
    assert found, "README lost its Python API example"
    return found.group(1)


def test_the_readme_example_runs_as_written() -> None:
    text = _example()
    test = doctest.DocTestParser().get_doctest(text, {}, "README Python API", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted >= 10


@pytest.fixture(scope="module")
def sf(tmp_path_factory: pytest.TempPathFactory) -> salesflow.api.Salesflow:
    handle = salesflow.connect(data_dir=tmp_path_factory.mktemp("api"))
    handle.simulate(events=3_000, seed=3, days=10)
    handle.batch()
    handle.warehouse.load()
    return handle


def test_money_comes_as_float_or_exact_decimal(sf: salesflow.api.Salesflow) -> None:
    as_float = sf.query("daily_revenue", to="arrow")
    exact = sf.query("daily_revenue", to="arrow", money="decimal")
    money = [f.name for f in exact.schema if pa.types.is_decimal(f.type)]
    assert money and all(pa.types.is_float64(as_float.schema.field(name).type) for name in money)
    first = exact.column(money[0]).to_pylist()
    assert isinstance(first[0], Decimal)
    assert [round(float(v), 2) for v in first] == [round(v, 2) for v in as_float.column(money[0]).to_pylist()]


def test_query_parameters_may_be_python_values(sf: salesflow.api.Salesflow) -> None:
    assert len(sf.query("top_categories", top_n=2)) == 2
    days = sf.table("gold.daily_sales", to="arrow")["event_date"].to_pylist()
    first = min(days)
    assert isinstance(first, date)
    with pytest.raises(ParameterError):
        sf.query("top_categories", no_such_param=1)


def test_tables_at_a_version_and_bad_names_are_one_clear_error(sf: salesflow.api.Salesflow) -> None:
    now = sf.table("silver.orders", to="arrow")
    assert (
        now.num_rows
        == sf.table(
            "silver.orders", as_of=sf.status().set_index("table").loc["silver.orders", "version"].item(), to="arrow"
        ).num_rows
    )
    with pytest.raises(ParameterError, match="no table"):
        sf.table("gold.nope")
    polars = sf.table("silver.orders", to="polars")  # the test tools install polars (the bench's peer)
    assert polars.height == now.num_rows and set(polars.columns) == set(now.column_names)
    with pytest.raises(ConfigError, match="to='excel'"):
        sf.table("silver.orders", to="excel")  # type: ignore[arg-type]


def test_polars_missing_is_one_line_saying_what_to_install(sf: salesflow.api.Salesflow) -> None:
    """Where polars is not installed (the base install): a ConfigError naming it, from a real
    failed import (the module is blocked in this interpreter's import table, then restored)."""
    import sys

    saved = sys.modules.get("polars")
    sys.modules["polars"] = None  # type: ignore[assignment]  # makes `import polars` raise ImportError
    try:
        with pytest.raises(ConfigError, match="pip install polars"):
            sf.table("silver.orders", to="polars")
    finally:
        if saved is None:
            del sys.modules["polars"]
        else:
            sys.modules["polars"] = saved


def test_the_api_and_the_cli_run_the_same_jobs(sf: salesflow.api.Salesflow) -> None:
    """Nothing duplicated: the API's methods call the functions in salesflow.jobs."""
    import inspect

    from salesflow import api

    source = inspect.getsource(api.Salesflow)
    for job in ("run_batch", "ingest_files", "poll_api", "reconcile", "lake_status", "show_table", "answer_query",
                "simulate_to_landing"):
        assert f"import {job}" in source or f", {job}" in source, job
    assert sf.reconcile().balanced
