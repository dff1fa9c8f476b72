"""Global uniqueness of ``event_id`` and ``order_id`` beyond the dedupe horizon, at bounded cost.

The dedupe state (``silver.state``) holds the full keys of the last ``dedupe_horizon_hours``; a key
re-used after that (a simulator restarted with the same seed, a partner re-sending last year's
file) must still be a duplicate. This index holds every key Silver ever accepted as a 64-bit hash
with the Bronze batch that accepted it, in sorted runs whose sizes grow geometrically (a binary
counter, as in a log-structured merge tree): adding a batch's keys merges only runs of similar
size, so each key is merged O(log N) times; a probe sorts the batch's hashes once and
binary-searches each of the O(log N) runs. Per micro-batch the cost is O(B log N) for B keys
against N in history (bench/key_index_bench.py).

A hash hit is only a candidate: the key is then looked up exactly in the one Silver batch the
index names (Delta file statistics on ``batch_id`` prune the read to that batch's files), so a hash
collision can never drop an event. The index is derived state: it is built from Silver when a
process first needs it and caught up from Silver when another writer added batches, so a crash,
a restart or a second writer cannot make it wrong, only cold.

It is kept beside the checkpoints (``<data_dir>/checkpoints/silver-key-index/``), so a new process
starts from it instead of hashing every id Silver holds (O(history) at each start): each run is a
file written once (a merge writes the merged run and drops the two), and a manifest names the runs
and the batches they cover; per batch that is the new small run and the amortised merges. Saves
take a lock; two processes writing Silver at once each save their own runs (the last manifest
wins, and a save rewrites any run file it names that the other deleted). A stale or missing file
only makes the index cold: the manifest is checked against Silver's own marker, and a Silver
rebuild (replay, backfill), which may accept keys under batches already covered, forgets it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesflow.engine.base import EngineAdapter
from salesflow.lake.delta import Lake
from salesflow.lake.tables import SILVER_CART_ADDS, SILVER_ORDERS, SILVER_PRODUCT_VIEWS, TableSpec
from salesflow.silver.state import SEEN_SCHEMA, SILVER_APP

SEEN_COLUMNS = {spec: set(schema.names) for spec, schema in SEEN_SCHEMA.items()}
_VALID = {"event_id": "problem IS NULL",
          "order_id": "problem IS NULL AND event_type = 'order_created' AND order_id IS NOT NULL"}

log = logging.getLogger(__name__)
KEY_COLUMNS: dict[TableSpec, tuple[str, ...]] = {
    SILVER_ORDERS: ("event_id", "order_id"),
    SILVER_PRODUCT_VIEWS: ("event_id",),
    SILVER_CART_ADDS: ("event_id",),
}
OLD_KEYS_SCHEMA = pa.schema([("kind", pa.string()), ("key", pa.string()), ("event_time", pa.timestamp("us", "UTC")),
                             ("total_amount", pa.decimal128(18, 2)), ("currency", pa.string()),
                             ("batch_id", pa.int64())])
"""As ``silver.seen_keys``: each key with what a re-used key is compared on and its batch."""


@dataclass
class HashRuns:
    """Sorted runs of (hash, batch) pairs; run sizes at least double from newest to oldest."""

    runs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)
    """The file each run is kept in (None: not written yet), parallel to ``runs``."""

    def __len__(self) -> int:
        return sum(len(h) for h, _ in self.runs)

    def add(self, hashes: np.ndarray, batches: np.ndarray | int) -> None:
        """Add keys: of one batch (``batches`` an int: a plain sort) or of several (co-sorted)."""
        if len(hashes) == 0:
            return
        if isinstance(batches, int):
            self.runs.append((np.sort(hashes), np.full(len(hashes), batches, dtype=np.int32)))
        else:
            order = np.argsort(hashes, kind="stable")
            self.runs.append((hashes[order], batches[order].astype(np.int32)))
        self.names.append(None)
        while len(self.runs) >= 2 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (h1, b1), (h2, b2) = self.runs.pop(), self.runs.pop()
            del self.names[-2:]
            merged = np.concatenate([h2, h1])
            order = np.argsort(merged, kind="stable")  # timsort finds the two sorted runs: a linear merge
            self.runs.append((merged[order], np.concatenate([b2, b1])[order]))
            self.names.append(None)

    def hits(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The hashes found, each with the earliest batch holding it in each run that does."""
        wanted = np.sort(hashes)
        found_h, found_b = [], []
        for run_hashes, run_batches in self.runs:
            at = np.minimum(np.searchsorted(run_hashes, wanted), len(run_hashes) - 1)
            hit = run_hashes[at] == wanted
            found_h.append(wanted[hit])
            found_b.append(run_batches[at[hit]])
        if not found_h:
            return np.empty(0, np.uint64), np.empty(0, np.int32)
        return np.concatenate(found_h), np.concatenate(found_b)



