"""Many small partner files through ``ingest-files``: batched Bronze commits against one commit per file.

    python bench/small_files_bench.py --files 10000 --per-file 200

Writes ``--files`` CSVs of 10 lines (5 orders of 2 lines) and runs ``salesflow ingest-files`` over
the folder (Bronze, Silver, Gold) twice in turns with the default ``pipeline.max_batch_bytes``
(files share commits), and once with ``max_batch_bytes: 1`` over ``--per-file`` of them (a commit
per file, as before: over all 10,000 that takes hours, so it is timed on a sample and reported per
file). Wall-clock seconds of the whole command, JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHOP = {"grain": "line", "fields": {
    "order_id": "order", "customer_id": "customer", "event_time": "time",
    "store_id": {"const": "S001"}, "channel": {"const": "web"}, "currency": {"const": "USD"},
    "payment_method": {"const": "card"},
    "lines.product_id": "product", "lines.quantity": "qty", "lines.unit_price": "price"}}


def _write(folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    for f in range(files):
        lines = ["order,customer,time,product,qty,price"]
        for r in range(10):
            order = f * 5 + r // 2
            lines.append(f"F{order},C{order % 97},2026-10-{1 + order % 28:02d}T10:{r:02d}:00Z,P{r % 7},{1 + r % 3},"
                         f"{10 + r}.50")
        (folder / f"f{f:05d}.csv").write_text("\n".join(lines) + "\n")


def _run(work: Path, folder: Path, max_batch_bytes: int | None) -> tuple[float, dict]:
    config = work / "config.yaml"
    pipeline = {} if max_batch_bytes is None else {"max_batch_bytes": max_batch_bytes}
    config.write_text(yaml.safe_dump({"files": {"shop": SHOP}, "pipeline": pipeline}))
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    clock = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "salesflow"), "--config", str(config),
                           "--data-dir", str(data), "ingest-files", "--source", "shop", str(folder), "--json"],
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - clock
    facts = json.loads(done.stdout)
    batches = len(facts["pipeline"]["batches"])
    return seconds, {"files": len(facts["files"]), "batches": batches,
                     "orders": facts["pipeline"]["this_run"]["silver_events"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=200, help="files timed with one commit each")
    parser.add_argument("--turns", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="salesflow-small-files-") as tmp:
        work = Path(tmp)
        _write(work / "all", args.files)
        _write(work / "sample", args.per_file)
        batched = []
        for turn in range(args.turns):
            seconds, facts = _run(work, work / "all", None)
            batched.append(seconds)
            print(f"turn {turn + 1}: {args.files:,} files batched: {seconds:.1f} s {facts}", flush=True)
        single, facts = _run(work, work / "sample", 1)
        print(f"{args.per_file:,} files, a commit each: {single:.1f} s {facts}", flush=True)
    result = {
        "date": date.today().isoformat(), "files": args.files, "rows_per_file": 10,
        "batched_seconds": batched, "batched_median": statistics.median(batched),
        "per_file_sample": args.per_file, "per_file_seconds": single,
        "per_file_each": single / args.per_file,
        "per_file_projected": single / args.per_file * args.files,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"small-files-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
