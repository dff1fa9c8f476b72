"""Bronze: raw records with ingestion metadata, append-only, exactly once per source position."""

from salesflow.bronze.ingest import BronzeBatch, BronzeIngestor

__all__ = ["BronzeBatch", "BronzeIngestor"]