class KeyIndex:
    """Every key accepted in Silver batches below ``covered_below``, hashed with the engine (one set
    of runs per kind of key); kept in ``directory`` when given."""

    def __init__(self, lake: Lake, directory: Path | None = None) -> None:
        self.lake = lake
        self.runs = {"event_id": HashRuns(), "order_id": HashRuns()}
        self.covered_below = 0
        self.exact_lookups = 0
        """Silver reads made to confirm a hash hit (the rest of the work is in memory)."""
        self.store = RunStore(directory) if directory is not None else None
        self.loaded = False

    def __len__(self) -> int:
        return sum(len(runs) for runs in self.runs.values())

    def old_keys(self, engine: EngineAdapter, batch_id: int) -> pa.Table:
        """Keys of this batch's valid records (``parsed_events``) that a Silver batch below
        ``batch_id`` accepted before the dedupe horizon (``seen_keys`` holds the horizon's own),
        confirmed exactly, with their content. Only hashes cross into this process unless one hits."""
        self._load()
        self.catch_up(engine, batch_id)
        if len(self) == 0:
            return OLD_KEYS_SCHEMA.empty_table()
        hits = []
        for kind, runs in self.runs.items():
            hashed = engine.query(f"SELECT hash({kind}) AS h FROM parsed_events WHERE {_VALID[kind]}",  # noqa: S608 - our own names
                                  "silver key index probe")["h"].to_numpy()
            hit_h, hit_b = runs.hits(hashed)
            earlier = hit_b < batch_id  # a rebuild must not see its own or later batches
            if earlier.any():
                hits.append(pa.table({"kind": pa.array([kind] * int(earlier.sum())), "h": hit_h[earlier],
                                      "batch_id": hit_b[earlier].astype(np.int64)}))
        if not hits:
            return OLD_KEYS_SCHEMA.empty_table()
        engine.register("key_index_hits", pa.concat_tables(hits))
        keys = " UNION ALL ".join(f"SELECT '{kind}' AS kind, {kind} AS key FROM parsed_events WHERE {_VALID[kind]}"  # noqa: S608 - our own names
                                  for kind in self.runs)
        candidates = engine.query(
            f"SELECT DISTINCT k.kind, k.key, x.batch_id FROM ({keys}) k "  # noqa: S608 - our own names
            "JOIN key_index_hits x ON x.kind = k.kind AND x.h = hash(k.key) "
            "WHERE NOT EXISTS (SELECT 1 FROM seen_keys s WHERE s.kind = k.kind AND s.key = k.key)",
            "silver key index candidates")
        if candidates.num_rows == 0:
            return OLD_KEYS_SCHEMA.empty_table()
        return self._confirm(candidates.select(["kind", "key"]), candidates["batch_id"].to_numpy())

    def catch_up(self, engine: EngineAdapter, batch_id: int) -> None:
        """Add the keys of Silver batches in ``[covered_below, batch_id)``: every batch the first
        time, then what other writers (or our own writes) committed since."""
        if self.covered_below >= batch_id:
            return
        low = self.covered_below
        keep = (ds.field("batch_id") >= low) & (ds.field("batch_id") < batch_id)
        prune = f"batch_id >= {low} AND batch_id < {batch_id}"
        for spec, columns in KEY_COLUMNS.items():
            rows = self.lake.read(spec, columns=["batch_id", *columns], filter=keep, prune=prune)
            if rows is None or rows.num_rows == 0:
                continue
            engine.register("key_index_rows", rows)
            for column in columns:
                hashed = engine.query(f"SELECT hash({column}) AS h, batch_id FROM key_index_rows",  # noqa: S608 - our own column names
                                      "silver key index")
                self.runs[column].add(hashed["h"].to_numpy(), hashed["batch_id"].to_numpy())
        self.covered_below = batch_id
        if low == 0:
            log.info("silver key index built: %d keys of batches below %d", len(self), batch_id)

    def add(self, engine: EngineAdapter, batch_id: int, written: dict[TableSpec, str]) -> None:
        """Batch ``batch_id`` is committed: its keys join the index (when it was the next one)."""
        if self.covered_below != batch_id:
            return  # a gap: the next probe catches up from Silver
        for kind in self.runs:  # one run per kind and batch: the event ids of all three tables together
            union = " UNION ALL ".join(f'SELECT hash({kind}) AS h FROM "{written[spec]}"'  # noqa: S608 - our own names
                                       for spec, columns in KEY_COLUMNS.items() if kind in columns)
            self.runs[kind].add(engine.query(union, "silver key index")["h"].to_numpy(), batch_id)
        self.covered_below = batch_id + 1
        if self.store is not None and not self.store.save(self.runs, self.covered_below):
            self.runs = {kind: HashRuns() for kind in self.runs}  # Silver was rebuilt meanwhile
            self.covered_below = 0

    def forget(self) -> None:
        """Silver was rebuilt under covered batches: start again from Silver, here and on disk."""
        self.runs = {kind: HashRuns() for kind in self.runs}
        self.covered_below = 0
        self.loaded = True
        if self.store is not None:
            self.store.clear()

    def _load(self) -> None:
        """Once per process: the kept runs, when they still describe Silver."""
        if self.loaded or self.store is None:
            return
        self.loaded = True
        kept = self.store.load(self.runs)
        if kept is None:
            return
        runs, covered = kept
        if silver_marker(self.lake) < covered - 1:  # Silver is behind what the index claims: another lake
            log.info("silver key index on disk covers batches below %d, Silver does not: rebuilt", covered)
            return
        self.runs, self.covered_below = runs, covered
        log.info("silver key index loaded: %d keys of batches below %d", len(self), covered)

    def _confirm(self, candidates: pa.Table, batches: np.ndarray) -> pa.Table:
        """The candidates really in Silver, with their content: each looked up in the batch the
        index named."""
        self.exact_lookups += 1
        found = []
        in_batches = f"batch_id IN ({', '.join(str(b) for b in sorted(set(batches.tolist())))})"
        for spec, columns in KEY_COLUMNS.items():
            content = [n for n in OLD_KEYS_SCHEMA.names[2:] if n in SEEN_COLUMNS[spec]]
            for column in columns:
                wanted = candidates.filter(pc.equal(candidates["kind"], column))["key"]
                if len(wanted) == 0:
                    continue
                # The id columns are filtered here, not in the read: they are written without
                # statistics, and delta-rs's dataset then guarantees `column >= null` per file, which
                # prunes every file for any predicate on them.
                rows = self.lake.read(spec, columns=[column, *content],
                                      filter=pc.field("batch_id").isin(pa.array(batches)), prune=in_batches)
                if rows is None or rows.num_rows == 0:
                    continue
                rows = rows.filter(pc.is_in(rows[column], value_set=wanted))
                out = {"kind": pa.array([column] * rows.num_rows, pa.string()), "key": rows[column]}
                for name in OLD_KEYS_SCHEMA.names[2:]:
                    absent = pa.nulls(rows.num_rows, OLD_KEYS_SCHEMA.field(name).type)
                    out[name] = rows[name] if name in content else absent
                found.append(pa.table(out).cast(OLD_KEYS_SCHEMA))
        return pa.concat_tables(found) if found else OLD_KEYS_SCHEMA.empty_table()


