"""Stream benchmark: sustained throughput and end-to-end freshness through all three layers.

1. available-now: N events already in Kafka, `salesflow stream --available-now`: events/s.
2. fixed rate: events produced at R events/s for D seconds while `salesflow stream` runs; the
   stream's own p50/p95/p99 latency (Kafka timestamp -> visible in gold) is reported.
Runs against the embedded broker (tansu); producer, broker and runner share the machine's cores.
bench/compare.py runs Spark Structured Streaming on the same events from files, beside the stream.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
sys.path.insert(0, str(ROOT.parent / "src"))

from salesflow.config import KafkaConfig  # noqa: E402
from salesflow.simulator import DefectRates, SimulationSpec, build_catalog, simulate  # noqa: E402
from salesflow.simulator.output import write_reference  # noqa: E402
from salesflow.sources.broker import embedded_broker  # noqa: E402
from salesflow.sources.kafka import ensure_topic, produce  # noqa: E402
from salesflow.sources.landing import LandingLog  # noqa: E402


def lines(events: int, realtime: bool) -> list[bytes]:
    from datetime import UTC, datetime

    spec = SimulationSpec(events=events, seed=42, defects=DefectRates(),
                          realtime_from=datetime.now(UTC) if realtime else None, realtime_seconds=60.0)
    return [r.line for r in simulate(spec, build_catalog(42))]


def stream(data: Path, address: str, topic: str, available_now: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "SALESFLOW__KAFKA__BOOTSTRAP_SERVERS": address, "SALESFLOW__KAFKA__TOPIC": topic,
           "SALESFLOW__KAFKA__POLL_TIMEOUT_SECONDS": "0.2", "SALESFLOW__STREAM__TRIGGER_SECONDS": "0.1"}
    args = [sys.executable, "-m", "salesflow", "--data-dir", str(data), "stream", "--source", "kafka", "--json"]
    return subprocess.Popen(args + (["--available-now"] if available_now else []), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def prepare(address: str, tag: str) -> tuple[Path, KafkaConfig]:
    data = OUT / f"stream-{tag}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    write_reference(LandingLog(data / "landing"), build_catalog(42))
    config = KafkaConfig(bootstrap_servers=address, topic=f"bench-{tag}-{uuid.uuid4().hex[:6]}")
    ensure_topic(config)
    return data, config


def available_now(address: str, events: int) -> dict[str, object]:
    data, config = prepare(address, "available-now")
    produce(config, ((None, line) for line in lines(events, realtime=False)))
    started = time.perf_counter()
    process = stream(data, address, config.topic, available_now=True)
    stats = json.loads(process.communicate(timeout=3600)[0])
    return {"events": events, "wall_seconds": round(time.perf_counter() - started, 2), **stats}


def fixed_rate(address: str, rate: int, seconds: int) -> dict[str, object]:
    data, config = prepare(address, f"rate-{rate}")
    payload = lines(rate * seconds, realtime=True)
    process = stream(data, address, config.topic, available_now=False)
    time.sleep(3)  # let the runner start before the clock starts
    producer = threading.Thread(target=produce, args=(config, ((None, line) for line in payload), float(rate)))
    producer.start()
    producer.join()
    time.sleep(5)  # drain
    process.send_signal(signal.SIGTERM)
    stats = json.loads(process.communicate(timeout=600)[0])
    return {"input_rate": rate, "seconds": seconds, **stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--rates", default="1000,10000,20000")
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with embedded_broker() as address:
        report = {"available_now": available_now(address, args.events),
                  "fixed_rate": [fixed_rate(address, int(r), args.seconds) for r in args.rates.split(",")]}
    (OUT / "stream.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
