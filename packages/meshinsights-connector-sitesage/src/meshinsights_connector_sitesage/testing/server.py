"""SiteSageTestServer: the SiteSage REST contract (package README) on 127.0.0.1.

Serves power readings per (location, control) and the controls of each
location, checks ``Authorization: Bearer <token>``, validates ``start``,
``end`` and ``page_size``, paginates with opaque page tokens, records every
request, and injects faults: ``throttle`` (429 with Retry-After),
``unavailable`` (503), ``slow`` (answer after ``delay`` s), ``malformed``
(200 with a body that is not JSON), ``missing_field`` (records without
``field``), ``repeat_token`` (the same next_page_token again and again),
``disconnect`` (close without answering).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs
import pandas as pd

from meshinsights_connector_sitesage.testing.faults import Fault, FaultPlan

logger = logging.getLogger(__name__)

FAULT_KINDS = (
    "throttle", "unavailable", "server_error", "slow", "malformed", "missing_field",
    "repeat_token", "disconnect",
)
MAX_PAGE_SIZE = 5000


@attrs.frozen
class RecordedRequest:
    """What one request carried and how the server answered."""

    method: str
    raw_path: str
    segments: tuple[str, ...]
    query: dict[str, str]
    headers: dict[str, str] = attrs.field(repr=False)
    status: int
    fault: str | None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sitesage test server: " + format, *args)

    def send_body(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self.server.owner._handle(self)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SiteSageTestServer


def _error(status: int, code: str, message: str) -> tuple[int, Any, dict[str, str]]:
    return status, {"error": {"code": code, "message": message}}, {}


class SiteSageTestServer:
    """Serve ``power`` ({(location_id, control_id): DataFrame}) and ``controls``.

    ``power`` frames hold ``timestamp`` (UTC), ``power_w`` and ``stage``;
    ``controls`` ({location_id: DataFrame of id, name, equipment_type}) is
    derived from ``power`` when not given.
    """

    def __init__(
        self,
        power: Mapping[tuple[str, str], pd.DataFrame] | None = None,
        *,
        controls: Mapping[str, pd.DataFrame] | None = None,
        token: str = "test-token",
        seed: int = 0,
    ) -> None:
        self.token = token
        self._power: dict[tuple[str, str], pd.DataFrame] = {}
        for key, frame in (power or {}).items():
            self.set_power(key[0], key[1], frame)
        self._controls: dict[str, pd.DataFrame] = {
            location: frame.reset_index(drop=True) for location, frame in (controls or {}).items()
        }
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self.faults = FaultPlan(seed)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> SiteSageTestServer:
        if self._httpd is None:
            httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
            httpd.owner = self
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name="sitesage-test-server", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SiteSageTestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``base_url`` of a config."""
        if self._httpd is None:
            raise RuntimeError("the SiteSage test server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- data, records, faults ------------------------------------------------
    def set_power(self, location_id: str, control_id: str, frame: pd.DataFrame) -> None:
        data = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))
        with getattr(self, "_lock", threading.Lock()):
            self._power[(location_id, control_id)] = data.sort_values(
                "timestamp", kind="stable"
            ).reset_index(drop=True)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def inject(
        self, kind: str, *, times: int | None = None, rate: float | None = None, **options: object
    ) -> Fault:
        """Fail the next ``times`` requests (or a ``rate`` of them) with ``kind``.

        Options: ``retry_after`` (throttle), ``delay`` (slow), ``field`` (missing_field).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        return self.faults.add(Fault(kind, times=times, rate=rate, options=options))

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- handling -------------------------------------------------------------
    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        segments = tuple(unquote(s) for s in split.path.split("/")[1:])
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        fault = self.faults.pick()
        try:
            status, body, headers = self._answer(handler, segments, query, fault)
        except Exception as exc:
            logger.exception("sitesage test server failed on a request")
            status, body, headers = _error(500, "test_server_bug", f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._requests.append(RecordedRequest(
                "GET", handler.path, segments, query, dict(handler.headers.items()), status,
                fault.kind if fault else None,
            ))
        if status == 0:
            handler.close_connection = True
            return
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_body(status, payload, headers)

    def _answer(
        self, handler: _Handler, segments: tuple[str, ...], query: dict[str, str],
        fault: Fault | None,
    ) -> tuple[int, Any, dict[str, str]]:
        kind = fault.kind if fault else None
        options = fault.options if fault else {}
        if kind == "disconnect":
            return 0, None, {}
        if kind == "throttle":
            retry_after = options.get("retry_after", 1)
            return 429, {"error": {"code": "rate_limited", "message": "slow down"}}, {
                "Retry-After": str(retry_after)
            }
        if kind == "unavailable":
            return _error(503, "unavailable", "try again later")
        if kind == "server_error":
            return _error(500, "internal", "internal error")
        if kind == "slow":
            time.sleep(float(str(options.get("delay", 1.0))))
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "unauthorized", "missing or invalid bearer token")
        if kind == "malformed":
            return 200, b'{"data": [{"timestamp": "2024-01-01T00:00:00Z", "power_w": 1', {}
        if len(segments) == 4 and segments[:2] == ("v1", "locations") and segments[3] == "controls":
            return self._controls_page(segments[2], query, options if kind else {}, kind)
        if (len(segments) == 6 and segments[:2] == ("v1", "locations")
                and segments[3] == "controls" and segments[5] == "power"):
            return self._power_page(segments[2], segments[4], query, options, kind)
        return _error(404, "not_found", "no such resource")

    def _page(
        self, frame: pd.DataFrame, query: dict[str, str], kind: str | None,
        options: Mapping[str, object],
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            size = int(query.get("page_size", "100"))
            if not 1 <= size <= MAX_PAGE_SIZE:
                raise ValueError
        except ValueError:
            return _error(400, "invalid_page_size", f"page_size must be 1..{MAX_PAGE_SIZE}")
        token = query.get("page_token")
        offset = 0
        if token:
            if not token.startswith("o") or not token[1:].isdigit():
                return _error(400, "invalid_page_token", "unknown page token")
            offset = int(token[1:])
        page = frame.iloc[offset: offset + size]
        next_token = f"o{offset + size}" if offset + size < len(frame) else None
        if kind == "repeat_token":
            next_token = token or "o0"
        records = page
        if kind == "missing_field":
            records = page.drop(columns=[str(options.get("field", "power_w"))], errors="ignore")
        return 200, {"data": _records(records), "next_page_token": next_token}, {}

    def _controls_page(
        self, location_id: str, query: dict[str, str], options: Mapping[str, object],
        kind: str | None,
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            frame = self._controls.get(location_id)
            if frame is None:
                ids = sorted(c for loc, c in self._power if loc == location_id)
                if not ids:
                    return _error(404, "not_found", "unknown location")
                frame = pd.DataFrame(
                    {"id": ids, "name": ids, "equipment_type": ["rooftop_unit"] * len(ids)}
                )
        return self._page(frame, query, kind, options)

    def _power_page(
        self, location_id: str, control_id: str, query: dict[str, str],
        options: Mapping[str, object], kind: str | None,
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            frame = self._power.get((location_id, control_id))
        if frame is None:
            return _error(404, "not_found", "unknown location or control")
        try:
            start = pd.Timestamp(query["start"])
            end = pd.Timestamp(query["end"])
        except (KeyError, ValueError):
            return _error(400, "invalid_range", "start and end are required ISO 8601 timestamps")
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        selected = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]
        return self._page(selected.reset_index(drop=True), query, kind, options)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON records: timestamps as ISO 8601 with ``Z``, NaN as null."""
    out = frame
    if "timestamp" in out.columns:
        out = out.assign(timestamp=out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    records: list[dict[str, Any]] = json.loads(out.to_json(orient="records"))
    return records
