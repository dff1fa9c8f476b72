"""Live window metrics in Redis (``live.sink: redis``), for a dashboard that is not next to the lake.

After each micro-batch the stream publishes the last hour of one-minute windows from
gold.sales_by_window: one hash per window (``<prefix>:1m:<epoch>``, field ``category|store`` ->
JSON revenue/orders/units), a sorted index of windows by start, and ``<prefix>:meta`` with the
newest window end and the publish time. Everything goes in one MULTI/EXEC transaction, so a reader
never sees half an update; keys expire after ``live.ttl_seconds``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow.dataset as ds

from salesflow.common.extras import require
from salesflow.config import Settings
from salesflow.errors import ConfigError, TransientError
from salesflow.lake.delta import Lake
from salesflow.lake.log import column_max
from salesflow.lake.tables import GOLD_SALES_BY_WINDOW

WINDOW_COLUMNS = ["window_start", "window_end", "category", "store_id", "revenue", "orders", "units", "updated_at"]


def redis_client(settings: Settings) -> Any:
    redis = require("redis", "live.sink = 'redis'")

    url = settings.live.redis_url
    if url is None:
        raise ConfigError("live.sink is redis: set SALESFLOW__LIVE__REDIS_URL (redis://host:port/db)")
    return redis.Redis.from_url(url.get_secret_value(), socket_timeout=5)


def last_hour(lake: Lake) -> pd.DataFrame | None:
    """One-minute windows of the newest hour of event time, from gold."""
    newest = column_max(lake, GOLD_SALES_BY_WINDOW, "window_end")
    return None if newest is None else hour_until(lake, newest)


def hour_until(lake: Lake, end: datetime) -> pd.DataFrame | None:
    """One-minute windows ending in the hour up to ``end`` (an hour or a day before "now", for
    comparisons), pruned to the partitions that can hold them."""
    since = end - timedelta(minutes=60)
    keep = (ds.field("window_size") == "1m") & (ds.field("window_end") > since) & \
        (ds.field("window_end") <= end) & (ds.field("event_date") >= (since - timedelta(days=1)).date()) & \
        (ds.field("event_date") <= (end + timedelta(days=1)).date())
    rows = lake.read(GOLD_SALES_BY_WINDOW, columns=WINDOW_COLUMNS, filter=keep)
    return None if rows is None else rows.to_pandas()


class RedisLiveSink:
    def __init__(self, settings: Settings) -> None:
        self.client = redis_client(settings)
        self.prefix, self.ttl = settings.live.key_prefix, settings.live.ttl_seconds

    def publish(self, lake: Lake) -> int:
        frame = last_hour(lake)
        if frame is None or frame.empty:
            return 0
        import redis

        try:
            pipe = self.client.pipeline(transaction=True)
            for start, window in frame.groupby("window_start"):
                epoch = int(pd.Timestamp(start).timestamp())
                key = f"{self.prefix}:1m:{epoch}"
                pipe.delete(key)
                pipe.hset(key, mapping={f"{r.category}|{r.store_id}": json.dumps(
                    {"revenue": float(r.revenue), "orders": int(r.orders), "units": int(r.units),
                     "window_end": pd.Timestamp(r.window_end).isoformat()}) for r in window.itertuples()})
                pipe.expire(key, self.ttl)
                pipe.zadd(f"{self.prefix}:1m:index", {key: epoch})
            newest = pd.Timestamp(frame["window_end"].max())
            pipe.zremrangebyscore(f"{self.prefix}:1m:index", 0, int(newest.timestamp()) - 2 * 3600)
            pipe.hset(f"{self.prefix}:meta", mapping={"as_of": newest.isoformat(),
                                                      "published_at": datetime.now(UTC).isoformat()})
            pipe.execute()
        except redis.RedisError as exc:
            raise TransientError(f"live sink: redis did not take the update: {exc}") from exc
        return len(frame)


def read_last_hour(settings: Settings) -> tuple[datetime, pd.DataFrame, datetime] | None:
    """The published windows back as the same frame gold would give, with as_of and publish time."""
    client = redis_client(settings)
    prefix = settings.live.key_prefix
    meta = {k.decode(): v.decode() for k, v in client.hgetall(f"{prefix}:meta").items()}
    if "as_of" not in meta:
        return None
    as_of = datetime.fromisoformat(meta["as_of"])
    since = int((as_of - timedelta(minutes=60)).timestamp())
    rows = []
    for key in client.zrangebyscore(f"{prefix}:1m:index", since, "+inf"):
        start = datetime.fromtimestamp(int(key.decode().rsplit(":", 1)[1]), UTC)
        for field, value in client.hgetall(key).items():
            category, _, store = field.decode().partition("|")
            cell = json.loads(value)
            rows.append({"window_start": start, "window_end": datetime.fromisoformat(cell["window_end"]),
                         "category": category, "store_id": store, "revenue": cell["revenue"],
                         "orders": cell["orders"], "units": cell["units"]})
    return as_of, pd.DataFrame(rows, columns=WINDOW_COLUMNS[:-1]), datetime.fromisoformat(meta["published_at"])
