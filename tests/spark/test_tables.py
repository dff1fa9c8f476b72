"""Spark's table I/O: executors write Parquet files under the table path and read a pinned
snapshot's files; the driver commits add/remove actions with delta-rs and the Delta application
transaction. Checked against what delta-rs (the DuckDB engine's reader) sees in the same lake."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesflow.config import SparkConfig
from salesflow.engine.base import Txn, WriteScope
from salesflow.engine.parquet_files import FileTarget, write_files
from salesflow.engine.spark import SparkEngine
from salesflow.errors import LakeSchemaError, ModelError
from salesflow.lake.delta import Lake
from salesflow.lake.maintenance import maintain
from salesflow.lake.tables import TableSpec

SPEC = TableSpec("silver", "lines", ("event_date",), unique=("event_id",))
SCHEMA = pa.schema([("event_id", pa.string()), ("batch_id", pa.int64()), ("event_date", pa.date32()),
                    ("event_time", pa.timestamp("us", "UTC")), ("amount", pa.decimal128(18, 2)),
                    ("tags", pa.list_(pa.string()))])


@pytest.fixture(scope="module")
def engine(spark_session: object) -> SparkEngine:
    return SparkEngine(SparkConfig(master="local[2]", shuffle_partitions=2, keep_session=True),
                       session=spark_session)  # type: ignore[arg-type]


def rows(n: int, batch: int, start: date = date(2026, 3, 1)) -> pa.Table:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    return pa.table({
        "event_id": [f"b{batch}-e{i}" for i in range(n)],
        "batch_id": [batch] * n,
        "event_date": [start + timedelta(days=i % 3) for i in range(n)],
        "event_time": [base + timedelta(days=i % 3, microseconds=7 * i + 1) for i in range(n)],
        "amount": [Decimal(i) / 100 for i in range(n)],
        "tags": [["a", "b"][: i % 3] for i in range(n)],
    }, schema=SCHEMA)


def read(lake: Lake) -> pa.Table:
    table = lake.read(SPEC)
    assert table is not None
    return table.select(SCHEMA.names).sort_by("event_id")


def test_executors_write_and_the_driver_commits_once(engine: SparkEngine, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    first, second = rows(300, 1), rows(200, 2)
    engine.register("first", first)
    assert engine.write_table(lake, SPEC, "first", WriteScope.append(), Txn("app", 1))
    assert not engine.write_table(lake, SPEC, "first", WriteScope.append(), Txn("app", 1)), "a rerun is a no-op"
    engine.register("second", second)
    assert engine.write_table(lake, SPEC, "second", WriteScope.append(), Txn("app", 2))
    assert lake.version(SPEC) == 1 and lake.txn_version(SPEC, "app") == 2
    assert read(lake).equals(pa.concat_tables([first, second]).sort_by("event_id"))
    files = [p.relative_to(tmp_path / "lake" / "silver" / "lines") for p in (tmp_path / "lake").rglob("*.parquet")]
    assert len(files) == 6, "one file per day and batch: each day is written by one task"
    assert all(f.parts[0].startswith("event_date=2026-03-0") for f in files)
    assert all(f.name.startswith(("app-b1-", "app-b2-")) for f in files)
    # The log's statistics are right: counts without opening a file, and pruning by batch
    assert lake.count_rows(SPEC) == 500 and lake.count_rows(SPEC, up_to_batch=1) == 300
    assert engine.read_table(lake, SPEC, "b2", predicate="batch_id = 2 AND event_date = DATE '2026-03-02'")
    assert engine.rows("b2") == pc.sum(pc.equal(second["event_date"], date(2026, 3, 2))).as_py()


def test_replace_finer_than_a_partition_keeps_the_rest(engine: SparkEngine, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    for batch in (1, 2):
        engine.register(f"b{batch}", rows(90, batch))
        engine.write_table(lake, SPEC, f"b{batch}", WriteScope.append(), Txn("app", batch))
    again = rows(10, 1, start=date(2026, 3, 2))  # batch 1 redone: fewer rows, other days
    engine.register("again", again)
    assert engine.write_table(lake, SPEC, "again", WriteScope.replace("batch_id = 1"), Txn("app", 3))
    assert read(lake).equals(pa.concat_tables([again, rows(90, 2)]).sort_by("event_id"))
    # A replace of whole partitions needs no read of the files it drops
    engine.register("day", rows(1, 9, start=date(2026, 3, 1)))
    assert engine.write_table(lake, SPEC, "day", WriteScope.replace("event_date = DATE '2026-03-01'"), Txn("app", 4))
    after = read(lake)
    assert pc.sum(pc.equal(after["event_date"], date(2026, 3, 1))).as_py() == 1
    others = pa.concat_tables([again, rows(90, 2)])["event_date"]
    assert after.num_rows == 1 + pc.sum(pc.not_equal(others, date(2026, 3, 1))).as_py()


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 4),
                       timezones=st.just(UTC))
row = st.tuples(st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 1, 3))), st.one_of(st.none(), moments),
                st.one_of(st.none(), st.text(max_size=80)), st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
                st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(row, min_size=1, max_size=40))
def test_any_rows_round_trip_and_statistics_never_prune_a_row(engine: SparkEngine, tmp_path: Path,
                                                               values: list[tuple[object, ...]]) -> None:
    """Null partitions, microsecond times, long strings, NaN and extreme integers: what delta-rs
    reads back is what was written, and a filter on any written value finds its row through the
    statistics the executors wrote."""
    spec = TableSpec("silver", f"any{time.monotonic_ns()}", ("day",))
    table = pa.table({"i": list(range(len(values))), "day": [v[0] for v in values], "at": [v[1] for v in values],
                      "text": [v[2] for v in values], "big": [v[3] for v in values], "x": [v[4] for v in values]},
                     schema=pa.schema([("i", pa.int64()), ("day", pa.date32()), ("at", pa.timestamp("us", "UTC")),
                                       ("text", pa.string()), ("big", pa.int64()), ("x", pa.float64())]))
    lake = Lake(str(tmp_path / "lake"))
    engine.register("any", table)
    engine.write_table(lake, spec, "any", WriteScope.append(), Txn("p", 1))
    back = lake.read(spec)
    assert back is not None and _nan_equal(back.select(table.column_names).sort_by("i").to_pylist(), table.to_pylist())
    for i, (_, at, text, big, _) in enumerate(values):
        for column, value in (("at", at), ("text", text), ("big", big)):
            if value is None:
                continue
            found = lake.read(spec, columns=["i"], filter=pc.field(column) == value,
                              prune=f"{column} = {_literal(value)}")
            assert found is not None and i in found["i"].to_pylist(), f"{column} = {value!r} pruned away"


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"arrow_cast('{value.isoformat()}', 'Timestamp(Microsecond, Some(\"UTC\"))')"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _nan_equal(a: list[dict[str, object]], b: list[dict[str, object]]) -> bool:
    def norm(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: ("nan" if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in rows]
    return norm(a) == norm(b)


def test_rows_that_do_not_fit_the_table_are_refused(engine: SparkEngine, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    engine.register("ok", rows(5, 1))
    engine.write_table(lake, SPEC, "ok", WriteScope.append(), Txn("app", 1))
    engine.register("renamed", rows(5, 2).rename_columns([*SCHEMA.names[:-1], "labels"]))
    with pytest.raises(LakeSchemaError, match="labels"):  # not the table's columns and more: a different table
        engine.write_table(lake, SPEC, "renamed", WriteScope.append(), Txn("app", 2))
    too_big = rows(1, 3).set_column(4, "amount", pa.array([Decimal("12345678901234567.5")], pa.decimal128(38, 1)))
    engine.register("too_big", too_big)
    with pytest.raises(LakeSchemaError, match="rejected"):
        engine.write_table(lake, SPEC, "too_big", WriteScope.append(), Txn("app", 3))
    assert lake.txn_version(SPEC, "app") == 1 and read(lake).num_rows == 5, "nothing of either was committed"


def test_a_column_a_newer_version_adds_widens_a_table_an_older_one_wrote(engine: SparkEngine, tmp_path: Path) -> None:
    """As on the DuckDB path (a new optional contract field, silver.orders.quarantined_lines): the
    table gains the column in a commit of its own, older rows read it as null, on both readers."""
    lake = Lake(str(tmp_path / "lake"))
    engine.register("old", rows(4, 1))
    engine.write_table(lake, SPEC, "old", WriteScope.append(), Txn("app", 1))
    engine.register("new", rows(2, 2).append_column("note", pa.array(["x", None])))
    assert engine.write_table(lake, SPEC, "new", WriteScope.append(), Txn("app", 2))
    table = lake.read(SPEC)
    assert table is not None and table.num_rows == 6
    assert table["note"].null_count == 5 and "x" in table["note"].to_pylist()
    wider = pa.schema([*SCHEMA, ("note", pa.string()), ("later", pa.int64())])
    assert engine.read_table(lake, SPEC, "again", columns=wider.names, empty=wider)
    assert engine.query('SELECT count(*) AS n, count(later) AS later FROM "again"', "t").to_pylist() == [
        {"n": 6, "later": 0}]


@pytest.mark.parametrize("feature", [{"delta.enableDeletionVectors": "true"}, {"delta.columnMapping.mode": "name"}])
def test_tables_the_parquet_files_do_not_describe_are_refused(engine: SparkEngine, tmp_path: Path,
                                                              feature: dict[str, str]) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_deltalake(lake.uri(SPEC), rows(3, 1), partition_by=["event_date"], configuration=feature)
    with pytest.raises(LakeSchemaError, match="deletionVectors|columnMapping"):
        engine.read_table(lake, SPEC, "refused")


def test_files_of_a_failed_attempt_are_never_read_and_vacuumed(engine: SparkEngine, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    engine.register("ok", rows(30, 1))
    engine.write_table(lake, SPEC, "ok", WriteScope.append(), Txn("app", 1))
    root = tmp_path / "lake" / "silver" / "lines"
    # What a task of a job that then failed leaves: files written, no commit
    target = FileTarget(str(root), SCHEMA, SPEC.partition_by, "app-b2", SPEC.unique)
    next(write_files(target, iter(rows(30, 2).to_batches())))
    orphans = [p for p in root.rglob("app-b2-*.parquet")]
    assert len(orphans) == 3 and read(lake).num_rows == 30
    engine.read_table(lake, SPEC, "seen")
    assert engine.rows("seen") == 30
    old = time.time() - 3 * 3600
    for path in orphans:
        os.utime(path, (old, old))
    maintain(lake, retention_hours=1, tables=(SPEC,))
    assert not any(p.exists() for p in orphans) and read(lake).num_rows == 30


def test_landing_batches_are_larger_where_executors_hold_the_rows(engine: SparkEngine, tmp_path: Path) -> None:
    """A Bronze batch bounds the memory of the process that holds its rows: DuckDB's own, so 192
    MiB there; Spark's rows stay on the executors, which spill, and each batch costs some forty
    jobs, so 2 GiB there. A value the user sets holds on both engines; partner files (read in
    this process on any engine) keep the in-process size."""
    from salesflow.config import load_settings
    from salesflow.engine.duckdb import DuckDBEngine
    from salesflow.pipeline.runner import landing_source

    lake = Lake(str(tmp_path / "lake"))
    default = load_settings(data_dir=tmp_path / "d")
    set_by_user = load_settings(data_dir=tmp_path / "d", pipeline={"max_batch_bytes": 5_000})
    with DuckDBEngine() as duck:
        assert landing_source(default, lake, duck).max_batch_bytes == 192 * 1024 * 1024
        assert landing_source(set_by_user, lake, duck).max_batch_bytes == 5_000
    assert landing_source(default, lake, engine).max_batch_bytes == 2 * 1024 ** 3
    assert landing_source(set_by_user, lake, engine).max_batch_bytes == 5_000
    assert default.pipeline.batch_bytes() == 192 * 1024 * 1024


def test_a_defined_relation_keeps_no_copy_of_its_rows(engine: SparkEngine) -> None:
    """``define`` is a view Spark plans through (Bronze's rows, read once by their write), where
    ``materialize`` keeps a copy in executor storage for many readers; both give the same rows."""
    held = engine.spark.sparkContext._jsc.getPersistentRDDs  # type: ignore[attr-defined]
    engine.register("numbers", pa.table({"n": list(range(1_000))}))
    before = len(held())
    engine.define("odd_view", "SELECT n FROM numbers WHERE n % 2 = 1")
    assert len(held()) == before, "a view keeps no rows"
    assert engine.rows("odd_view") == 500
    engine.materialize("odd_copy", "SELECT n FROM numbers WHERE n % 2 = 1")
    assert len(held()) == before + 1, "a materialized relation keeps its rows"
    assert engine.query("SELECT sum(n) AS s FROM odd_view")["s"][0].as_py() == \
        engine.query("SELECT sum(n) AS s FROM odd_copy")["s"][0].as_py() == 250_000


def test_a_materialized_cte_is_computed_once_and_let_go(engine: SparkEngine) -> None:
    """Spark plans a CTE again at each reference; ``materialize`` computes a MATERIALIZED one
    first, as a relation of its own, and lets it go once the model's rows are kept."""
    held = engine.spark.sparkContext._jsc.getPersistentRDDs  # type: ignore[attr-defined]
    engine.register("numbers", pa.table({"n": list(range(1_000))}))
    sql = ("WITH odd AS MATERIALIZED (SELECT n FROM numbers WHERE n % 2 = 1) "
           "SELECT count(*) AS c, sum(n) AS s, (SELECT max(n) FROM odd) AS top FROM odd")
    before = len(held())
    engine.materialize("odd_summary", sql)
    assert len(held()) == before + 1, "only the model's own rows are kept"
    assert not engine.spark.catalog.tableExists("odd_summary__odd")
    local = duckdb.connect()
    local.execute("CREATE TABLE numbers AS SELECT range AS n FROM range(1000)")
    want = local.execute(sql).fetchall()
    assert [tuple(r.values()) for r in engine.query("SELECT c, s, top FROM odd_summary").to_pylist()] == want
    assert want == [(500, 250_000, 999)]


def test_a_small_kept_relation_is_broadcast_and_a_large_one_is_not(engine: SparkEngine) -> None:
    """Spark sizes a checkpoint by the estimate of the plan that made it (here 10 of 500,000 rows
    look like 8 MB), so a join with it shuffled both sides. A kept relation whose blocks are under
    the broadcast threshold is broadcast; a larger one is left to Spark's own choice."""
    threshold = "spark.sql.autoBroadcastJoinThreshold"
    before = engine.spark.conf.get(threshold)
    engine.spark.conf.set(threshold, "1m")  # under the 8 MB Spark estimates for both relations
    try:
        engine.spark.range(500_000).createOrReplaceTempView("many_source")
        engine.materialize("many", "SELECT id AS n, id % 1000 AS k FROM many_source")
        engine.materialize("few", "SELECT k, count(*) AS c FROM many WHERE k < 10 GROUP BY k")
        joined = engine.spark.sql("SELECT m.n, f.c FROM many m JOIN few f ON f.k = m.k")
        plan = joined._jdf.queryExecution().executedPlan().toString()
        assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan, plan
        assert joined.count() == 5_000
        both = engine.spark.sql("SELECT a.n FROM many a JOIN many b ON a.n = b.n")
        assert "SortMergeJoin" in both._jdf.queryExecution().executedPlan().toString(), "42 MB kept: not broadcast"
        assert engine.query("SELECT count(*) AS c FROM many a JOIN few f ON f.k = a.k")["c"][0].as_py() == 5_000
    finally:
        engine.spark.conf.set(threshold, before)


def test_relations_kept_by_the_same_key_join_without_moving_rows(engine: SparkEngine) -> None:
    """Silver's outputs join parsed events, their lines and their verdicts by record_seq; each
    join shuffled both sides. Relations kept by that key are spread by it and the checkpoint
    remembers so (an adaptive plan would not), so their join reads each partition where it is;
    a relation kept without a key is still shuffled to meet one kept by it. Same rows either way."""
    threshold = "spark.sql.autoBroadcastJoinThreshold"
    before = engine.spark.conf.get(threshold)
    engine.spark.conf.set(threshold, "-1")  # no broadcast: the joins' shuffles are what is counted
    try:
        _joins_by_key(engine)
    finally:
        engine.spark.conf.set(threshold, before)


def _joins_by_key(engine: SparkEngine) -> None:
    engine.spark.range(300_000).createOrReplaceTempView("keyed_source")
    events = "SELECT id AS record_seq, id % 3 AS kind FROM keyed_source"
    verdicts = "SELECT id AS record_seq, id % 7 = 0 AS late FROM keyed_source WHERE id % 5 <> 0"
    engine.materialize("keyed_events", events, key="record_seq")
    engine.materialize("keyed_verdicts", verdicts, key="record_seq")
    engine.materialize("loose_verdicts", verdicts)
    count = ("SELECT e.kind, count(*) AS n, sum(CASE WHEN v.late THEN 1 ELSE 0 END) AS late "
             "FROM keyed_events e JOIN {v} v USING (record_seq) GROUP BY e.kind ORDER BY e.kind")
    local = duckdb.connect()
    local.execute("CREATE TABLE keyed_source AS SELECT range AS id FROM range(300000)")
    local.execute(f"CREATE TABLE keyed_events AS {events}")
    want = local.execute(count.format(v=f"({verdicts})")).fetchall()
    for verdict_relation, shuffles in (("keyed_verdicts", 0), ("loose_verdicts", 1)):
        sql = count.format(v=verdict_relation)
        joined = engine.spark.sql(f"SELECT * FROM keyed_events e JOIN {verdict_relation} v USING (record_seq)")  # noqa: S608 - test names
        plan = joined._jdf.queryExecution().executedPlan().toString()
        assert plan.count("Exchange hashpartitioning(record_seq") == shuffles, plan
        assert [tuple(r.values()) for r in engine.query(sql).to_pylist()] == want
    with pytest.raises(ModelError, match="no column order_id"):
        engine.materialize("keyed_wrong", events, key="order_id")
