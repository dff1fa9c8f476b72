"""Facts staged by workers (Spark's executors) straight into PostgreSQL: the shared stage, a
retried part replacing its rows, and a count that does not add up refused. The parts run here
through the in-process engine's one part; on Spark each partition is one (tests/spark/test_parity.py
loads the whole star that way)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest

from salesflow.engine.duckdb import DuckDBEngine
from salesflow.errors import TransientError
from salesflow.models import Model
from salesflow.warehouse.targets.postgres import PostgresTarget, copy_part
from salesflow.warehouse.worker_stage import staged_on_workers
from tests.pg import new_database

ROWS = pa.table({"order_id": ["o1", "o2", "o,3\"", ""], "amount": pa.array([Decimal("1.50"), None, Decimal("2"),
                                                                             Decimal("0")], pa.decimal128(18, 2)),
                 "day": pa.array([0, 1, 2, 3], pa.int32()).cast(pa.date32())})
MODEL = Model("t.stage", "SELECT * FROM source ORDER BY order_id")


@pytest.fixture
def target(postgres_admin_url: str) -> Iterator[PostgresTarget]:
    with PostgresTarget(new_database(postgres_admin_url)) as target:
        yield target


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    with DuckDBEngine() as engine:
        engine.register("source", ROWS)
        yield engine


def _tables(target: PostgresTarget) -> list[str]:
    found = target.query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'salesflow_stage_%'")
    return found["tablename"].to_pylist() if found.num_rows else []


def test_the_workers_rows_become_the_stage_and_the_shared_table_goes(engine: DuckDBEngine,
                                                                     target: PostgresTarget) -> None:
    with staged_on_workers(engine, target, "stage_x", MODEL) as stage, target.transaction():
        assert stage() == ROWS.num_rows
        got = target.query('SELECT order_id, amount, "day" FROM stage_x ORDER BY order_id')
    assert got["order_id"].to_pylist() == sorted(ROWS["order_id"].to_pylist())  # "" stays "", not NULL
    assert sorted(got["amount"].to_pylist(), key=str) == sorted(ROWS["amount"].to_pylist(), key=str)
    assert _tables(target) == []


def test_a_retried_part_replaces_what_its_first_attempt_wrote(target: PostgresTarget) -> None:
    with target.shared_stage(ROWS.schema) as shared:
        for _ in range(2):  # the same part twice: a task Spark ran again
            list(copy_part(target.url, shared, 3, iter(ROWS.to_batches())))
        list(copy_part(target.url, shared, 4, iter(ROWS.slice(0, 1).to_batches())))
        counts = target.query(f'SELECT salesflow_part, count(*) AS n FROM "{shared}" GROUP BY 1 ORDER BY 1')  # noqa: S608
        assert counts.to_pydict() == {"salesflow_part": [3, 4], "n": [ROWS.num_rows, 1]}
    assert _tables(target) == []


def test_rows_beyond_what_the_tasks_reported_load_nothing(engine: DuckDBEngine, target: PostgresTarget) -> None:
    with pytest.raises(TransientError, match="reported 4 rows but 5 arrived"):
        with staged_on_workers(engine, target, "stage_x", MODEL) as stage:
            shared = _tables(target)[0]  # a zombie attempt of another part commits late
            list(copy_part(target.url, shared, 9, iter(ROWS.slice(0, 1).to_batches())))
            with target.transaction():
                stage()
    assert _tables(target) == []
