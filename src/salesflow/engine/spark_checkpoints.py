"""Relations the Spark engine computes once (local checkpoints): their blocks, their size, and
the broadcast a small one earns."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from salesflow.errors import ModelError


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


def placed(spark: SparkSession, frame: DataFrame, key: str, what: str) -> DataFrame:
    """``frame`` spread over the shuffle partitions by ``key``, planned so that its checkpoint
    keeps that placement: a join on ``key`` with a relation placed alike then moves no rows, and
    with any other only the other's. (Silver's outputs join parsed events, their lines and their
    verdicts by record; each join shuffled both sides, the verdicts from one task.) An adaptive
    plan reports no placement, so a checkpoint of one forgets it: this one plan is made with
    adaptive execution off; the queries that read the checkpoint are adaptive as before. (The
    setting is the session's: a query another thread plans in that instant is planned without
    adaptive execution as well, to the same rows.)"""
    if key not in frame.columns:
        raise ModelError(f"{what} has no column {key} to keep its rows by")
    spread = frame.repartition(int(spark._jsparkSession.sessionState().conf().numShufflePartitions()), key)
    adaptive = "spark.sql.adaptive.enabled"
    before = spark.conf.get(adaptive) or "true"
    spark.conf.set(adaptive, "false")
    try:
        spread._jdf.queryExecution().executedPlan()  # planned now, kept for the checkpoint's job
    finally:
        spark.conf.set(adaptive, before)
    return spread


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
