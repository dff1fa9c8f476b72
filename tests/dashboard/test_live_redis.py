"""live.sink: redis against a real redis-server: the stream publishes, a dashboard far from the lake reads."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesflow.common.processes import free_port
from salesflow.config import load_settings
from salesflow.dashboard.data import DashboardData
from salesflow.errors import TransientError
from salesflow.gold.live_sink import RedisLiveSink
from salesflow.jobs.stream import run_stream
from salesflow.lake.delta import Lake
from salesflow.simulator import SimulationSpec
from tests.conftest import land

REDIS = "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not Path(REDIS).exists(), reason="make test installs Debian's redis-server")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    import redis

    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis.from_url(url).ping():
                break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        proc.kill()
        proc.wait()


def test_stream_publishes_and_a_remote_dashboard_reads_the_same_numbers(
        tmp_path: Path, redis_url: tuple[str, subprocess.Popen[bytes]]) -> None:
    import redis

    url, server = redis_url
    settings = load_settings(data_dir=tmp_path / "d", live={"sink": "redis", "redis_url": url})
    land(settings, SimulationSpec(events=4_000, seed=61, realtime_from=datetime.now(UTC) - timedelta(minutes=50),
                                  realtime_seconds=3000.0))
    stats = run_stream(settings, "landing", available_now=True)
    assert stats.records == 4_000

    from_lake = DashboardData(load_settings(data_dir=tmp_path / "d")).live()
    far_away = DashboardData(load_settings(data_dir=tmp_path / "no-lake-here", live={"sink": "redis",
                                                                                    "redis_url": url}))
    from_redis = far_away.live()
    assert from_lake is not None and from_redis is not None
    assert from_redis.as_of == from_lake.as_of
    for window in ("1 min", "5 min", "60 min"):
        assert from_redis.totals[window]["orders"] == from_lake.totals[window]["orders"]
        assert abs(from_redis.totals[window]["revenue"] - from_lake.totals[window]["revenue"]) < 0.005
    assert from_redis.totals["60 min"]["orders"] > 0
    assert from_redis.freshness_seconds is not None and from_redis.freshness_seconds < 300
    client = redis.Redis.from_url(url)
    keys = client.zrange("salesflow:live:1m:index", 0, -1)
    assert keys and 0 < client.ttl(keys[-1]) <= settings.live.ttl_seconds

    server.kill()  # the sink going away is a transient error for the supervisor to retry
    server.wait()
    with pytest.raises(TransientError, match="redis did not take the update"):
        RedisLiveSink(settings).publish(Lake(settings.lake_root))
