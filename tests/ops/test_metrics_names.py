"""Every /metrics family salesflow serves parses with prometheus_client's own text parser and
follows Prometheus naming: base units in the name (seconds, not ms), ``_total`` on counters,
complete histograms."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from salesflow.collector.metrics import CollectorMetrics
from salesflow.config import load_settings
from salesflow.context import RunContext
from salesflow.jobs.batch import run_batch
from salesflow.jobs.supervisor import StepOutcome, Supervisor
from salesflow.ops.metrics import lake_metrics, stream_metrics
from salesflow.pipeline.stats import StreamStats
from salesflow.simulator import SimulationSpec
from tests.conftest import land, noisy

NAME = re.compile(r"^salesflow_[a-z0-9_]+$")
TIME_WORDS = re.compile(r"latency|duration|seconds since|time", re.I)


@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> str:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("metrics") / "d")
    land(settings, SimulationSpec(events=2_000, seed=8, days=2, defects=noisy()))
    run_batch(settings)
    ctx = RunContext(settings)
    stats = StreamStats(batches=3, records=2_000, seconds=1.5, consumer_lag={0: 4, 1: 0})
    stats.latencies_ms.extend([120.0, 340.0, 990.0])
    collector = CollectorMetrics()
    for status, seconds in ((202, 0.004), (202, 0.3), (400, 0.001)):
        collector.observe(status, seconds)
    collector.events["accepted"] += 2
    collector.rejected["missing_field"] += 1
    supervisor = Supervisor(ctx, threading.Event())
    supervisor.outcomes.append(StepOutcome("warehouse", "ok", 1, 0.42))
    supervisor.stream_stats = stats  # the job serves the stream's families beside its steps'
    assert stream_metrics(stats) in supervisor.process_metrics()
    return lake_metrics(ctx.lake) + collector.render() + supervisor.process_metrics()


def test_every_family_parses_and_is_named_by_the_conventions(exposition: str) -> None:
    families = list(text_string_to_metric_families(exposition))
    names = [f.name for f in families]
    assert len(names) >= 15 and len(names) == len(set(names)), names
    for family in families:
        assert NAME.match(family.name), family.name
        assert family.documentation, f"{family.name} has no HELP"
        assert family.type in ("counter", "gauge", "histogram"), family.name
        assert not re.search(r"_(ms|millis|milliseconds|avg|mean)(_|$)", family.name), family.name
        if TIME_WORDS.search(family.documentation):
            assert family.name.endswith("_seconds"), f"{family.name}: a time is in seconds ({family.documentation})"
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            buckets = [s for s in family.samples if s.name.endswith("_bucket")]
            assert buckets and buckets[-1].labels["le"] == "+Inf"
            counts = [s.value for s in buckets]
            assert counts == sorted(counts)
            assert {f"{family.name}_sum", f"{family.name}_count"} <= {s.name for s in family.samples}


def test_the_values_are_the_lake_s_and_the_stream_s(exposition: str) -> None:
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(exposition) for s in f.samples}
    bronze = samples[("salesflow_layer_records", (("layer", "bronze"),))]
    accounted = sum(samples[("salesflow_layer_records", (("layer", layer),))]
                    for layer in ("silver", "quarantine", "duplicates"))
    assert bronze == accounted == 2_000 and samples[("salesflow_lake_balanced", ())] == 1
    assert samples[("salesflow_stream_latency_seconds", (("quantile", "0.99"),))] == pytest.approx(0.99)
    assert samples[("salesflow_kafka_consumer_lag_messages", (("partition", "0"),))] == 4
    assert samples[("salesflow_collector_requests_total", (("code", "202"),))] == 2
    assert samples[("salesflow_step_last_duration_seconds", (("step", "warehouse"),))] == pytest.approx(0.42)


def test_docs_name_only_metrics_that_exist(exposition: str) -> None:
    """README's names are the served ones (a rename must update the docs)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    served = {f.name for f in text_string_to_metric_families(exposition)}
    served |= {f"{n}_total" for n in served}
    mentioned = set(re.findall(r"salesflow_[a-z0-9_]+", readme))
    assert mentioned <= served, sorted(mentioned - served)
