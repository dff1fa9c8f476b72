"""Run a table's expectations as SQL in the engine and turn the outcome into actions."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from salesflow.engine.base import EngineAdapter
from salesflow.errors import QualityGateError
from salesflow.models import sql_literal
from salesflow.quality.alerts import WebhookAlerter
from salesflow.quality.expectations import ColumnRule
from salesflow.quality.results import CheckResult
from salesflow.quality.suite import Suite

log = logging.getLogger(__name__)


@dataclass
class QualityGate:
    """Checks one layer's tables. Results accumulate in ``results`` for the run log."""

    engine: EngineAdapter
    suite: Suite
    layer: str
    run_id: str
    alerter: WebhookAlerter
    sample_rows: int = 5
    results: list[CheckResult] = field(default_factory=list)

    def check(self, table: str, relation: str, partition: str, history: str | None = None) -> list[CheckResult]:
        """Run every rule of ``table``: one query counts all rules' violations (a micro-batch
        pays one round trip, not one per rule); only a rule that found some is asked for samples."""
        now = sql_literal(datetime.now(UTC))
        rules = [
            (rule, rule.violations(relation).replace("{{ now }}", now).replace("{{ history }}", history or relation))
            for rule in self.suite.get(table, [])
            if rule.kind != "volume" or history is not None
        ]
        if not rules:
            return []
        clock = time.perf_counter()
        queried = [(i, rule, sql) for i, (rule, sql) in enumerate(rules) if not isinstance(rule, ColumnRule)]
        found = self.engine.query(_counting(relation, queried, now), f"quality.{table}").to_pylist()[0] \
            if queried else {}
        columns = self.engine.describe(relation) if len(queried) < len(rules) else []
        judged = {i: rule.on_columns(columns) for i, (rule, _) in enumerate(rules) if isinstance(rule, ColumnRule)}
        share = (time.perf_counter() - clock) * 1000 / len(rules)
        out = [self._result(table, partition, rule, sql, found[f"r{i}"], share) if i not in judged else
               self._judged(table, partition, rule, judged[i], share) for i, (rule, sql) in enumerate(rules)]
        self.results.extend(out)
        return out

    def _result(self, table: str, partition: str, rule: Any, sql: str, count: int, millis: float) -> CheckResult:
        sample: list[dict[str, Any]] = []
        if count and self.sample_rows:
            clock = time.perf_counter()
            sample = self.engine.query(f"SELECT * FROM ({sql}) AS v LIMIT {self.sample_rows}").to_pylist()  # noqa: S608 - composes the rules' own generated SQL
            millis += (time.perf_counter() - clock) * 1000
        return CheckResult(self.run_id, self.layer, table, partition, rule.name, rule.kind, rule.action,
                           count == 0, count, sample, millis)

    def _judged(self, table: str, partition: str, rule: Any, rows: list[dict[str, Any]], millis: float) -> CheckResult:
        return CheckResult(self.run_id, self.layer, table, partition, rule.name, rule.kind, rule.action,
                           not rows, len(rows), rows[: self.sample_rows], millis)

    def quarantined_events(self, table: str, relation: str) -> pa.Table:
        """event_id and rule of rows violating this table's quarantine rules (first rule wins)."""
        parts = [f"SELECT DISTINCT event_id, {sql_literal(rule.name)} AS rule, {i} AS priority "  # noqa: S608 - composes the rules' own generated SQL
                 f"FROM ({rule.violations(relation)})"
                 for i, rule in enumerate(self.suite.get(table, [])) if rule.action == "quarantine"]
        if not parts:
            return pa.table({"event_id": pa.array([], pa.string()), "rule": pa.array([], pa.string())})
        return self.engine.query(f"SELECT event_id, arg_min(rule, priority) AS rule FROM ({' UNION ALL '.join(parts)}) "  # noqa: S608 - composes the rules' own generated SQL
                                 f"GROUP BY event_id")

    def record(self, table: str, partition: str, rule: str, kind: str, action: str, violating: int,
               sample: list[dict[str, Any]] | None = None) -> CheckResult:
        """Record a check computed outside SQL expectations (contract rules, reconciliation)."""
        result = CheckResult(self.run_id, self.layer, table, partition, rule, kind, action, violating == 0,
                             violating, sample or [])
        self.results.append(result)
        return result

    def enforce(self, checked: list[CheckResult], where: str) -> None:
        """Alert on blocking failures and stale data; raise when a ``fail`` rule tripped."""
        stale = [r for r in checked if r.kind == "freshness" and not r.passed]
        blocking = [r for r in checked if r.blocking]
        if stale:
            self.alerter.send(f"freshness slipped in {where}", [_line(r) for r in stale])
        if blocking:
            self.alerter.send(f"quality gate failed in {where}: nothing was promoted", [_line(r) for r in blocking])
            names = ", ".join(f"{r.table_name}.{r.rule} ({r.violating_rows} rows)" for r in blocking)
            raise QualityGateError(f"{where}: blocking rule(s) failed: {names}; see `salesflow quality report`")


def _counting(relation: str, rules: list[tuple[int, Any, str]], now: str) -> str:
    """One row, column ``r<i>`` counting rule i's violations. The row-level and whole-table rules
    are aggregates over one scan of ``relation`` (Spark ran a scan per rule, each its own stages);
    the others (joins, groupings) are scalar subqueries over their violation queries."""
    folded = {i: expr for i, rule, _ in rules if (expr := rule.counted()) is not None}
    columns = [f"scan.r{i}" if i in folded else f"(SELECT count(*) FROM ({sql}) AS v) AS r{i}"  # noqa: S608 - composes the rules' own generated SQL
               for i, _, sql in rules]
    if not folded:
        return f"SELECT {', '.join(columns)}"
    scan = ", ".join(f"{expr.replace('{{ now }}', now)} AS r{i}" for i, expr in folded.items())
    return f"SELECT {', '.join(columns)} FROM (SELECT {scan} FROM {relation}) AS scan"  # noqa: S608 - composes the rules' own generated SQL


def _line(result: CheckResult) -> str:
    sample = f" e.g. {result.sample[0]}" if result.sample else ""
    return f"- {result.layer}.{result.table_name} {result.rule}: {result.violating_rows} row(s){sample}"[:500]
