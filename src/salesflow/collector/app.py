"""``POST /v1/events``: validate against the contract, store durably, then answer per event.

Order of checks, cheapest first: API key (401), rate limit (429 with Retry-After), request size
(413, read no further than the limit), body shape (422). Each event is validated on its own; the
valid ones are written through the group committer and only then acknowledged. The answer is 200
when at least one event was accepted, 422 when none was, 503 when the sink is down (nothing of
that request was acknowledged, so the client retries it whole).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from salesflow.collector.limits import KeyRing, RateLimiter
from salesflow.collector.metrics import CollectorMetrics
from salesflow.collector.sinks import GroupCommitter, Sink, SinkUnavailable
from salesflow.config import Settings
from salesflow.contract.bounds import Bounds
from salesflow.contract.duplicate_keys import DuplicateKeyError, marked, repeated_in
from salesflow.contract.events import CONTRACT_VERSION, parse_event
from salesflow.contract.schema import event_json_schema
from salesflow.redact import redact

NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/ndjson")


class BodyTooLarge(Exception):
    pass


def create_app(settings: Settings, sink: Sink) -> FastAPI:
    config = settings.collector
    keys = KeyRing(config.api_keys)
    limiter = RateLimiter(config.rate_per_second, config.burst)
    metrics = CollectorMetrics()
    committer = GroupCommitter(sink, config.flush_ms / 1000)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        committer.start()
        yield
        await committer.stop()

    app = FastAPI(title="salesflow collector", version=f"contract v{CONTRACT_VERSION}", lifespan=lifespan)
    app.state.metrics, app.state.committer = metrics, committer

    def error(status: int, code: str, detail: str, started: float, headers: dict[str, str] | None = None) -> Response:
        metrics.observe(status, time.perf_counter() - started)
        return JSONResponse({"error": code, "detail": redact(detail)}, status_code=status, headers=headers)

    body_schema = {"oneOf": [{"$ref": "#/components/schemas/Event"},
                             {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}]}

    @app.post("/v1/events", openapi_extra={
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body_schema},
            "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line"}}}},
        "responses": {"401": {"description": "missing or unknown API key"},
                      "413": {"description": "request larger than collector.max_request_bytes"},
                      "422": {"description": "no event in the request was valid"},
                      "429": {"description": "rate limit of the key; see Retry-After"}}})
    async def post_events(request: Request) -> Response:
        """Accept one event, a JSON array of events, or NDJSON; answer per event."""
        started = time.perf_counter()
        key = "anonymous"
        if keys.enabled:
            found = keys.identify(request.headers.get("authorization"))
            if found is None:
                return error(401, "unauthorized", "send a valid API key as 'Authorization: Bearer <key>'",
                             started, {"WWW-Authenticate": "Bearer"})
            key = found
        wait = limiter.wait_needed(key)
        if wait > 0:
            retry = max(1, round(wait + 0.5))
            return error(429, "rate_limited", f"key {key!r} is over {config.rate_per_second:g} requests/s; "
                         f"retry after {retry} s", started, {"Retry-After": str(retry)})
        try:
            body = await _read_limited(request, config.max_request_bytes)
        except ClientDisconnect:  # gone, or cut by the body deadline (collector.guard): nothing stored
            return error(400, "client_disconnected", "the request body did not arrive", started)
        except BodyTooLarge:
            return error(413, "request_too_large", f"requests are limited to {config.max_request_bytes} bytes",
                         started)
        ndjson = request.headers.get("content-type", "").split(";")[0].strip().lower() in NDJSON_TYPES
        try:
            documents = _documents(body, ndjson)
        except ValueError as exc:
            return error(422, "malformed_body", str(exc), started)
        results, accepted = _validate(documents, settings.pipeline.max_payload_bytes, settings.pipeline.bounds)
        for r in results:
            if r["status"] == "rejected":
                metrics.rejected[r["reason"]] += 1
        if accepted:
            try:
                await committer.write(accepted)
            except SinkUnavailable as exc:
                return error(503, "sink_unavailable", f"{exc}; nothing of this request was stored, retry it",
                             started, {"Retry-After": "1"})
        metrics.events["accepted"] += len(accepted)
        metrics.events["rejected"] += len(results) - len(accepted)
        status = 200 if accepted else 422
        metrics.observe(status, time.perf_counter() - started)
        return JSONResponse({"accepted": len(accepted), "rejected": len(results) - len(accepted),
                             "results": results}, status_code=status)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "sink": settings.collector.sink, "flushes": committer.flushes}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(redact(metrics.render()), media_type="text/plain; version=0.0.4")

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original_openapi()
            contract = event_json_schema()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update({k: v for k, v in contract.pop("$defs", {}).items()})
            components["Event"] = contract
            app.openapi_schema = orjson.loads(orjson.dumps(schema).replace(b"#/$defs/", b"#/components/schemas/"))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a lying or absent Content-Length: stop reading at the limit
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _documents(body: bytes, ndjson: bool) -> list[bytes | Any]:
    """Raw NDJSON lines (parsed per event later) or the parsed JSON body's events."""
    if ndjson:
        return [line for line in body.split(b"\n") if line.strip()]
    try:
        parsed = marked(body, orjson.loads(body))  # objects repeating a key stay recognisable
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    if isinstance(parsed, dict):
        return [parsed]
    if isinstance(parsed, list) and parsed:
        return parsed
    raise ValueError("body must be an event object or a non-empty array of events")


def _validate(documents: list[bytes | Any], max_event_bytes: int,
              bounds: Bounds) -> tuple[list[dict[str, Any]], list[bytes]]:
    results: list[dict[str, Any]] = []
    accepted: list[bytes] = []
    context = {"bounds": bounds, "received": datetime.now(UTC)}
    for index, doc in enumerate(documents):
        repeated = None if isinstance(doc, bytes) else repeated_in(doc)
        if repeated is not None:  # dumping it would drop the repeat
            results.append({"index": index, "status": "rejected", "reason": "malformed_json",
                            "detail": f"a key is repeated in the {repeated}"})
            continue
        raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        reason, detail = _check(raw, max_event_bytes, context)
        if reason is None:
            accepted.append(raw)
            event_id = orjson.loads(raw).get("event_id")
            results.append({"index": index, "status": "accepted", "event_id": event_id})
        else:
            results.append({"index": index, "status": "rejected", "reason": reason, "detail": detail})
    return results, accepted


def _check(raw: bytes, max_event_bytes: int, context: dict[str, Any]) -> tuple[str | None, str]:
    if len(raw) > max_event_bytes:
        return "payload_too_large", f"event is {len(raw)} bytes, the limit is {max_event_bytes}"
    try:
        parse_event(raw, context["bounds"], context["received"])
    except DuplicateKeyError as exc:
        return "malformed_json", str(exc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        kind = "malformed_json" if first["type"] == "json_invalid" else "contract_violation"
        return kind, f"{where}: {first['msg']}" if where else first["msg"]
    return None, ""
