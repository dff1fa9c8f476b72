"""Gold: business aggregates rebuilt per affected event_date partition, idempotently."""

from salesflow.gold.aggregate import GOLD_APP, GoldBatch, GoldBuilder

__all__ = ["GOLD_APP", "GoldBatch", "GoldBuilder"]
