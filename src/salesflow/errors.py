"""One exception hierarchy for the whole project.

Every error is either *transient* (a retry may succeed: a busy file system, a broker that is
restarting) or *terminal* (retrying cannot help: bad config, a broken contract, counts that do
not reconcile). Schedulers and the CLI decide what to do by checking these two mixins only.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

INTERRUPTED = 130  # 128 + SIGINT, as shells report it
INTERRUPTED_LINE = "salesflow: interrupted; what was committed stays, and the next run goes on from there"
"""What Ctrl-C prints, wherever it lands. Every write is one atomic commit (Delta, a renamed file),
so an interrupted command leaves what it committed and nothing half-written."""


def exception_chain(exc: BaseException, *, context: bool = True) -> Iterator[BaseException]:
    """``exc`` and what it was raised from (``__cause__``; with ``context``, else what it was
    raised while handling), each once: a chain may loop."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.__cause__ or (found.__context__ if context else None)


class SalesflowError(Exception):
    """Root of every error salesflow raises on purpose."""

    exit_code: int = 1


class TransientError(SalesflowError):
    """A retry with backoff may succeed."""


class TerminalError(SalesflowError):
    """Retrying will not help: a person has to change something."""


class ConfigError(TerminalError):
    """A configuration value is missing or not allowed. The message names the key."""

    exit_code = 2


class MissingDependencyError(ConfigError):
    """An optional package (an extra of the install) is needed by what was asked for."""


class ContractError(TerminalError):
    """Input does not follow the event or reference-data contract."""


class CheckpointError(TerminalError):
    """A source checkpoint cannot be honoured (for example a planned file is gone)."""


class ReconciliationError(TerminalError):
    """Record counts (or money) between layers do not add up: something would be lost or doubled."""

    def __init__(self, message: str, *, expected: int | Decimal, actual: int | Decimal) -> None:
        super().__init__(f"{message}: expected {expected:,}, got {actual:,}")
        self.expected = expected
        self.actual = actual


class ModelError(TerminalError):
    """A SQL model failed to load, render or run. The message names the model."""


class LakeWriteError(TransientError):
    """A Delta commit failed for a reason that may pass (conflict, I/O)."""


class LakeSchemaError(TerminalError):
    """A Delta table refused rows whose schema does not match it: a model changed its output."""


class NothingYetError(TerminalError):
    """Asked for something the data directory does not hold yet; the message says what to run first."""


class ParameterError(TerminalError):
    """A query parameter is unknown or its value does not fit its type."""

    exit_code = 2


class QualityGateError(TerminalError):
    """A blocking (``fail``) expectation tripped: the batch was not promoted to the next layer."""
