from __future__ import annotations

from collections.abc import Iterator

import pytest

from salesflow.sources.broker import embedded_broker


@pytest.fixture(scope="session")
def kafka_address() -> Iterator[str]:
    """A real Kafka-protocol broker (tansu) on a free port for the session."""
    with embedded_broker() as address:
        yield address
