"""SiteSageConnector: GET endpoint templates with a bearer token, paginated, into DataFrames."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
import requests

from meshinsights import retries
from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights_connector_sitesage.endpoints import (
    CONTROLS_ENDPOINT,
    path_parameter_names,
    render,
)
from meshinsights_connector_sitesage.errors import SiteSageError
from meshinsights_connector_sitesage.frames import records_frame
from meshinsights_connector_sitesage.retry import CONNECTOR
from meshinsights_connector_sitesage.sessions import SiteSageSessions, retry_bounds
from meshinsights_connector_sitesage.settings import SiteSageSettings, parse_settings

logger = logging.getLogger(__name__)

_STATUS_HINTS = {
    401: "the token was rejected (401 Unauthorized): check the environment variable that "
         "provides the config's 'token'",
    403: "the token is not allowed to read this resource (403 Forbidden)",
    404: "not found (404)",
    429: "still throttled (429) after the retries",
}


class SiteSageConnector(DBConnector):
    """The SiteSage REST API (contract in the package README).

    ``execute_query(endpoint_template, parameters)``: placeholders of the
    template (``{location_id}``) are filled from ``parameters``, checked and
    URL-quoted; the other parameters become the query string. Pages are
    followed through ``next_page_token``. Config keys: ``base_url``,
    ``token``, ``timeout`` (read seconds, or ``[connect, read]``), ``page_size``,
    and ``retries``, ``backoff_factor``, ``retry_after_max``, ``max_pages``.
    """

    plugin_name = "sitesage"

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._settings: SiteSageSettings = parse_settings(config)
        self._retry_bounds = retry_bounds(self._settings)

    @property
    def settings(self) -> SiteSageSettings:
        return self._settings

    def _session(self) -> requests.Session:
        return SiteSageSessions.get(self._settings, self._config)

    def connect(self) -> tuple[Any, Any]:
        return self._session(), self._settings.base_url

    def close(self) -> None:
        SiteSageSessions.release(self._config)

    def _scrub(self, text: str) -> str:
        return text.replace(self._settings.token, "***")[:300]

    def _get(
        self, template: str, path: str, query: dict[str, str], page: int, subject: str = ""
    ) -> dict[str, Any]:
        url = self._settings.base_url + path
        where = f"sitesage GET {template} (page {page})"
        logger.debug("%s", where)
        retries.record_call(CONNECTOR, self._retry_bounds)  # urllib3 counts the retries
        try:
            response = self._session().get(
                url,
                params=query,
                headers={"Authorization": f"Bearer {self._settings.token}"},
                timeout=self._settings.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.RetryError as exc:
            raise SiteSageError(
                f"{where}: gave up after {self._settings.retries} retries ({_reason(exc)})",
                endpoint=template,
            ) from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            connect, read = self._settings.timeout
            raise SiteSageError(
                f"{where}: {_reason(exc)} after {self._settings.retries} retries "
                f"(timeouts: connect {connect:g} s, read {read:g} s)",
                endpoint=template,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise SiteSageError(f"{where}: request failed ({type(exc).__name__})",
                                endpoint=template) from None
        if response.status_code != 200:
            hint = _STATUS_HINTS.get(response.status_code)
            if response.status_code == 404 and subject:
                hint = f"{hint}: no resource for {subject}"
            if hint is None:
                body = self._scrub(response.text or "")
                hint = f"HTTP {response.status_code}" + (f": {body}" if body else "")
            raise SiteSageError(f"{where}: {hint}", endpoint=template, status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            raise SiteSageError(
                f"{where}: the answer is not valid JSON "
                f"({response.headers.get('Content-Type', 'no content type')})",
                endpoint=template, status=200,
            ) from None
        if not isinstance(body, dict):
            raise SiteSageError(f"{where}: the answer is a JSON {type(body).__name__}, not an object",
                                endpoint=template, status=200)
        return body

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        """All pages of ``GET {base_url}{query}`` as one DataFrame."""
        if parameters is not None and not isinstance(parameters, Mapping):
            raise SiteSageError(
                f"sitesage {query}: parameters must be a mapping of name -> value", endpoint=query
            )
        path, query_string = render(query, parameters)
        values: Mapping[str, Any] = parameters or {}
        subject = ", ".join(f"{name}={values[name]!r}" for name in path_parameter_names(query))
        query_string.setdefault("page_size", str(self._settings.page_size))
        records: list[Any] = []
        seen: set[str] = set()
        token: str | None = None
        for page in range(1, self._settings.max_pages + 1):
            params = dict(query_string, **({"page_token": token} if token is not None else {}))
            body = self._get(query, path, params, page, subject)
            data = body.get("data")
            if "data" not in body or not isinstance(data, list):
                raise SiteSageError(
                    f"sitesage GET {query} (page {page}): field 'data' is "
                    f"{'missing' if 'data' not in body else 'not a list'}",
                    endpoint=query, status=200,
                )
            if not all(isinstance(record, dict) for record in data):
                raise SiteSageError(
                    f"sitesage GET {query} (page {page}): field 'data' holds non-object records",
                    endpoint=query, status=200,
                )
            if "next_page_token" not in body:
                raise SiteSageError(
                    f"sitesage GET {query} (page {page}): field 'next_page_token' is missing",
                    endpoint=query, status=200,
                )
            records.extend(data)
            token = body["next_page_token"]
            if token is None or token == "":
                return records_frame(query, records)
            if not isinstance(token, str):
                raise SiteSageError(
                    f"sitesage GET {query} (page {page}): field 'next_page_token' is a "
                    f"{type(token).__name__}, not a string or null",
                    endpoint=query, status=200,
                )
            if token in seen:
                raise SiteSageError(
                    f"sitesage GET {query} (page {page}): the server repeated a page token; "
                    "stopping instead of looping forever",
                    endpoint=query, status=200,
                )
            seen.add(token)
        raise SiteSageError(
            f"sitesage GET {query}: more than max_pages={self._settings.max_pages} pages; "
            "narrow the time range or raise max_pages",
            endpoint=query,
        )

    def list_controls(self, location_id: str) -> pd.DataFrame:
        """The controls (``id``, ``name``, ``equipment_type``) of a location."""
        return self.execute_query(CONTROLS_ENDPOINT, {"location_id": location_id})

    def validate_connection(self) -> bool:
        """A cheap authenticated round trip: the server's answer to an unknown location."""
        try:
            self._get(CONTROLS_ENDPOINT, "/v1/locations/-/controls", {"page_size": "1"}, 1)
        except SiteSageError as exc:
            if exc.status == 404:
                return True
            raise
        return True

    def get_metadata(self) -> dict[str, Any]:
        metadata = super().get_metadata()
        metadata.update(
            base_url=self._settings.base_url,
            timeout={"connect": self._settings.timeout[0], "read": self._settings.timeout[1]},
            page_size=self._settings.page_size,
        )
        return metadata


def _reason(exc: BaseException) -> str:
    """The innermost cause's type (never a URL, header or token)."""
    inner: BaseException = exc
    while True:
        nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        nested = nested or getattr(inner, "reason", None)
        if not isinstance(nested, BaseException) or nested is inner:
            break
        inner = nested
    name = type(inner).__name__
    if "Timeout" in name or "timed out" in str(inner).lower():
        return f"timed out ({name})"
    if "Refused" in name or "refused" in str(inner).lower():
        return f"connection refused ({name})"
    return name
