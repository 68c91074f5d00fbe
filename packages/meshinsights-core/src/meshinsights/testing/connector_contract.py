"""The contract every DBConnector plugin must pass, as a test class to subclass."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import attrs
import pandas as pd
import pytest

from meshinsights.connectors import DBConnector, PluginManager
from meshinsights.errors import ConnectorError
from meshinsights.redaction import is_secret_key

#: Values that must travel as data, never as query text.
INJECTION_PAYLOADS: tuple[str, ...] = (
    "' OR 1=1 --",
    '"; DROP TABLE power; --',
    "x' UNION SELECT 1 --",
    "| take 1000000",
    "../../etc/passwd",
    "%2e%2e/",
    "a\nb",
)


@attrs.frozen
class ConnectorCase:
    """One query of the connector's language over data the test prepared.

    ``parameters`` must select exactly ``expected_rows`` rows with at least
    ``expected_columns``; ``with_value(payload)`` must return the same
    parameters with the selecting value replaced by ``payload``.
    """

    query: str
    parameters: Any
    expected_rows: int
    expected_columns: Sequence[str]
    with_value: Callable[[str], Any]


class ConnectorContract:
    """Subclass in a connector package's tests; provide the fixtures below.

    - ``connector_config``: a dict the connector accepts (secrets included if it has any);
    - ``other_connector_config``: a config differing only in tenant or credentials;
    - ``connector_case``: a :class:`ConnectorCase`.
    """

    connector_name: ClassVar[str] = ""

    @pytest.fixture
    def connector(self, connector_config: dict[str, Any]) -> Iterator[DBConnector]:
        connector = PluginManager.get_plugin(self.connector_name, **connector_config)
        try:
            yield connector
        finally:
            PluginManager.cleanup()

    def test_is_a_registered_db_connector(self, connector: DBConnector) -> None:
        assert isinstance(connector, DBConnector)
        assert self.connector_name in PluginManager.list_plugins()

    def test_returns_dataframe_honouring_parameters(
        self, connector: DBConnector, connector_case: ConnectorCase
    ) -> None:
        connector.connect()
        frame = connector.execute_query(connector_case.query, connector_case.parameters)
        assert isinstance(frame, pd.DataFrame)
        assert len(frame) == connector_case.expected_rows
        assert set(connector_case.expected_columns) <= set(frame.columns)

    @pytest.mark.parametrize("payload", INJECTION_PAYLOADS)
    def test_injection_payload_is_only_data(
        self, connector: DBConnector, connector_case: ConnectorCase, payload: str
    ) -> None:
        """A payload selects nothing, or is refused with a clear ConnectorError (REST paths)."""
        connector.connect()
        try:
            frame = connector.execute_query(connector_case.query, connector_case.with_value(payload))
        except ConnectorError as refused:
            assert str(refused), "a refusal must say why"  # noqa: PT017
            return
        assert isinstance(frame, pd.DataFrame)
        assert len(frame) == 0, f"payload {payload!r} selected rows"

    def test_does_not_mutate_parameters(
        self, connector: DBConnector, connector_case: ConnectorCase
    ) -> None:
        parameters = copy.deepcopy(connector_case.parameters)
        connector.connect()
        connector.execute_query(connector_case.query, parameters)
        assert parameters == connector_case.parameters

    def test_pooled_by_config(
        self, connector_config: dict[str, Any], other_connector_config: dict[str, Any]
    ) -> None:
        try:
            first = PluginManager.get_plugin(self.connector_name, **connector_config)
            again = PluginManager.get_plugin(self.connector_name, **dict(connector_config))
            other = PluginManager.get_plugin(self.connector_name, **other_connector_config)
            assert first is again
            assert other is not first
        finally:
            PluginManager.cleanup()

    def test_no_secret_in_repr_metadata_or_pool_key(
        self, connector: DBConnector, connector_config: dict[str, Any]
    ) -> None:
        secrets = [
            str(v) for k, v in connector_config.items()
            if is_secret_key(k) and isinstance(v, str) and len(v) >= 4
        ]
        shown = " ".join(
            [repr(connector), str(connector.get_metadata()),
             str(PluginManager.pool_key(self.connector_name, **connector_config))]
        )
        for secret in secrets:
            assert secret not in shown

    def test_context_manager_and_validate_connection(self, connector: DBConnector) -> None:
        with connector as entered:
            assert entered is connector
        assert connector.validate_connection() is True
