"""salesflow beside its peers on one generated workload, in one run.

Runs, each as a fresh process on a fresh copy of the same landing log (default 2,000,000 events
with the simulator's default duplicates, late and malformed events):
- salesflow batch (DuckDB engine) and salesflow stream --available-now (landing source);
- salesflow batch on the Spark engine (local[2]);
- the peers, each written for speed the way its community would (bench/peers/, each with a
  comment on what was tuned): a PySpark batch job, a Spark Structured Streaming job (file source,
  RocksDB state store, availableNow), a vectorised pandas job on pyarrow dtypes, one plain DuckDB
  SQL script and one Polars lazy query, doing the same Silver/Gold work;
then the overhead of trust (salesflow batch over the DuckDB script, split by where the batch's
time went) and the stream's freshness at fixed input rates (bench/stream_bench.py, Kafka via tansu).
Peak memory is the run's own cgroup peak (the JVM included). Agreement compares each run's Silver
counts and order-line revenue with salesflow batch. With ``--repeat N`` every run is made N times,
in turns (salesflow, then each peer, then again), and each reports its median: a shared host's
speed drifts by 10% and more over minutes, and taking turns lets each side see the same drift.

    python bench/compare.py [--events N] [--rates 1000,10000,20000] [--skip spark-engine] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from batch_bench import OUT, generate  # noqa: E402
from scale_bench import Cgroup  # noqa: E402

KEYS = ("orders", "order_lines", "product_views", "cart_adds", "revenue")


def measured(name: str, args: list[str], env: dict[str, str] | None = None) -> tuple[str, float, int]:
    """Run ``args`` in its own cgroup (no cap): stdout, wall seconds, peak MiB of the whole tree."""
    cgroup = Cgroup(f"salesflow-compare-{name}", 64 * 1024 ** 3)
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    cgroup.add(child.pid)
    out, err = child.communicate()
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{name} failed ({child.returncode}):\n{err[-3000:]}")
    return out, seconds, round(cgroup.peak_bytes() / 1024 ** 2)


def fresh(workload: Path, name: str) -> Path:
    run_dir = OUT / "compare" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.copytree(workload / "landing", run_dir / "landing")
    return run_dir


def salesflow_run(workload: Path, name: str, *command: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    run_dir = fresh(workload, name)
    out, seconds, peak = measured(name, [sys.executable, "-m", "salesflow", "--data-dir", str(run_dir), *command], env)
    run = {"run": name, "seconds": seconds, "peak_mib": peak, **lake_facts(run_dir)}
    if "--json" in command:  # where the time went (salesflow.common.parts)
        facts = json.loads(out)
        run["parts"] = {"seconds": facts["seconds"], **facts.get("seconds_by_part", {})}
    return run


def lake_facts(run_dir: Path) -> dict[str, Any]:
    from salesflow.lake.delta import Lake
    from salesflow.lake.tables import (
        BRONZE_EVENTS,
        SILVER_CART_ADDS,
        SILVER_ORDER_LINES,
        SILVER_ORDERS,
        SILVER_PRODUCT_VIEWS,
    )

    lake = Lake(str(run_dir / "lake"))
    count = {name: (lake.read(spec, columns=["batch_id"]) or _empty()).num_rows for name, spec in (
        ("records", BRONZE_EVENTS), ("orders", SILVER_ORDERS), ("order_lines", SILVER_ORDER_LINES),
        ("product_views", SILVER_PRODUCT_VIEWS), ("cart_adds", SILVER_CART_ADDS))}
    lines = lake.read(SILVER_ORDER_LINES, columns=["revenue"])
    revenue = sum((v for v in lines["revenue"].to_pylist() if v is not None), Decimal(0)) if lines else 0
    return {**count, "revenue": float(revenue)}


def _empty() -> Any:
    import pyarrow as pa

    return pa.table({"batch_id": pa.array([], pa.int64())})


def peer(workload: Path, name: str, script: str, *mode: str) -> dict[str, Any]:
    run_dir = fresh(workload, name)
    out, seconds, peak = measured(name, [sys.executable, str(ROOT / "peers" / script), *mode,
                                         str(run_dir / "landing"), str(run_dir / "out")])
    facts = json.loads(out.strip().splitlines()[-1])
    return {"run": name, "seconds": seconds, "peak_mib": peak, **{k: facts[k] for k in ("records", *KEYS)}}


def agreement(run: dict[str, Any], reference: dict[str, Any]) -> str:
    off = [f"{k} {run[k] - reference[k]:+,.2f}" if k == "revenue" else f"{k} {run[k] - reference[k]:+,}"
           for k in KEYS if abs(run[k] - reference[k]) > (0.005 if k == "revenue" else 0)]
    return "same" if not off else ", ".join(off)


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time, with every run's seconds beside it."""
    ordered = sorted(results, key=lambda r: r["seconds"])
    mid = len(ordered) // 2
    run = dict(ordered[mid])
    if len(ordered) % 2 == 0:  # an even count: the mean of the middle two
        run = dict(ordered[mid - 1], seconds=(ordered[mid - 1]["seconds"] + ordered[mid]["seconds"]) / 2)
    run["events_per_second"] = round(run["records"] / run["seconds"])
    run["all_seconds"] = [round(r["seconds"], 2) for r in results]
    return run


