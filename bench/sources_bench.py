"""Sources benchmark: the HTTP collector's accepted events/s at its p99 latency, and partner files in MB/s.

1. Collector: `salesflow collect` (landing sink, group commit, fsync before each answer) under C
   concurrent clients for S seconds, with one event per request and with 50-event batches.
   Reports accepted events/s, requests/s and request latency p50/p99 seen by the clients.
2. Files: a generated partner CSV (semicolons, decimal commas, one row per order line) through
   `salesflow ingest-files --bronze-only` (read, map to the contract, one Delta commit), beside
   pandas doing the same read and mapping to JSON payloads and writing Parquet, on the same file.
Results go to bench/out/sources.json and are quoted in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
sys.path.insert(0, str(ROOT.parent / "src"))

from salesflow.collector.limits import hash_key  # noqa: E402
from salesflow.common.processes import free_port  # noqa: E402
from salesflow.simulator import DefectRates, SimulationSpec, build_catalog, simulate  # noqa: E402

KEY = "bench-key"
SHOP = {
    "delimiter": ";", "decimal": ",", "grain": "line", "timezone": "Europe/Berlin",
    "fields": {
        "order_id": "order", "customer_id": "customer", "event_time": {"column": "ts", "format": "%d.%m.%Y %H:%M"},
        "store_id": {"const": "partner"}, "channel": {"const": "web"}, "currency": {"const": "USD"},
        "payment_method": {"const": "card"}, "lines.product_id": "sku", "lines.quantity": "qty",
        "lines.unit_price": "price",
    },
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def collector(clients: int, seconds: float, batch: int) -> dict[str, object]:
    data = OUT / f"collector-{batch}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    data.mkdir(parents=True)
    port = free_port()
    config = data / "salesflow.yaml"
    config.write_text(yaml.safe_dump({"collector": {"port": port, "api_keys": {"bench": hash_key(KEY)},
                                                    "rate_per_second": 1e6, "burst": 1_000_000}}))
    proc = subprocess.Popen([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir", str(data),
                             "collect"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/events"
    events = [r.line for r in simulate(SimulationSpec(events=20_000, seed=3, defects=DefectRates.none()),
                                       build_catalog(3))]
    bodies = [b"[" + b",".join(events[i:i + batch]) + b"]" for i in range(0, len(events) - batch, batch)]
    latencies: list[float] = []
    accepted = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < stop, "collector did not start"
            time.sleep(0.1)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {KEY}",
                                               "Content-Type": "application/json"}) as http:
            while time.monotonic() < end:
                started = time.perf_counter()
                answer = http.post(url, content=rng.choice(bodies))
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    accepted[0] += answer.json()["accepted"] if answer.status_code == 200 else 0

    end = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    clock = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - clock
    proc.terminate()
    proc.wait()
    return {"clients": clients, "events_per_request": batch, "seconds": round(wall, 2), "requests": len(latencies),
            "accepted_events": accepted[0], "events_per_second": round(accepted[0] / wall),
            "requests_per_second": round(len(latencies) / wall),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1)}


def make_csv(path: Path, rows: int) -> None:
    rng = random.Random(11)
    with open(path, "w") as out:
        out.write("order;customer;ts;sku;qty;price\n")
        for n in range(rows):
            order = n // 3  # three lines per order
            out.write(
                f"O{order};C{order % 5000};{1 + order % 28:02d}.09.2026 {order % 24:02d}:{order % 60:02d};"
                f"P{rng.randrange(400)};{1 + rng.randrange(4)};{rng.randrange(1, 200)},{rng.randrange(100):02d}\n"
            )


def files(rows: int) -> dict[str, object]:
    data = OUT / "files"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    data.mkdir(parents=True)
    csv_path = data / "partner.csv"
    make_csv(csv_path, rows)
    megabytes = csv_path.stat().st_size / 1e6
    config = data / "salesflow.yaml"
    config.write_text(yaml.safe_dump({"files": {"shop": SHOP}}))
    clock = time.perf_counter()
    subprocess.run([sys.executable, "-m", "salesflow", "--config", str(config), "--data-dir", str(data / "d"),
                    "ingest-files", str(csv_path), "--source", "shop", "--bronze-only", "--json"], check=True,
                   stdout=subprocess.DEVNULL)
    salesflow_s = time.perf_counter() - clock
    clock = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--pandas-peer", str(csv_path)], check=True)
    pandas_s = time.perf_counter() - clock
    return {
        "rows": rows,
        "megabytes": round(megabytes, 1),
        "salesflow_seconds": round(salesflow_s, 2),
        "salesflow_mb_per_s": round(megabytes / salesflow_s, 1),
        "pandas_seconds": round(pandas_s, 2),
        "pandas_mb_per_s": round(megabytes / pandas_s, 1),
        "pandas_over_salesflow": round(pandas_s / salesflow_s, 2),
    }


def pandas_peer(csv_path: Path) -> None:
    """The same read and mapping, written the way a pandas script would: group lines into orders."""
    import pandas as pd

    frame = pd.read_csv(csv_path, sep=";", decimal=",", dtype={"order": str, "customer": str, "sku": str})
    ts = pd.to_datetime(frame["ts"], format="%d.%m.%Y %H:%M").dt.tz_localize("Europe/Berlin").dt.tz_convert("UTC")
    frame["event_time"] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frame["line"] = [json.dumps({"product_id": s, "quantity": int(q), "unit_price": float(p)})
                     for s, q, p in zip(frame["sku"], frame["qty"], frame["price"], strict=True)]
    frame["revenue"] = frame["qty"] * frame["price"]
    orders = frame.groupby("order", sort=False).agg(customer=("customer", "first"), event_time=("event_time", "first"),
                                                    lines=("line", ",".join), total=("revenue", "sum"))
    payloads = [json.dumps({"event_type": "order_created", "event_id": f"file:shop:{o}", "order_id": o,
                            "customer_id": r.customer, "event_time": r.event_time, "store_id": "partner",
                            "channel": "web", "currency": "USD", "payment_method": "card",
                            "total_amount": round(r.total, 2)})[:-1] + f', "lines": [{r.lines}]}}'
                for o, r in orders.iterrows()]
    pd.DataFrame({"payload": payloads}).to_parquet(csv_path.with_suffix(".pandas.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pandas-peer", type=Path)
    args = parser.parse_args()
    if args.pandas_peer:
        pandas_peer(args.pandas_peer)
        return
    OUT.mkdir(exist_ok=True)
    results = {"machine": f"{os.cpu_count()} cores",
               "collector": [collector(args.clients, args.seconds, batch) for batch in (1, 50)],
               "files": files(args.rows),
               "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    (OUT / "sources.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
