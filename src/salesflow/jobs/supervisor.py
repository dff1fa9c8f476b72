"""``salesflow run``: the stream runner plus scheduled batch steps, supervised.

Each scheduled step (warehouse load, forecasts, a batch, or a shell command) runs with a retry
policy: a *transient* error (``TransientError``, exit code 75 from a command) is retried with
exponential backoff up to ``run.retries`` times; a *terminal* error, or a transient one that
outlived its retries, sends an alert and stops the whole job with a non-zero exit code, because
running on past it would only hide it. The stream runs in a thread under the same rules.
SIGINT/SIGTERM set one stop event: the stream finishes its micro-batch, a step in progress
finishes, nothing new starts, and the process exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from salesflow.context import RunContext
from salesflow.errors import SalesflowError, TerminalError, TransientError
from salesflow.jobs.batch import run_batch
from salesflow.jobs.dashboard import dashboard_child
from salesflow.jobs.stream import StreamStats, run_stream
from salesflow.jobs.warehouse import load_warehouse
from salesflow.ops.lock import DataDirLock

log = logging.getLogger("salesflow.run")  # the job's own account of itself: `salesflow run` shows it at INFO
EX_TEMPFAIL = 75


class StepFailed(TerminalError):
    """A step failed for good; the message names it and the cause."""


@dataclass
class StepOutcome:
    name: str
    status: str
    """``ok``, ``skipped`` or ``failed``."""
    attempts: int
    seconds: float
    detail: str = ""


@dataclass
class Supervisor:
    ctx: RunContext
    stop: threading.Event
    sleep: Callable[[float], bool] | None = None
    outcomes: list[StepOutcome] = field(default_factory=list)
    failure: SalesflowError | None = None

    def __post_init__(self) -> None:
        self.settings = self.ctx.settings
        self.stream_stats = StreamStats()
        self.caught_up = threading.Event()
        self.alerter = self.ctx.alerter
        self.config = self.settings.run
        self.wait = self.sleep or self.stop.wait  # a stop interrupts every backoff
        self._progress_lock = threading.Lock()
        self._progress_seen, self._progress_at = (0, 0), time.monotonic()
        from salesflow.ops.cron import Cron

        self.cron = Cron.parse(self.config.cron) if self.config.cron else None
        unknown = [s for s in self.config.steps if s not in BUILTIN_STEPS and s not in self.config.commands]
        if unknown:
            from salesflow.errors import ConfigError

            raise ConfigError(f"run.steps has unknown step(s) {unknown}: use {', '.join(BUILTIN_STEPS)} or a name "
                              f"from run.commands")

    def run(self, once: bool = False) -> int:
        self._check_ports()
        with DataDirLock(self.settings.data_dir), contextlib.ExitStack() as stack:
            if self.config.metrics_port is not None:
                from salesflow.ops.metrics import CachedMetrics, metrics_server

                metrics = CachedMetrics(self.ctx.lake, self.process_metrics)
                port = stack.enter_context(metrics_server("127.0.0.1", self.config.metrics_port, metrics))
                log.info("metrics on http://127.0.0.1:%d/metrics", port)
            if self.config.dashboard:
                stack.enter_context(dashboard_child(self.ctx, self.config.dashboard_port))
                log.info("dashboard on http://127.0.0.1:%d", self.config.dashboard_port)
                print(f"dashboard on http://127.0.0.1:{self.config.dashboard_port}", flush=True)  # noqa: T201 - the one line a person needs
            log.info("salesflow run: stream=%s source=%s steps=%s every %.0f s", self.config.stream,
                     self.config.source, self.config.steps, self.config.interval_seconds)
            stream = threading.Thread(target=self._stream_loop, args=(once,), name="stream", daemon=True)
            if self.config.stream:
                stream.start()
                threading.Thread(target=self._report_progress, args=(stream,), name="progress", daemon=True).start()
                if once:
                    stream.join()  # available-now first, so the steps see everything
                else:  # the first steps run once the stream has worked through the backlog
                    while not (self.caught_up.wait(0.5) or self.stop.is_set() or not stream.is_alive()):
                        pass
            due = time.monotonic()  # the first cycle runs at start; then the interval or the cron
            while not self.stop.is_set() and self.failure is None:
                if time.monotonic() >= due:
                    self._cycle()
                    due = time.monotonic() + self._until_next()
                    if once:
                        break
                self.stop.wait(min(1.0, max(0.0, due - time.monotonic())))
            self.stop.set()
            if stream.is_alive():
                stream.join()
        if self.failure is not None:
            return self.failure.exit_code or 1
        return 0

    def _check_ports(self) -> None:
        """A port the job needs is taken: say so before anything starts (the dashboard child would
        die silently, after the job had printed its URL)."""
        from salesflow.common.processes import port_taken
        from salesflow.errors import ConfigError

        wanted = [("the dashboard", "run.dashboard_port", self.config.dashboard_port)] if self.config.dashboard else []
        if self.config.metrics_port:
            wanted.append(("the Prometheus metrics", "run.metrics_port", self.config.metrics_port))
        for what, setting, port in wanted:
            if port_taken("127.0.0.1", port):
                env = "SALESFLOW__" + setting.upper().replace(".", "__")
                raise ConfigError(f"port {port} on 127.0.0.1 is already in use; {what} needs it ({setting}): "
                                  f"stop what listens there or choose another port ({env}=<port>)")

    def _report_progress(self, stream: threading.Thread) -> None:
        """What the stream did since the last line, at most every ``run.progress_seconds``."""
        while stream.is_alive() and not self.stop.wait(self.config.progress_seconds):
            self._progress_line()

    def _progress_line(self) -> None:
        with self._progress_lock:
            stats, (seen_batches, seen_records) = self.stream_stats, self._progress_seen
            batches, records = stats.batches, stats.records
            if batches == seen_batches:
                return
            now = time.monotonic()
            fresh = stats.latencies_ms[-1] / 1000 if stats.latencies_ms else None
            log.info("stream: %d records in %d micro-batch(es) since the last line (%d in all), %.0f events/s%s",
                     records - seen_records, batches - seen_batches, records,
                     (records - seen_records) / max(now - self._progress_at, 1e-3),
                     f", freshness {fresh:.1f} s (produced -> visible in gold)" if fresh is not None else "")
            self._progress_seen, self._progress_at = (batches, records), now

    def _until_next(self) -> float:
        if self.cron is None:
            return self.config.interval_seconds
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        nxt = self.cron.next_after(now)
        log.info("next scheduled steps at %s (run.cron %r)", nxt.isoformat(), self.config.cron)
        return (nxt - now).total_seconds()

    # -- scheduled steps -------------------------------------------------------------------
    def _cycle(self) -> None:
        for name in self.config.steps:
            if self.stop.is_set() or self.failure is not None:
                return
            self.outcomes.append(self._supervised(name, self._step(name)))

    def _supervised(self, name: str, action: Callable[[], str]) -> StepOutcome:
        clock = time.perf_counter()
        log.info("step %s started", name)
        for attempt in range(1, self.config.retries + 2):
            try:
                detail = action()
                status = "skipped" if detail.startswith("skipped") else "ok"
                log.info("step %s %s after %d attempt(s) in %.1f s: %s", name, status, attempt,
                         time.perf_counter() - clock, detail)
                return StepOutcome(name, status, attempt, time.perf_counter() - clock, detail)
            except TransientError as exc:
                if attempt > self.config.retries or self.stop.is_set():
                    return self._fail(name, attempt, clock, f"transient error outlived {self.config.retries} "
                                                            f"retries: {exc}")
                delay = min(self.config.max_backoff_seconds, self.config.backoff_seconds * 2 ** (attempt - 1))
                log.warning("step %s: %s; retry %d/%d in %.1f s", name, exc, attempt, self.config.retries, delay)
                self.wait(delay)
            except Exception as exc:  # terminal, or a bug: either way a person has to look
                return self._fail(name, attempt, clock, f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def _fail(self, name: str, attempts: int, clock: float, detail: str) -> StepOutcome:
        log.error("step %s failed: %s; stopping", name, detail)
        self.failure = StepFailed(f"step {name} failed: {detail}")
        self.alerter.send(f"run stopped: step {name} failed",
                          [detail, f"data dir: {self.settings.data_dir}", f"attempts: {attempts}"])
        self.stop.set()
        return StepOutcome(name, "failed", attempts, time.perf_counter() - clock, detail)

    def _step(self, name: str) -> Callable[[], str]:
        if name in self.config.commands:
            return lambda: _command(name, self.config.commands[name])
        return lambda: BUILTIN_STEPS[name](self.ctx)

    def process_metrics(self) -> str:
        from salesflow.common.prometheus import MetricsText
        from salesflow.ops.metrics import stream_metrics

        out = MetricsText()
        runs: Counter[tuple[str, str]] = Counter((o.name, o.status) for o in self.outcomes)
        out.family("salesflow_step_runs_total", "counter", "Supervised step runs by outcome.",
                   [({"step": n, "status": st}, c) for (n, st), c in sorted(runs.items())])
        last = {o.name: o for o in self.outcomes}
        out.family("salesflow_step_last_duration_seconds", "gauge", "Duration of each step's last run.",
                   [({"step": n}, round(o.seconds, 3)) for n, o in sorted(last.items())])
        out.family("salesflow_step_last_attempts", "gauge", "Attempts of each step's last run (retries + 1).",
                   [({"step": n}, o.attempts) for n, o in sorted(last.items())])
        return stream_metrics(self.stream_stats) + out.render()

    # -- the stream ------------------------------------------------------------------------
    def _stream_loop(self, once: bool) -> None:
        outcome = self._supervised("stream", lambda: _stream_once(self.ctx, once, self.stop, self.caught_up,
                                                                  self.stream_stats))
        self._progress_line()  # the last stretch, before anyone waiting on this thread goes on
        self.outcomes.append(outcome)


def _stream_once(ctx: RunContext, available_now: bool, stop: threading.Event, caught_up: threading.Event,
                 stats: StreamStats) -> str:
    stats = run_stream(ctx, ctx.settings.run.source, available_now=available_now, stop=stop, caught_up=caught_up,
                       stats=stats)
    return f"{stats.records} records in {stats.batches} micro-batch(es)"


def _command(name: str, command: str) -> str:
    result = subprocess.run(command, shell=True, capture_output=True, text=True)  # noqa: S602 - the user's own step
    tail = (result.stderr or result.stdout).strip()[-500:]
    if result.returncode == 0:
        return f"exit 0 {tail[-200:]}".strip()
    if result.returncode == EX_TEMPFAIL:
        raise TransientError(f"command {name} ({shlex.split(command)[0]}) exited {EX_TEMPFAIL}: {tail}")
    raise StepFailed(f"command {name} exited {result.returncode}: {tail}")


def _warehouse(ctx: RunContext) -> str:
    result = load_warehouse(ctx)
    return f"{sum(result.staged.values())} rows staged ({result.mode})"


def _forecast(ctx: RunContext) -> str:
    from salesflow.forecast.backtest import ForecastError
    from salesflow.jobs.forecast import predict, train

    try:
        trained = train(ctx)
        predicted = predict(ctx)
    except ForecastError as exc:  # a young lake: not enough history yet is a state, not a failure
        return f"skipped: {exc}"
    return f"promoted {trained.promoted}, {predicted.rows} predictions from {predicted.forecast_date}"


def _batch(ctx: RunContext) -> str:
    run = run_batch(ctx)
    return f"{run.total('bronze_rows')} bronze rows"


def _quality(ctx: RunContext) -> str:
    """The lake reconciles, and the latest gate run has no blocking failure."""
    from salesflow.errors import QualityGateError, ReconciliationError
    from salesflow.pipeline.reconcile import reconcile_finished
    from salesflow.quality.results import latest_run

    lake = ctx.lake
    rec = reconcile_finished(lake)
    if not rec.balanced:
        raise ReconciliationError("the lake does not reconcile", expected=rec.bronze, actual=rec.accounted)
    results = latest_run(lake)
    blocking = [r for r in results if r["action"] == "fail" and not r["passed"]]
    if blocking:
        rules = ", ".join(f"{r['table_name']}.{r['rule']}" for r in blocking)
        raise QualityGateError(f"blocking quality rule(s) failed in the latest run: {rules}")
    warned = sum(1 for r in results if not r["passed"])
    return f"reconciled ({rec.bronze} bronze records), {len(results)} checks, {warned} warning(s)"


BUILTIN_STEPS: dict[str, Callable[[RunContext], str]] = {"batch": _batch, "quality": _quality,
                                                      "warehouse": _warehouse, "forecast": _forecast}