def silver_marker(lake: Lake) -> int:
    """The last batch Silver's key tables all committed (-1 when none)."""
    return min(lake.txn_version(spec, SILVER_APP) for spec in KEY_COLUMNS)


class RunStore:
    """The index's runs on disk: one ``.npy`` pair per run, written once, and ``manifest.json``
    naming them (replaced atomically, under a lock)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.generation_file = directory.parent / "silver-key-index.generation"
        self.generation = self._generation()
        """Changed by every ``clear``: a process that sees it change knows Silver was rebuilt."""

    def _generation(self) -> str:
        try:
            return self.generation_file.read_text()
        except OSError:
            return ""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)  # also makes the checkpoint directory
        fd = os.open(self.directory.parent / "silver-key-index.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def load(self, like: dict[str, HashRuns]) -> tuple[dict[str, HashRuns], int] | None:
        try:
            manifest = json.loads((self.directory / "manifest.json").read_text())
            runs = {}
            for kind in like:
                names = manifest["runs"][kind]
                arrays = [(np.load(self.directory / f"{n}.h.npy"), np.load(self.directory / f"{n}.b.npy"))
                          for n in names]
                runs[kind] = HashRuns(arrays, list(names))
            return runs, int(manifest["covered_below"])
        except (OSError, ValueError, KeyError, TypeError):  # none yet, or half of one: cold, not wrong
            return None

    def save(self, runs: dict[str, HashRuns], covered_below: int) -> bool:
        """Keep the runs; False when Silver was rebuilt since this process read the generation:
        its index is stale, and it must start again from Silver."""
        if self._generation() != self.generation:
            return False
        try:
            with self._locked():
                self._write(runs, covered_below)
        except OSError as exc:  # a full disk costs the next start a rebuild, not this batch
            log.warning("silver key index not kept: %s", exc)
        return True

    def _write(self, runs: dict[str, HashRuns], covered_below: int) -> None:
        for kind_runs in runs.values():
            for i, (hashes, batches) in enumerate(kind_runs.runs):
                name = kind_runs.names[i]
                if name is None or not (self.directory / f"{name}.b.npy").exists():
                    name = uuid.uuid4().hex
                    np.save(self.directory / f"{name}.h.npy", hashes)
                    np.save(self.directory / f"{name}.b.npy", batches)
                    kind_runs.names[i] = name
        manifest = {"covered_below": covered_below, "runs": {kind: list(r.names) for kind, r in runs.items()}}
        temporary = self.directory / "manifest.json.tmp"
        temporary.write_text(json.dumps(manifest))
        os.replace(temporary, self.directory / "manifest.json")
        named = {n for r in runs.values() for n in r.names if n is not None}
        for path in self.directory.glob("*.npy"):  # merged-away runs, and a crashed writer's
            if path.name.split(".", 1)[0] not in named:
                path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget the kept runs, and tell every process holding an index that it is stale."""
        self.generation = uuid.uuid4().hex
        with self._locked():
            temporary = self.generation_file.with_suffix(".tmp")
            temporary.write_text(self.generation)
            os.replace(temporary, self.generation_file)
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
