"""The Spark engine beside the plain PySpark peer, and against an earlier revision of itself.

One simulated landing log; each side runs in turns as a fresh process on a fresh copy of it:

- ``new``: ``salesflow --engine spark batch`` from this checkout;
- ``base``: the same from ``--base`` (a git worktree), when given;
- ``pyspark``: bench/peers/spark_job.py batch, the same Silver/Gold work as a Spark user writes it.

With ``--command stream`` the sides are ``salesflow spark stream --available-now`` and the peer's
Structured Streaming job (``spark_job.py stream``).

Reported per side: median wall seconds, the driver's Python process peak RSS (the process that
would have to hold every row if rows went through it) and the ratio to the peer. Spark master
from ``--master`` (``local[2]`` default; ``local-cluster[2,1,1024]`` puts executors in their own JVMs).

    python bench/spark_engine_bench.py --events 200000 --base 401919b --turns 2
    python bench/spark_engine_bench.py --events 2000000 --command stream
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab_bench import _simulate, _worktree  # noqa: E402 - one simulated seed and worktree per revision

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("SALESFLOW_BENCH_DIR", "/tmp/salesflow-spark-bench"))
DRIVER = """
import os, resource, runpy, sys
leave = os._exit
def _exit(code):
    open(os.environ["RSS_FILE"], "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    leave(code)
os._exit = _exit  # the CLI leaves through os._exit, past any finally
sys.argv = ["salesflow", *sys.argv[2:]]
runpy.run_module("salesflow", run_name="__main__")
"""
"""Runs the CLI and leaves the process's own peak RSS (KiB) in $RSS_FILE: the driver's Python side."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--base", help="git revision to run beside this checkout")
    parser.add_argument("--turns", type=int, default=1)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--label", default="spark-engine")
    parser.add_argument("--command", choices=("batch", "stream"), default="batch",
                        help="batch: --engine spark batch beside spark_job.py batch; stream: spark stream "
                             "--available-now beside spark_job.py stream (Structured Streaming)")
    args = parser.parse_args()
    seed = _simulate(args.events)
    sides = {"new": ROOT / "src", **({"base": _worktree(args.base) / "src"} if args.base else {})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in (*sides, "pyspark")}
    for turn in range(args.turns):
        order = list(runs) if turn % 2 == 0 else list(reversed(runs))
        for side in order:
            measured = _peer(seed, args.command) if side == "pyspark" else \
                _salesflow(sides[side], seed, args.master, args.command)
            runs[side].append(measured)
            print(f"turn {turn + 1} {side:8}: {measured['wall_s']:8.1f} s, "
                  f"driver peak {measured['driver_mib']:6.0f} MiB", flush=True)
    median = {side: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "driver_mib")}
              for side, rs in runs.items()}
    report = {"events": args.events, "command": args.command, "master": args.master, "base": args.base,
              "turns": args.turns,
              "runs": runs, "median": median,
              "ratio_to_pyspark": {side: median[side]["wall_s"] / median["pyspark"]["wall_s"] for side in sides}}
    out = ROOT / "bench" / "results" / f"{args.label}-{args.command}-{args.events}.json"
    out.write_text(json.dumps(report, indent=2))
    for side in sides:
        print(f"{side}: {median[side]['wall_s']:.1f} s = {report['ratio_to_pyspark'][side]:.2f}x the PySpark peer "
              f"({median['pyspark']['wall_s']:.1f} s); driver peak {median[side]['driver_mib']:.0f} MiB")
    print(f"written {out}")


def _salesflow(src: Path, seed: Path, master: str, command: str) -> dict[str, float]:
    data = _fresh(seed)
    with tempfile.NamedTemporaryFile() as rss:
        # 6g as the peer: in local mode the executors live in the driver's JVM
        env = {**os.environ, "PYTHONPATH": str(src), "RSS_FILE": rss.name, "PYSPARK_PYTHON": sys.executable,
               "SALESFLOW__SPARK__MASTER": master, "SALESFLOW__SPARK__DRIVER_MEMORY": "6g"}
        clock = time.perf_counter()
        argv = ["--engine", "spark", "batch"] if command == "batch" else ["spark", "stream", "--available-now"]
        subprocess.run([sys.executable, "-c", DRIVER, "-", "--data-dir", str(data), *argv],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - clock
        return {"wall_s": round(wall, 2), "driver_mib": round(int(Path(rss.name).read_text()) / 1024)}


def _peer(seed: Path, command: str) -> dict[str, float]:
    data = _fresh(seed)
    clock = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "peers" / "spark_job.py"), command,
                           str(data / "landing"), str(data / "out")], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - clock
    json.loads(done.stdout.strip().splitlines()[-1])  # it finished with its facts
    return {"wall_s": round(wall, 2), "driver_mib": float("nan")}  # not measured: only salesflow's driver


def _fresh(seed: Path) -> Path:
    data = WORK / "spark-run"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(seed, data)
    return data


if __name__ == "__main__":
    main()