MAIN_THREAD_TRUST = ("waiting for bronze", "delta write", "gates", "reconciliation", "dedupe state",
                     "reference data", "run log")
"""Parts of the batch's critical path that a bare SQL script does not have (the rest is the
Silver and Gold models themselves, which the script also runs)."""


def overhead(batch: dict[str, Any], script: dict[str, Any]) -> list[tuple[str, float]]:
    """The batch's wall time over the script's, split into the parts that make the difference.

    The main thread's parts add up to the run's own seconds; Bronze is read and written on a thread
    of its own, beside Silver, so only its wait shows on the critical path, and its work shows as
    the two cores the models share with it (its seconds are listed apart). The process's start and
    finish (imports, planning the run, the summary) is wall time outside the run."""
    parts = batch["parts"]
    rows = [("process start and finish (imports, planning, summary)", batch["seconds"] - parts["seconds"])]
    rows += [(name, parts.get(name, 0.0)) for name in MAIN_THREAD_TRUST]
    models = parts.get("silver models", 0.0) + parts.get("gold models", 0.0)
    # Negative when the models take less than the whole script: the script parses the JSON on its
    # critical path, the batch on its Bronze thread, beside Silver.
    rows.append(("Silver and Gold models less the script's whole run", models - script["seconds"]))
    return rows


