"""Per-micro-batch cost of Silver's key index (silver/key_index.py) against the size of history.

    python bench/key_index_bench.py --orders 1000000,10000000,50000000 --batch 10000

History is N orders, each two keys (event_id and order_id), added as the stream adds them: in
batches of ``--history-batch`` keys, so the runs have the shapes a long stream leaves. Then
``--rounds`` micro-batches of ``--batch`` orders are probed and added, as Silver does per batch
(hashing by DuckDB, the probe, the add; confirming a hit in Silver is not included: it happens only
for a key really re-used beyond the horizon, or one hash collision in about 10^11 probes at 50M).
Reports the median per-batch milliseconds, the number of runs and the index's memory; JSON in
bench/results/. The hashing of history itself (the cold build from Silver) is timed separately at
the smallest size, per million keys.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from salesflow.silver.key_index import HashRuns  # noqa: E402


def _history(keys: int, chunk: int, rng: np.random.Generator) -> HashRuns:
    runs = HashRuns()
    done, batch = 0, 0
    while done < keys:
        n = min(chunk, keys - done)
        runs.add(rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True), batch)
        done, batch = done + n, batch + 1
    return runs


def _micro_batch(runs: HashRuns, con: duckdb.DuckDBPyConnection, batch: int, batch_id: int,
                 rng: np.random.Generator) -> float:
    con.register("keys", pa.table({"kind": ["event_id"] * batch + ["order_id"] * batch,
                                   "key": [f"{rng.integers(2**62):x}" for _ in range(2 * batch)]}))
    began = time.perf_counter()
    hashed = con.sql("SELECT hash(kind || key) AS h FROM keys").to_arrow_table()["h"].to_numpy()
    hit_h, _ = runs.hits(hashed)
    runs.add(hashed, batch_id)
    elapsed = time.perf_counter() - began
    assert len(hit_h) <= len(hashed)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", default="1000000,10000000,50000000")
    parser.add_argument("--batch", type=int, default=10_000, help="orders per micro-batch")
    parser.add_argument("--history-batch", type=int, default=500_000, help="keys per history batch")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    con = duckdb.connect()
    report: dict[str, object] = {"batch_orders": args.batch, "rounds": args.rounds, "sizes": {}}
    for orders in (int(x) for x in args.orders.split(",")):
        began = time.perf_counter()
        runs = _history(2 * orders, args.history_batch, rng)
        build = time.perf_counter() - began
        per_batch = [_micro_batch(runs, con, args.batch, 10**6 + i, rng) for i in range(args.rounds)]
        memory = sum(h.nbytes + b.nbytes for h, b in runs.runs)
        row = {"keys": len(runs), "runs": len(runs.runs), "memory_mib": round(memory / 2**20),
               "build_s": round(build, 2), "per_batch_ms_median": round(1000 * statistics.median(per_batch), 2),
               "per_batch_ms_p90": round(1000 * sorted(per_batch)[int(0.9 * len(per_batch))], 2)}
        report["sizes"][str(orders)] = row  # type: ignore[index]
        print(f"{orders:>11,} orders: {row['keys']:>12,} keys in {row['runs']} runs, {row['memory_mib']} MiB; "
              f"per batch of {args.batch:,} orders {row['per_batch_ms_median']} ms (p90 {row['per_batch_ms_p90']} ms)",
              flush=True)
        del runs
    out = ROOT / "bench" / "results" / f"key-index-{date.today().isoformat()}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
