"""KustoTestServer: a local HTTP endpoint speaking the Kusto REST protocol.

The real ``KustoClient`` talks to it through
``KustoConnectionStringBuilder.with_no_authentication(server.url)`` (or a
TokenCredential). It serves the DataFrames it is given, evaluates a small
KQL subset (:mod:`meshinsights_connector_adx.testing.kql`) with the
parameters each request carries, records every request for assertions, and
injects faults (429, 503, slow answers, dropped connections, Kusto errors).

Endpoints: ``POST /v2/rest/query`` (v2 frames), ``POST /v1/rest/mgmt``
(``.show version``, ``.show tables``; v1 tables), ``GET
/v1/rest/auth/metadata`` (404: the client then assumes the public cloud).
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

import attrs
import pandas as pd

from meshinsights_connector_adx.testing.encoding import make_table, v1_response, v2_response
from meshinsights_connector_adx.testing.faults import Fault, FaultPlan
from meshinsights_connector_adx.testing.kql import (
    KqlError,
    Table,
    declared_parameters,
    evaluate,
    parse_timespan,
)

logger = logging.getLogger(__name__)

FAULT_KINDS = ("throttle", "unavailable", "server_error", "slow", "disconnect", "error")


@attrs.frozen
class RecordedRequest:
    """What one request carried, and how the server answered."""

    method: str
    path: str
    headers: dict[str, str]
    database: str | None
    query: str | None
    properties: dict[str, Any]
    declared: dict[str, str]
    status: int
    fault: str | None

    @property
    def parameters(self) -> dict[str, Any]:
        """The request's ``Parameters`` (strings, as sent)."""
        return dict(self.properties.get("Parameters") or {})

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.properties.get("Options") or {})


