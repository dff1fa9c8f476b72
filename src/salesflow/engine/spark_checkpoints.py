"""Relations the Spark engine computes once (local checkpoints): their blocks, their size, and
the broadcast a small one earns."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession


def checkpoint(spark: SparkSession, frame: DataFrame) -> DataFrame:
    """``frame`` computed once. Spark sizes a checkpoint by the estimate of the plan that made it
    (an aggregate keeping 2,000 of 2M keys looks like 24 MB), so a join with one shuffled both
    sides, the large one too. A checkpoint whose blocks are under the broadcast threshold is
    marked for broadcast: its rows reach the driver once, within the bound that holds for any
    broadcast (engine.spark.DRIVER_BOUNDS)."""
    kept = frame.localCheckpoint(eager=True)
    limit = int(spark._jsparkSession.sessionState().conf().autoBroadcastJoinThreshold())
    stored = stored_bytes(spark, kept)
    return kept.hint("broadcast") if stored is not None and stored <= limit else kept


def checkpoint_rdd(frame: DataFrame) -> Any | None:
    """The JVM RDD holding a checkpoint's blocks (through a broadcast hint); None for other frames."""
    plan = frame._jdf.queryExecution().logical()
    while plan.getClass().getSimpleName() in ("UnresolvedHint", "ResolvedHint"):
        plan = plan.child()
    return plan.rdd() if plan.getClass().getSimpleName() == "LogicalRDD" else None


def stored_bytes(spark: SparkSession, frame: DataFrame) -> int | None:
    """Bytes a checkpoint's blocks take in memory and on disk, as the block manager counts them."""
    rdd = checkpoint_rdd(frame)
    if rdd is None:
        return None
    wanted = rdd.id()
    for info in spark.sparkContext._jsc.sc().getRDDStorageInfo():  # type: ignore[union-attr]
        if info.id() == wanted:
            return int(info.memSize()) + int(info.diskSize())
    return 0  # no block stored: no rows
