"""Rule ``quarantine_rate``: what share of a Silver batch's records, and of its order money, went
to quarantine. Loud above ``quality.quarantine_rate_warn``; blocking above ``quarantine_rate_fail``
for batches of at least ``quarantine_rate_min_rows`` records (three bad records in a stream's
micro-batch of ten say little, and must not stop the stream).

Counted: records the contract or a rule rejected. Left out: a batch quarantined whole as
processing_error (it has alerted already) and conflicting_duplicate (a re-sent record, a dedupe
verdict: a producer re-sending a month must not stop the stage).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from salesflow.config.quality import QualityConfig
from salesflow.quality.gate import QualityGate

log = logging.getLogger(__name__)
RATE_EXCLUDES = ("processing_error", "conflicting_duplicate")


def money_quarantined(money: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
    """(order money, of it quarantined), each without sign: a quarantined return (a negative total)
    counts as money quarantined, not as money given back."""
    return money.get("bronze_gross", Decimal(0)), money.get("quarantined_gross", Decimal(0))


def judge_quarantine_rate(gate: QualityGate, config: QualityConfig, batch_id: int, records: int,
                          quarantined: dict[str, int], money: dict[str, Decimal]) -> None:
    """Record the rule for the batch; raises QualityGateError when it blocks."""
    if not records or not config.enabled:  # a rule like the suites' own
        return
    counted = sum(quarantined.values()) - sum(quarantined.get(r, 0) for r in RATE_EXCLUDES)
    share = counted / records
    total, held = money_quarantined(money)
    money_share = float(held / total) if total else 0.0
    blocks = config.quarantine_rate_fail is not None and share > config.quarantine_rate_fail \
        and records >= config.quarantine_rate_min_rows
    over = share > config.quarantine_rate_warn
    sample = {"quarantined": counted, "records": records, "share": round(share, 4),
              "money_quarantined": str(held), "money": str(total),
              "money_share": round(money_share, 4)}
    check = gate.record("events", f"batch {batch_id}", "quarantine_rate", "quarantine_rate",
                        "fail" if blocks else "warn", counted if over else 0, [sample])
    if over:
        log.warning("silver batch %d: %.1f%% of records (%d of %d) and %.1f%% of order money went to quarantine",
                    batch_id, 100 * share, counted, records, 100 * money_share)
    gate.enforce([check], f"silver batch {batch_id}")
