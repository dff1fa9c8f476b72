"""Silver: typed, validated, deduplicated events; quarantine and duplicates kept with reasons."""

from salesflow.silver.process import SILVER_APP, SilverBatch, SilverProcessor

__all__ = ["SILVER_APP", "SilverBatch", "SilverProcessor"]