def print_overhead(batch: dict[str, Any], script: dict[str, Any]) -> None:
    difference = batch["seconds"] - script["seconds"]
    print(f"\nOverhead of trust: salesflow batch {batch['seconds']:.1f} s against the DuckDB script's "
          f"{script['seconds']:.1f} s ({batch['seconds'] / script['seconds']:.2f}x, +{difference:.1f} s)")
    print("\n| part of salesflow batch's wall time | s | share of the difference |\n| --- | ---: | ---: |")
    for name, seconds in overhead(batch, script):
        print(f"| {name} | {seconds:.2f} | {seconds / difference:.0%} |")
    parts = batch["parts"]
    print(f"| (Bronze thread, beside Silver: read {parts.get('bronze read', 0):.2f} s, "
          f"Delta write {parts.get('bronze write', 0):.2f} s) | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rates", default="1000,10000,20000")
    parser.add_argument("--rate-seconds", type=int, default=20)
    parser.add_argument("--skip", default="", help="comma list of runs to leave out (spark-engine, freshness ...)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, in turns; each reports its median")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    workload = generate(args.events, args.seed)
    plan = [
        ("salesflow batch", lambda: salesflow_run(workload, "salesflow-batch", "batch", "--json")),
        ("salesflow stream", lambda: salesflow_run(workload, "salesflow-stream", "stream", "--available-now")),
        ("spark-engine", lambda: salesflow_run(workload, "salesflow-spark-engine", "--engine", "spark", "batch",
                                               env={"SALESFLOW__SPARK__MASTER": "local[2]",
                                                    "SALESFLOW__SPARK__DRIVER_MEMORY": "6g"})),
        ("pyspark batch", lambda: peer(workload, "pyspark-batch", "spark_job.py", "batch")),
        ("pyspark structured streaming", lambda: peer(workload, "pyspark-streaming", "spark_job.py", "stream")),
        ("pandas", lambda: peer(workload, "pandas", "pandas_job.py")),
        ("duckdb script", lambda: peer(workload, "duckdb-script", "duckdb_job.py")),
        ("polars lazy", lambda: peer(workload, "polars-lazy", "polars_job.py")),
    ]
    made: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for name, job in plan:
            if name in skip:
                continue
            result = job()
            result["run"] = name
            made.setdefault(name, []).append(result)
            print(json.dumps(result), flush=True)
    runs = [_median(results) for results in made.values()]
    reference = runs[0]
    stream = next((run for run in runs if run["run"] == "salesflow stream"), None)
    for run in runs:
        run["salesflow_speedup"] = round(reference["events_per_second"] / run["events_per_second"], 2)
        if stream is not None:
            run["salesflow_stream_speedup"] = round(stream["events_per_second"] / run["events_per_second"], 2)
        run["agreement"] = agreement(run, reference)
    freshness = None
    if "freshness" not in skip:
        subprocess.run([sys.executable, str(ROOT / "stream_bench.py"), "--events", "200000", "--rates", args.rates,
                        "--seconds", str(args.rate_seconds)], check=True, stdout=subprocess.DEVNULL)
        freshness = json.loads((OUT / "stream.json").read_text())
    report = {"events": args.events, "repeat": args.repeat, "runs": runs, "freshness": freshness,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    (OUT / "compare.json").write_text(json.dumps(report, indent=2))
    print("\n| run | wall s | events/s | peak RSS MiB | salesflow batch is | salesflow stream is "
          "| agreement with salesflow batch | every run s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for run in runs:
        against_stream = f"{run['salesflow_stream_speedup']}x" if "salesflow_stream_speedup" in run else "-"
        print(f"| {run['run']} | {run['seconds']:.1f} | {run['events_per_second']:,} | {run['peak_mib']:,} | "
              f"{run['salesflow_speedup']}x | {against_stream} | {run['agreement']} | "
              f"{', '.join(map(str, run['all_seconds']))} |")
    by_name = {run["run"]: run for run in runs}
    if {"salesflow stream", "pyspark structured streaming"} <= by_name.keys():
        ratio = (
            by_name["salesflow stream"]["events_per_second"]
            / by_name["pyspark structured streaming"]["events_per_second"]
        )
        report["stream_vs_structured_streaming"] = round(ratio, 2)
        (OUT / "compare.json").write_text(json.dumps(report, indent=2))
        print(f"\nsalesflow stream: {ratio:.1f}x Spark Structured Streaming's events/s (goal 8x)")
    if {"salesflow batch", "pyspark batch"} <= by_name.keys():
        ratio = by_name["salesflow batch"]["events_per_second"] / by_name["pyspark batch"]["events_per_second"]
        report["batch_vs_pyspark"] = round(ratio, 2)
        (OUT / "compare.json").write_text(json.dumps(report, indent=2))
        print(f"salesflow batch: {ratio:.1f}x the PySpark batch job's events/s (goal 5x)")
    if {"salesflow batch", "duckdb script"} <= by_name.keys():
        report["overhead_of_trust"] = dict(overhead(by_name["salesflow batch"], by_name["duckdb script"]))
        (OUT / "compare.json").write_text(json.dumps(report, indent=2))
        print_overhead(by_name["salesflow batch"], by_name["duckdb script"])
    if freshness:
        print("\n| input events/s | p50 ms | p99 ms |\n| ---: | ---: | ---: |")
        for rate in freshness["fixed_rate"]:
            latency = rate["latency_ms"]
            print(f"| {rate['input_rate']:,} | {latency['p50']:.0f} | {latency['p99']:.0f} |")


if __name__ == "__main__":
    main()
