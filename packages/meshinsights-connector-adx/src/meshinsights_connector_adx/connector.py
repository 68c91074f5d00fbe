"""ADXConnector: KQL with Kusto query parameters, typed DataFrames, retries of transient errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from meshinsights.connectors import DBConnector, QueryParameters
from meshinsights_connector_adx.errors import ADXQueryError
from meshinsights_connector_adx.failures import describe, scrub
from meshinsights_connector_adx.frames import frame_from_table
from meshinsights_connector_adx.parameters import (
    KustoParameter,
    encode_parameters,
    with_declaration,
)
from meshinsights_connector_adx.pool import ADXConnectionManager
from meshinsights_connector_adx.retry import call_with_retries
from meshinsights_connector_adx.settings import ADXSettings, parse_settings

if TYPE_CHECKING:
    from azure.kusto.data import ClientRequestProperties, KustoClient
    from azure.kusto.data.response import KustoResponseDataSet

logger = logging.getLogger(__name__)


class ADXConnector(DBConnector):
    """Azure Data Explorer through azure-kusto-data.

    Config keys: ``cluster``, ``database``, ``auth`` (``app_key``,
    ``managed_identity``, ``az_cli``, ``default``, ``none``), ``tenant_id``,
    ``client_id``, ``client_secret``, ``credential`` (a TokenCredential for
    ``default``), ``server_timeout`` (seconds), and the retry caps
    ``retry_attempts``, ``retry_initial_wait``, ``retry_max_wait``,
    ``retry_max_seconds``. The KustoClient is shared through
    :class:`ADXConnectionManager`, keyed by the whole config.
    """

    plugin_name = "adx"

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._settings: ADXSettings = parse_settings(config)
        self._client: KustoClient | None = None

    @property
    def settings(self) -> ADXSettings:
        return self._settings

    def _pooled_client(self) -> KustoClient:
        client = ADXConnectionManager.get_client(self._settings, self._config)
        self._client = client
        return client

    def connect(self) -> tuple[Any, Any]:
        return self._pooled_client(), self._settings.database

    def disconnect(self) -> None:
        self._client = None

    def close(self) -> None:
        self._client = None
        ADXConnectionManager.release(self._config)

    def _properties(self, parameters: list[KustoParameter]) -> ClientRequestProperties:
        from azure.kusto.data import ClientRequestProperties

        properties = ClientRequestProperties()  # type: ignore[no-untyped-call]
        if self._settings.server_timeout is not None:
            properties.set_option(
                ClientRequestProperties.request_timeout_option_name, self._settings.server_timeout
            )
        for parameter in parameters:
            properties.set_parameter(parameter.name, parameter.value)
        return properties

    def _hidden(self, parameters: list[KustoParameter]) -> list[str]:
        hidden = [p.value for p in parameters]
        if self._settings.client_secret:
            hidden.append(self._settings.client_secret)
        return hidden

    def _run(
        self, what: str, text: str, parameters: list[KustoParameter], mgmt: bool = False
    ) -> KustoResponseDataSet:
        database = self._settings.database
        attempts = [0]

        def attempt() -> KustoResponseDataSet:
            attempts[0] += 1
            client = self._pooled_client()
            properties = self._properties(parameters)
            if mgmt:
                return client.execute_mgmt(database, text, properties)
            return client.execute_query(database, text, properties)

        try:
            return call_with_retries(self._settings, what, attempt, self._hidden(parameters))
        except Exception as exc:
            from azure.kusto.data.exceptions import KustoError

            if not isinstance(exc, KustoError):
                raise
            raise self._error(what, exc, parameters, attempts[0]) from None

    def _error(
        self, what: str, exc: Exception, parameters: list[KustoParameter], attempts: int
    ) -> ADXQueryError:
        failure = describe(exc)
        status = f"HTTP {failure.http_status}, " if failure.http_status is not None else ""
        kind = (
            f"gave up after {attempts} attempts" if failure.transient
            else f"failed (attempt {attempts})"
        )
        message = scrub(failure.message, self._hidden(parameters))
        return ADXQueryError(
            f"adx {what} on {self._settings.cluster} database {self._settings.database!r} {kind}: "
            f"Kusto error {failure.code} ({status}"
            f"{'permanent' if not failure.transient else 'transient'}): {message}",
            code=failure.code,
            http_status=failure.http_status,
            permanent=not failure.transient,
            attempts=attempts,
        )

    def execute_query(self, query: str, parameters: QueryParameters = None) -> pd.DataFrame:
        """Run a KQL query; ``parameters`` ({name: value}) are declared and sent as Kusto parameters."""
        encoded = encode_parameters(parameters)
        text = with_declaration(query, encoded)
        logger.debug(
            "adx query on %s/%s with parameters %s",
            self._settings.cluster, self._settings.database,
            ", ".join(f"{p.name}:{p.kql_type}" for p in encoded) or "none",
        )
        response = self._run("query", text, encoded)
        primary = response.primary_results
        if not primary:
            raise ADXQueryError(
                f"adx query on {self._settings.cluster} database {self._settings.database!r}: "
                "the answer had no primary result table",
                code="NoPrimaryResult",
            )
        return frame_from_table(primary[0])

    def execute_command(self, command: str) -> pd.DataFrame:
        """Run a management command (``.show ...``); commands take no parameters."""
        response = self._run("command", command, [], mgmt=True)
        return frame_from_table(response.primary_results[0])

    def validate_connection(self) -> bool:
        """One round trip (``.show version``); raises :class:`ADXQueryError` when unreachable."""
        self.execute_command(".show version")
        return True

    def get_metadata(self) -> dict[str, Any]:
        metadata = super().get_metadata()
        metadata.update(
            cluster=self._settings.cluster,
            database=self._settings.database,
            auth=self._settings.auth,
            server_timeout=(
                self._settings.server_timeout.total_seconds()
                if self._settings.server_timeout is not None else None
            ),
        )
        return metadata
