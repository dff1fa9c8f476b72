"""Facts staged by the engine's workers: Spark's executors COPY a staging model's rows straight
into PostgreSQL, so a warehouse load on Spark moves no fact row through the driver (#25).

The executors write into an UNLOGGED table over their own connections, one transaction per
partition that first deletes what an earlier attempt of that partition wrote; the load's own
transaction then takes the rows into the temp table its SQL reads, checks the count against what
the tasks reported, and drops the shared table whatever happens. An in-process engine (DuckDB) or
another target stages through this process as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from salesflow.engine.base import EngineAdapter
from salesflow.errors import TransientError
from salesflow.models import Model
from salesflow.warehouse.targets.base import WarehouseTarget
from salesflow.warehouse.targets.postgres import COPIED, PostgresTarget, copy_part


def stages_on_workers(engine: EngineAdapter, target: WarehouseTarget) -> bool:
    return not engine.KEEPS_RESULTS_IN_PROCESS and isinstance(target, PostgresTarget)


@contextmanager
def staged_on_workers(engine: EngineAdapter, target: PostgresTarget, name: str,
                      model: Model) -> Iterator[Callable[[], int]]:
    """Run ``model`` as relation ``name`` on the engine and COPY its rows from the workers; yields
    what to call inside the load's transaction to make temp table ``name`` of them (its rows)."""
    engine.compute(name, model)
    schema = engine.schema(name)
    with target.shared_stage(schema) as shared:
        copied = engine.map_relation(name, partial(copy_part, target.url, shared), COPIED)
        expected = sum(copied["rows"].to_pylist())
        yield partial(_adopt, target, shared, name, schema.names, expected)


def _adopt(target: PostgresTarget, shared: str, name: str, columns: list[str], expected: int) -> int:
    arrived = target.adopt(shared, name, columns)
    if arrived != expected:  # a speculative or zombie attempt committed beside the one Spark kept
        raise TransientError(f"warehouse staging of {name}: the tasks reported {expected} rows but {arrived} "
                             f"arrived; nothing was loaded, run the load again")
    return arrived
