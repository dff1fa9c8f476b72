"""A fake partner orders API served by a real HTTP server, with every pagination style and faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse


def make_orders(start: int, count: int) -> list[dict[str, Any]]:
    return [{
        "id": f"o-{i:05d}", "updated_at": f"2026-09-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "customer": {"id": f"c-{i % 37}"}, "sku": f"p-{i % 11}", "qty": 1 + i % 3, "price": f"{5 + i % 7}.25",
    } for i in range(start, start + count)]


@dataclass
class PartnerApi:
    style: str
    orders: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[int, str] = field(default_factory=dict)
    """Request number (1-based) -> '500', '429', 'timeout' or '401'."""
    fail_from: int | None = None
    """From this request on, every answer is a 500 (an outage)."""
    requests: int = 0
    served: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests += 1
            number = self.requests
            self.served.append(path + "?" + urlencode(query))
        fault = self.faults.get(number) or ("500" if self.fail_from and number >= self.fail_from else None)
        if fault == "500":
            return 500, {}, {"error": "boom"}
        if fault == "429":
            return 429, {"Retry-After": "1"}, {"error": "slow down"}
        if fault == "401":
            return 401, {}, {"error": "bad token"}
        if fault == "timeout":
            time.sleep(1.0)
        rows = [o for o in self.orders if "since" not in query or o["updated_at"] > query["since"]]
        size = int(query.get("per_page", 20))
        headers: dict[str, str] = {}
        body: dict[str, Any] = {}
        if self.style in ("page", "link"):
            page = int(query.get("page", 1))
            chunk = rows[(page - 1) * size: page * size]
            if self.style == "link" and page * size < len(rows):
                headers["Link"] = f'</orders?{urlencode({**query, "page": page + 1})}>; rel="next"'
        elif self.style == "offset":
            offset = int(query.get("offset", 0))
            chunk = rows[offset: offset + size]
        else:
            start = int(query.get("cursor", "0"))
            chunk = rows[start: start + size]
            body["next_cursor"] = str(start + size) if start + size < len(rows) else None
        body["data"] = {"orders": chunk}
        return 200, headers, body


@contextmanager
def serve(api: PartnerApi) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status, headers, body = api.answer(url.path, query)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
