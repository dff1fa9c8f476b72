"""Bronze: raw records with ingestion metadata, append-only, exactly once per source position.

``rows`` holds what every source shares (the Bronze model, the exactly-once append, batch ids);
each source has one ingestor module: ``landing_ingest``, ``kafka_ingest``, ``api_ingest``,
``file_ingest``.
"""

from salesflow.bronze.landing_ingest import LandingIngestor
from salesflow.bronze.rows import BronzeBatch

__all__ = ["BronzeBatch", "LandingIngestor"]