def one_api_error(code: str, message: str, *, permanent: bool, kind: str = "") -> dict[str, Any]:
    """A OneApiError body, as the service sends with 4xx/5xx answers."""
    return {
        "error": {
            "code": code,
            "message": "Request is invalid and cannot be executed." if permanent else message,
            "@type": f"Kusto.Data.Exceptions.{kind or 'KustoServiceException'}",
            "@message": message,
            "@permanent": permanent,
        }
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("kusto test server: " + format, *args)

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._send(404, {"error": {"code": "NotFound", "message": "not found", "@permanent": True}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.server.owner._handle(self, raw)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: KustoTestServer


class KustoTestServer:
    """Serve ``tables`` (name -> DataFrame) over the Kusto REST protocol on 127.0.0.1.

    ``types`` overrides inferred Kusto column types per table
    (``{"Power": {"tags": "dynamic"}}``); ``database`` set, requests for another
    database get Kusto's entity-not-found error. Use as a context manager, or
    ``start()``/``stop()``.
    """

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame] | None = None,
        *,
        types: Mapping[str, Mapping[str, str]] | None = None,
        database: str | None = None,
        timespan_ticks: bool = False,
        seed: int = 0,
    ) -> None:
        self.database = database
        self.timespan_ticks = timespan_ticks
        self._tables: dict[str, Table] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self.faults = FaultPlan(seed)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, frame in (tables or {}).items():
            self.add_table(name, frame, (types or {}).get(name))

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> KustoTestServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="kusto-test-server", daemon=True,
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

    def __enter__(self) -> KustoTestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the Kusto test server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``cluster`` of an ``auth = "none"`` config."""
        return f"http://127.0.0.1:{self.port}"

    # -- data -----------------------------------------------------------------
    def add_table(
        self, name: str, frame: pd.DataFrame, types: Mapping[str, str] | None = None
    ) -> None:
        table = make_table(frame, types)
        with self._lock:
            self._tables[name] = table

    # -- recording ------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def queries(self) -> list[RecordedRequest]:
        """Recorded requests to ``/v2/rest/query``."""
        return [r for r in self.requests if r.path.startswith("/v2/rest/query")]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- faults ---------------------------------------------------------------
    def inject(
        self,
        kind: str,
        *,
        times: int | None = None,
        rate: float | None = None,
        paths: tuple[str, ...] = (),
        **options: object,
    ) -> Fault:
        """Fail the next ``times`` requests (or a ``rate`` of them) with ``kind``:

        - ``throttle``: 429 (``retry_after`` seconds in a Retry-After header, optional);
        - ``unavailable``: 503 with a non-permanent OneApiError;
        - ``server_error``: 500 with a non-permanent OneApiError;
        - ``slow``: answer after ``delay`` seconds; past the request's
          ``servertimeout`` option, a 504 timeout error instead, as Kusto does;
        - ``disconnect``: close the connection without an answer;
        - ``error``: ``status`` (400) with ``code``, ``message``, ``permanent``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        return self.faults.add(Fault(kind, times=times, rate=rate, paths=paths, options=options))

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- request handling -----------------------------------------------------
    def _handle(self, handler: _Handler, raw: bytes) -> None:
        path = handler.path.split("?", 1)[0]
        try:
            body = json.loads(raw or b"{}")
            properties = json.loads(body.get("properties") or "{}")
        except (ValueError, AttributeError):
            body, properties = {}, {}
        query = body.get("csl") if isinstance(body, dict) else None
        database = body.get("db") if isinstance(body, dict) else None
        fault = self.faults.pick(path)
        status, answer, headers = self._answer(path, database, query, properties, fault)

        self._record(
            RecordedRequest(
                method="POST", path=path, headers=dict(handler.headers.items()),
                database=database, query=query, properties=properties,
                declared=declared_parameters(query or ""), status=status,
                fault=fault.kind if fault else None,
            )
        )
        if status == 0:
            handler.close_connection = True
            return
        handler._send(status, answer, headers)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _answer(
        self, path: str, database: Any, query: Any, properties: dict[str, Any],
        fault: Fault | None,
    ) -> tuple[int, Any, dict[str, str]]:
        if fault is not None:
            failed = self._fault_answer(fault, properties)
            if failed is not None:
                return failed
        if path not in ("/v2/rest/query", "/v1/rest/mgmt"):
            return 404, one_api_error("NotFound", f"no endpoint {path}", permanent=True), {}
        if not isinstance(query, str) or not isinstance(database, str):
            return 400, one_api_error(
                "General_BadRequest", "request body needs 'db' and 'csl'", permanent=True
            ), {}
        if self.database is not None and database != self.database:
            return 400, one_api_error(
                "General_BadRequest",
                f"Entity ID '{database}' of kind 'Database' was not found",
                permanent=True, kind="EntityNotFoundException",
            ), {}
        try:
            if path == "/v1/rest/mgmt":
                return 200, v1_response(self._command(query)), {}
            with self._lock:
                tables = dict(self._tables)
            result = evaluate(query, tables, properties.get("Parameters") or {})
            return 200, v2_response(result, timespan_ticks=self.timespan_ticks), {}
        except KqlError as exc:
            return 400, one_api_error(
                "General_BadRequest", str(exc), permanent=True, kind=f"{exc.kind}Exception"
            ), {}
        except Exception as exc:
            logger.exception("kusto test server failed on a request")
            return 500, one_api_error(
                "TestServerBug", f"{type(exc).__name__}: {exc}", permanent=True
            ), {}

    def _command(self, command: str) -> Table:
        text = " ".join(command.split()).lower()
        if text == ".show version":
            return make_table(pd.DataFrame({"BuildVersion": ["1.0.0-test"], "ServiceType": ["Engine"]}))
        if text == ".show tables":
            with self._lock:
                names = sorted(self._tables)
            return make_table(pd.DataFrame({"TableName": pd.Series(names, dtype=object)}),
                              {"TableName": "string"})
        raise KqlError("Syntax", f"command not supported by this test endpoint: {command[:40]!r}")

    def _fault_answer(
        self, fault: Fault, properties: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]] | None:
        options = fault.options
        if fault.kind == "throttle":
            retry_after = options.get("retry_after")
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return 429, one_api_error("TooManyRequests", "throttled", permanent=False), headers
        if fault.kind == "unavailable":
            return 503, one_api_error("ServiceUnavailable", "service is unavailable",
                                      permanent=False), {}
        if fault.kind == "server_error":
            return 500, one_api_error("InternalServiceError", "internal error",
                                      permanent=False), {}
        if fault.kind == "disconnect":
            return 0, None, {}
        if fault.kind == "error":
            permanent = bool(options.get("permanent", True))
            return int(str(options.get("status", 400))), one_api_error(
                str(options.get("code", "General_BadRequest")),
                str(options.get("message", "Semantic error: injected")),
                permanent=permanent, kind=str(options.get("type", "SemanticException")),
            ), {}
        if fault.kind == "slow":
            delay = float(str(options.get("delay", 1.0)))
            timeout = self._server_timeout(properties)
            if timeout is not None and delay > timeout:
                time.sleep(timeout)
                return 504, one_api_error(
                    "Request_ExecutionTimeout", "query execution has exceeded the allowed limits",
                    permanent=False,
                ), {}
            time.sleep(delay)
        return None

    @staticmethod
    def _server_timeout(properties: dict[str, Any]) -> float | None:
        value = (properties.get("Options") or {}).get("servertimeout")
        if value is None:
            return None
        text = str(value).strip()
        # azure-kusto-data sends str(timedelta): "0:00:02.500000" or "1 day, 0:00:00"
        text = text.replace(" days, ", ".").replace(" day, ", ".")
        try:
            return float(parse_timespan(text).total_seconds())
        except ValueError:
            return None
