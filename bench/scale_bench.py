"""Scale: ``salesflow batch`` on 2M, 10M and 50M events with the process memory capped at 4 GiB.

The workload is generated to disk in chunks of 2M events (one catalog, a distinct seed and month
per chunk, two generator processes at a time), so it never has to fit in memory either. Each run
is a fresh ``salesflow batch`` process placed in a cgroup (v1 ``memory.limit_in_bytes``, or v2
``memory.max``) with the cap; the cgroup's own peak usage is reported. A run that the kernel kills
for memory shows as a failure, not a slow number.

    python bench/scale_bench.py --sizes 2000000,10000000,50000000 --cap-gib 4
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
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out" / "scale"
CHUNK = 2_000_000
SEGMENT = 50_000


def _chunk(landing: str, index: int, size: int) -> int:
    from salesflow.simulator import DefectRates, SimulationSpec, build_catalog, simulate
    from salesflow.simulator.output import write_reference, write_to_landing
    from salesflow.sources.landing import LandingLog

    catalog = build_catalog(42)
    log = LandingLog(Path(landing))
    if index == 0:
        write_reference(log, catalog)
    spec = SimulationSpec(events=size, seed=1000 + index, start=date(2025, 1, 1) + timedelta(days=28 * index),
                          days=28, defects=DefectRates())
    write_to_landing(log, simulate(spec, catalog), SEGMENT)
    return size


def generate(events: int) -> Path:
    """Chunks accumulate: the 50M landing log reuses the 10M one's first five chunks."""
    data = OUT / "workload"
    landing = data / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    done_file = data / "chunks.json"
    done = json.loads(done_file.read_text()) if done_file.exists() else 0
    need = events // CHUNK
    if done < need:
        print(f"generating chunks {done}..{need - 1} of {CHUNK:,} events into {landing}", flush=True)
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=2) as pool:
            jobs = pool.map(_chunk, [str(landing)] * (need - done), range(done, need), [CHUNK] * (need - done))
            for i, _ in zip(range(done, need), jobs, strict=True):
                done_file.write_text(json.dumps(i + 1))
                print(f"  chunk {i + 1}/{need} ({(i + 1) * CHUNK:,} events, {time.perf_counter() - started:.0f} s)",
                      flush=True)
    return landing


def segments_for(landing: Path, events: int) -> list[Path]:
    """The first ``events`` worth of segments (50,000 records each), in landing order."""
    names = sorted(p for p in landing.glob("*.jsonl"))
    return names[: events // SEGMENT]


class Cgroup:
    """A memory-capped cgroup for one child process (v1 or v2, as the machine mounts it)."""

    def __init__(self, name: str, cap_bytes: int) -> None:
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        base = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/memory")
        self.path = base / name
        self.v2 = v2
        self.path.mkdir(exist_ok=True)
        (self.path / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(cap_bytes))
        if not v2:
            (self.path / "memory.max_usage_in_bytes").write_text("0")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.path / name).read_text())

    def oom_kills(self) -> int:
        if self.v2:
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0))
        return int((self.path / "memory.failcnt").read_text())  # hits of the limit (reclaim or OOM)


def run(landing: Path, events: int, cap_gib: float) -> dict[str, object]:
    run_dir = OUT / f"run-{events}"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "landing").mkdir(parents=True)
    for segment in segments_for(landing, events):
        os.link(segment, run_dir / "landing" / segment.name)  # hard links: no copy of 10+ GB
    shutil.copytree(landing / "reference", run_dir / "landing" / "reference")
    cgroup = Cgroup(f"salesflow-bench-{events}", int(cap_gib * 1024 ** 3))
    # DuckDB is told its share so it spills instead of growing; the cap is the kernel's guarantee.
    env = {**os.environ, "SALESFLOW__ENGINE__MEMORY_LIMIT": f"{cap_gib * 0.6:.1f}GB"}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "salesflow", "--data-dir", str(run_dir), "batch", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    cgroup.add(child.pid)
    out, err, rss_kib = _wait(child)
    seconds = time.perf_counter() - started
    # The cgroup's peak counts the page cache of the files read and written, which the kernel
    # reclaims at the cap; the process's own peak resident set is the memory it needed.
    result: dict[str, object] = {"events": events, "seconds": round(seconds, 1), "exit_code": child.returncode,
                                 "peak_mib": round(cgroup.peak_bytes() / 1024 ** 2),
                                 "peak_rss_mib": round(rss_kib / 1024), "cap_gib": cap_gib}
    if child.returncode == 0:
        facts = json.loads(out)
        result.update(events_per_second=round(facts["this_run"]["bronze_rows"] / seconds),
                      bronze_rows=facts["this_run"]["bronze_rows"], reconciled=facts["lake"]["balanced"],
                      bronze_batches=len(facts["batches"]))
    else:
        result["stderr_tail"] = err[-1500:]
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


def _wait(child: subprocess.Popen[str], on_line: Callable[[str], None] | None = None) -> tuple[str, str, int]:
    """Output, errors and the child's peak RSS in KiB (from wait4, which Popen does not expose);
    ``on_line`` sees each line of the errors as it comes (progress)."""
    import threading

    streams: dict[str, str] = {}

    def errors() -> None:
        lines = []
        for line in child.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if on_line is not None:
                on_line(line)
        streams["err"] = "".join(lines)

    readers = [threading.Thread(target=lambda: streams.__setitem__("out", child.stdout.read())),  # type: ignore[union-attr]
               threading.Thread(target=errors)]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    return streams["out"], streams["err"], usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000000,10000000,50000000")
    parser.add_argument("--cap-gib", type=float, default=4.0)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="events per generated chunk (smoke tests)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    globals().update(CHUNK=args.chunk, SEGMENT=min(SEGMENT, args.chunk), OUT=args.out)
    sizes = [int(s) for s in args.sizes.split(",")]
    landing = generate(max(sizes))
    results = []
    for events in sizes:
        result = run(landing, events, args.cap_gib)
        print(json.dumps(result), flush=True)
        results.append(result)
    report = {"benchmark": f"salesflow batch under a {args.cap_gib:g} GiB memory cap", "runs": results,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()}}
    (OUT.parent / "scale.json").write_text(json.dumps(report, indent=2))
    print(f"\n{'events':>12} {'wall s':>8} {'events/s':>10} {'cgroup MiB':>10} {'RSS MiB':>8}  ok")
    for r in results:
        print(f"{r['events']:>12,} {r['seconds']:>8} {r.get('events_per_second', '-'):>10} "
              f"{r['peak_mib']:>10} {r['peak_rss_mib']:>8}  {r['exit_code'] == 0 and r.get('reconciled')}")


if __name__ == "__main__":
    main()
