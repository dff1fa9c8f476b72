"""The same ``salesflow batch`` on both engine adapters: DuckDB (default) and Spark local[2].

Same generated workload (bench/out/workload-N-seedS, shared with batch_bench), same models, same
Delta writes and quality gates; only ``engine.name`` differs. Each run is a fresh process on a
fresh copy of the landing log; the two lakes are compared (row counts and revenue of every Silver
and Gold table) so the ratio is between runs that produced the same answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_bench import OUT, generate  # noqa: E402


def run(workload: Path, engine: str) -> dict[str, object]:
    run_dir = OUT / f"engine-{engine}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.copytree(workload / "landing", run_dir / "landing")
    env = {**os.environ, "SALESFLOW__SPARK__MASTER": "local[2]", "SALESFLOW__SPARK__DRIVER_MEMORY": "6g"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "salesflow", "--data-dir", str(run_dir), "--engine", engine,
                           "batch", "--json"], check=True, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    facts = json.loads(done.stdout)
    # ru_maxrss of children is the largest single child so far: the JVM for Spark is a grandchild
    # (spark-submit -> java), which RUSAGE_CHILDREN also covers once it has been waited for.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"engine": engine, "seconds": round(seconds, 1), "events": facts["this_run"]["bronze_rows"],
            "events_per_second": round(facts["this_run"]["bronze_rows"] / seconds),
            "peak_rss_mib_so_far": round(peak), "tables": tables(run_dir)}


def tables(run_dir: Path) -> dict[str, list[object]]:
    from salesflow.lake.delta import Lake
    from salesflow.lake.tables import GOLD_TABLES, SILVER_TABLES

    lake = Lake(str(run_dir / "lake"))
    out: dict[str, list[object]] = {}
    for spec in (*SILVER_TABLES, *GOLD_TABLES):
        table = lake.read(spec)
        if table is None:
            continue
        money = next((c for c in ("revenue", "total_amount") if c in table.column_names), None)
        total = sum((v for v in table[money].to_pylist() if v is not None), Decimal(0)) if money else None
        out[spec.qualified] = [table.num_rows, str(total) if total is not None else None]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    workload = generate(args.events, args.seed)
    duck = run(workload, "duckdb")
    print(json.dumps({k: v for k, v in duck.items() if k != "tables"}), flush=True)
    spark = run(workload, "spark")
    print(json.dumps({k: v for k, v in spark.items() if k != "tables"}), flush=True)
    report = {
        "benchmark": "salesflow batch, same workload, engine adapter duckdb vs spark local[2]",
        "events": duck["events"],
        "duckdb": {k: v for k, v in duck.items() if k != "tables"},
        "spark": {k: v for k, v in spark.items() if k != "tables"},
        "duckdb_speedup_over_spark": round(spark["seconds"] / duck["seconds"], 1),  # type: ignore[operator]
        "same_tables": duck["tables"] == spark["tables"],
        "tables": {"duckdb": duck["tables"], "spark": spark["tables"]},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    (OUT / "engines.json").write_text(json.dumps(report, indent=2))
    print(f"\n{'engine':<8} {'wall s':>8} {'events/s':>10}")
    for side in ("duckdb", "spark"):
        r = report[side]
        print(f"{side:<8} {r['seconds']:>8} {r['events_per_second']:>10,}")  # type: ignore[index]
    print(f"DuckDB is {report['duckdb_speedup_over_spark']}x Spark on the same pipeline; "
          f"same tables: {report['same_tables']}")


if __name__ == "__main__":
    main()
