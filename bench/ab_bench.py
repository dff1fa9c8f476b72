"""Before/after: the same stream and batch runs on two versions of salesflow, taking turns.

    python bench/ab_bench.py --base fbd58ce --events 2000000 --turns 3

The base version is checked out into a git worktree; both sides run as ``python -m salesflow``
with their own ``src`` first on PYTHONPATH, on a fresh copy of one simulated landing log, in
alternating order (base, new, new, base, ...), so drift of the host hits both alike. Reports the
median wall and CPU seconds per side and the ratio new/base; JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/salesflow-ab")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--label", default=date.today().isoformat())
    parser.add_argument("--commands", default="stream,batch", help="which of stream, batch to run")
    args = parser.parse_args()
    sides = {"base": _worktree(args.base) / "src", "new": ROOT / "src"}
    seed = _simulate(args.events)
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {side: {c: [] for c in commands} for side in sides}
    for turn in range(args.turns):
        order = list(sides) if turn % 2 == 0 else list(reversed(sides))
        for command in commands:
            for side in order:
                measured = _run(sides[side], seed, command)
                runs[side][command].append(measured)
                print(f"turn {turn + 1} {command:6} {side:4}: {measured['wall_s']:6.2f} s wall, "
                      f"{measured['cpu_s']:6.2f} s CPU", flush=True)
    report = {"base": args.base, "events": args.events, "turns": args.turns, "runs": runs,
              "median": {side: {cmd: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s")}
                                for cmd, rs in by_cmd.items()} for side, by_cmd in runs.items()}}
    report["ratio_new_over_base"] = {cmd: {k: report["median"]["new"][cmd][k] / report["median"]["base"][cmd][k]
                                           for k in ("wall_s", "cpu_s")} for cmd in commands}
    out = ROOT / "bench" / "results" / f"ab-{args.label}.json"
    out.write_text(json.dumps(report, indent=2))
    for cmd, ratio in report["ratio_new_over_base"].items():
        print(f"{cmd}: new/base wall {ratio['wall_s']:.3f}, CPU {ratio['cpu_s']:.3f}")
    print(f"written {out}")


def _worktree(revision: str) -> Path:
    path = WORK / f"base-{revision}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), revision], cwd=ROOT, check=True)
    return path


def _simulate(events: int) -> Path:
    seed = WORK / f"seed-{events}"
    if not (seed / "landing").exists():
        shutil.rmtree(seed, ignore_errors=True)
        argv = [sys.executable, "-m", "salesflow", "--data-dir", str(seed), "simulate", "--events", str(events)]
        subprocess.run(argv, check=True, env=_env(ROOT / "src"), stdout=subprocess.DEVNULL)
    return seed


def _run(src: Path, seed: Path, command: str) -> dict[str, float]:
    data = WORK / "run"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(seed, data)
    argv = [sys.executable, "-m", "salesflow", "--data-dir", str(data)]
    argv += ["stream", "--available-now", "--json"] if command == "stream" else ["batch", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    subprocess.run(argv, check=True, env=_env(src), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src)}


if __name__ == "__main__":
    main()
