"""The HTTP collector: ``POST /v1/events`` into the landing log or Kafka, acknowledged only when durable."""

from salesflow.collector.app import create_app

__all__ = ["create_app"]
