"""Where the lake lives: local disk or an object store, and what delta-rs needs to reach it.

Commit safety on S3: delta-rs (1.x) commits a Delta version with a conditional write
(``If-None-Match: *`` on ``_delta_log/N.json``), which AWS S3, MinIO, R2 and other S3-compatible
stores honour, so two writers can never both create version N: the loser re-reads the log and
retries at N+1 (appends) or fails with a conflict. No lock table is needed. For a store without
conditional writes, ``lake.unsafe_rename`` turns the guard off and is safe with one writer only.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from salesflow.config import LakeConfig, Settings
from salesflow.errors import ConfigError, TransientError

if TYPE_CHECKING:
    from salesflow.lake.delta import Lake

REMOTE = re.compile(r"^(s3a?|gs|az|abfss?|azure)://", re.IGNORECASE)


class LakeUnavailableError(TransientError):
    """The object store did not answer (endpoint down, network): a later retry may succeed."""


def is_remote(root: str) -> bool:
    return bool(REMOTE.match(root))


def storage_options(settings: Settings) -> dict[str, str] | None:
    """delta-rs storage options for ``lake.root``; None for a local lake."""
    config, root = settings.lake, settings.lake_root
    if not is_remote(root):
        return None
    options = {"max_retries": str(config.max_retries), "retry_timeout": f"{config.retry_timeout_seconds:g}s"}
    if root.lower().startswith(("s3://", "s3a://")):
        options.update(_s3(config))
    options.update(config.options)
    return options


def _s3(config: LakeConfig) -> dict[str, str]:
    options = {}
    pairs = {"AWS_ENDPOINT_URL": config.endpoint, "AWS_REGION": config.region,
             "AWS_ACCESS_KEY_ID": config.access_key_id,
             "AWS_SECRET_ACCESS_KEY": config.secret_access_key.get_secret_value() if config.secret_access_key else None,
             "AWS_SESSION_TOKEN": config.session_token.get_secret_value() if config.session_token else None}
    options.update({k: v for k, v in pairs.items() if v})
    if config.allow_http:
        options["AWS_ALLOW_HTTP"] = "true"
    if config.virtual_hosted_style:
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "true"
    if config.unsafe_rename:
        options["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
    return options


def _status(code: int, text: str) -> bool:
    """Whether the error names HTTP status ``code``. The digits alone are not enough: a retry error
    says how long it took ("after 8 retries in 4.403517s"), and a port or a version may hold them."""
    return re.search(rf"(?<![\w.:]){code}(?![\w.])", text) is not None


def explain(exc: BaseException, settings: Settings) -> Exception | None:
    """One clear error naming the setting to fix, for an object-store failure delta-rs reported."""
    text = str(exc)
    root, endpoint = settings.lake_root, settings.lake.endpoint or "the default AWS endpoint"
    bucket = root.split("://", 1)[-1].split("/", 1)[0]
    if "NoSuchBucket" in text or (_status(404, text) and "list" in text.lower()) or \
            "bucket does not exist" in text.lower():
        return ConfigError(f"lake.root = {root}: bucket '{bucket}' does not exist at {endpoint} "
                           f"(create it, or fix lake.root / lake.endpoint)")
    if _status(403, text) or any(k in text for k in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                                                     "ExpiredToken", "InvalidToken")):
        return ConfigError(f"lake.root = {root}: {endpoint} refused the credentials "
                           f"(check lake.access_key_id and $SALESFLOW__LAKE__SECRET_ACCESS_KEY)")
    if "loading credentials" in text or "IMDS" in text or "NoCredentialProviders" in text:
        return ConfigError(f"lake.root = {root}: no credentials for the object store (set lake.access_key_id "
                           f"and $SALESFLOW__LAKE__SECRET_ACCESS_KEY, or the AWS_* environment)")
    if any(k in text for k in ("error sending request", "Connection refused", "dns error", "timed out",
                               "retry_timeout", "max_retries", "503", "SlowDown",
                               # the connection dropped mid-response (delta-rs does not retry a body read)
                               "error reading a body", "end of file before message length",
                               "Connection reset", "connection closed before message completed")):
        return LakeUnavailableError(f"lake.root = {root}: {endpoint} is not answering after "
                                    f"{settings.lake.max_retries} retries (check lake.endpoint and the "
                                    f"network; raise lake.retry_timeout_seconds to ride out longer outages)")
    return None


def open_lake(settings: Settings, as_of: datetime | None = None) -> Lake:
    """The lake of these settings: its root, storage options and error explanations."""
    from salesflow.lake.delta import Lake

    return Lake(settings.lake_root, storage_options(settings), as_of,
                explain=lambda exc: explain(exc, settings))
