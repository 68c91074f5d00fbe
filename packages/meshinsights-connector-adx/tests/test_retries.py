"""Transient failures retried with backoff and caps; permanent ones raised at once."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from meshinsights import retries
from meshinsights_connector_adx import ADXConnector, ADXQueryError
from meshinsights_connector_adx.testing import KustoTestServer

QUERY = "Power | where device_id == d | count"


def _count(connector: ADXConnector) -> int:
    return int(connector.execute_query(QUERY, {"d": "d1"})["Count"][0])


@pytest.mark.parametrize("fault", ["throttle", "unavailable", "server_error", "disconnect"])
def test_transient_failures_are_retried(
    kusto: KustoTestServer, config: dict[str, Any], fault: str
) -> None:
    kusto.inject(fault, times=2)
    assert _count(ADXConnector(**config)) == 20
    queries = kusto.queries
    assert [q.fault for q in queries] == [fault, fault, None]
    assert [q.status for q in queries][-1] == 200
    # every attempt carried the same text and parameters
    assert len({(q.query, tuple(q.parameters.items())) for q in queries}) == 1


def test_retries_stop_at_the_attempt_cap(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    kusto.inject("unavailable", times=10)
    with pytest.raises(ADXQueryError) as caught:
        _count(ADXConnector(**config))
    error = caught.value
    assert len(kusto.queries) == 4
    assert error.code == "ServiceUnavailable" and error.http_status == 503
    assert not error.permanent and error.attempts == 4
    assert "gave up after 4 attempts" in str(error)
    assert "Kusto error ServiceUnavailable" in str(error)


def test_retries_stop_at_the_time_cap(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    kusto.inject("throttle", times=100)
    connector = ADXConnector(
        **{**config, "retry_attempts": 100, "retry_initial_wait": 0.2, "retry_max_wait": 0.2,
           "retry_max_seconds": 0.5}
    )
    with pytest.raises(ADXQueryError) as caught:
        _count(connector)
    assert caught.value.code == "TooManyRequests"
    assert 2 <= len(kusto.queries) <= 4


def test_retry_after_is_honoured_within_the_cap(
    kusto: KustoTestServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    kusto.inject("throttle", times=1, retry_after=30)
    caplog.set_level(logging.WARNING, logger="meshinsights_connector_adx")
    assert _count(ADXConnector(**{**config, "retry_max_wait": 0.3})) == 20
    waits = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(waits) == 1
    assert "retrying in 0.30 s" in waits[0].getMessage()  # 30 s asked, capped at 0.3 s


def test_semantic_error_is_permanent_and_not_retried(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    with pytest.raises(ADXQueryError) as caught:
        ADXConnector(**config).execute_query("Power | where nosuchcolumn == d", {"d": "d1"})
    error = caught.value
    assert len(kusto.queries) == 1
    assert error.permanent and error.http_status == 400 and error.code == "General_BadRequest"
    assert "Semantic error" in str(error) and "nosuchcolumn" in str(error)


def test_permanent_5xx_is_not_retried(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    kusto.inject("error", times=1, status=500, code="Internal_Permanent", permanent=True,
                 message="broken for good")
    with pytest.raises(ADXQueryError, match="Internal_Permanent"):
        _count(ADXConnector(**config))
    assert len(kusto.queries) == 1


def test_error_text_hides_parameter_values_echoed_by_the_server(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    kusto.inject("error", times=1, status=400, code="BadRequest_ParameterValue",
                 message="cannot parse 'device-secret-42' for parameter d")
    with pytest.raises(ADXQueryError) as caught:
        ADXConnector(**config).execute_query(QUERY, {"d": "device-secret-42"})
    assert "device-secret-42" not in str(caught.value)
    assert "BadRequest_ParameterValue" in str(caught.value)


def test_unknown_database_is_a_clear_permanent_error(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    with pytest.raises(ADXQueryError, match="Database") as caught:
        _count(ADXConnector(**{**config, "database": "nope"}))
    assert "'nope'" in str(caught.value) and caught.value.permanent
    assert kusto.queries[-1].database == "nope"


def test_slow_answer_within_server_timeout_succeeds(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    kusto.inject("slow", times=1, delay=0.3)
    assert _count(ADXConnector(**{**config, "server_timeout": 5})) == 20
    assert kusto.queries[-1].fault == "slow"


def test_slow_answer_past_server_timeout_is_retried_then_reported(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    kusto.inject("slow", times=10, delay=5)
    connector = ADXConnector(**{**config, "server_timeout": 0.2, "retry_attempts": 2})
    with pytest.raises(ADXQueryError) as caught:
        _count(connector)
    assert caught.value.http_status == 504 and not caught.value.permanent
    assert [q.options["servertimeout"] for q in kusto.queries] == ["0:00:00.200000"] * 2


def test_refused_connection_is_a_network_error(config: dict[str, Any]) -> None:
    with KustoTestServer(database="telemetry") as server:
        url = server.url
    with pytest.raises(ADXQueryError) as caught:
        _count(ADXConnector(**{**config, "cluster": url, "retry_attempts": 2}))
    assert caught.value.code == "NetworkError" and caught.value.attempts == 2


def test_faults_at_a_rate_are_absorbed(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    kusto.inject("throttle", rate=0.3)
    connector = ADXConnector(**{**config, "retry_attempts": 10})
    assert [_count(connector) for _ in range(10)] == [20] * 10
    faults = [q.fault for q in kusto.queries]
    assert faults.count("throttle") >= 1
    assert faults.count(None) == 10


# -- retries counted for the run's manifest (meshinsights.retries) ---------------------------


def _by_status(reasons: Mapping[str, int]) -> Counter[str]:
    """Counted reasons by their HTTP status (``HTTP 503 ServiceUnavailable`` -> ``503``)."""
    counts: Counter[str] = Counter()
    for reason, n in reasons.items():
        counts[reason.split()[1] if reason.startswith("HTTP ") else reason] += n
    return counts


def test_each_retry_is_counted_with_its_cause_and_the_bounds(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    for fault in ("throttle", "unavailable", "server_error", "disconnect"):
        kusto.inject(fault, times=1)
    connector = ADXConnector(**{**config, "retry_attempts": 6})
    before = retries.snapshot()
    assert _count(connector) == 20
    assert _count(connector) == 20  # a second call, not retried
    adx = retries.snapshot().since(before)["adx"]
    queries = kusto.queries
    failed = [q for q in queries if q.status != 200]
    assert len(failed) == 4 and len(queries) == 6
    assert adx.calls == 2
    assert adx.retries == len(failed) and adx.calls_retried == 1 and adx.gave_up == 0
    assert adx.calls_by_attempts == {len(failed) + 1: 1} and adx.longest_attempts == len(failed) + 1
    assert _by_status(adx.reasons) == Counter(
        "NetworkError" if q.status == 0 else str(q.status) for q in failed)
    assert adx.bounds == retries.RetryBounds(max_attempts=6, max_seconds=20,
                                             max_wait_seconds=5 * 0.05)
    assert 0 < adx.wait_seconds <= adx.bounds.max_wait_seconds


def test_retry_after_is_the_wait_counted(kusto: KustoTestServer, config: dict[str, Any]) -> None:
    kusto.inject("throttle", times=1, retry_after=30)
    before = retries.snapshot()
    assert _count(ADXConnector(**{**config, "retry_max_wait": 0.3})) == 20
    adx = retries.snapshot().since(before)["adx"]
    assert adx.retries == 1 and adx.wait_seconds == pytest.approx(0.3)  # 30 s asked, capped


def test_giving_up_at_the_attempt_cap_is_counted(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    kusto.inject("unavailable", times=10)
    before = retries.snapshot()
    with pytest.raises(ADXQueryError):
        _count(ADXConnector(**config))
    adx = retries.snapshot().since(before)["adx"]
    assert adx.bounds is not None
    assert adx.gave_up == 1 and adx.longest_attempts == len(kusto.queries)
    assert adx.longest_attempts == adx.bounds.max_attempts == config["retry_attempts"]
    assert adx.retries == len(kusto.queries) - 1


def test_giving_up_at_the_time_cap_is_counted(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    kusto.inject("throttle", times=100)
    connector = ADXConnector(
        **{**config, "retry_attempts": 100, "retry_initial_wait": 0.2, "retry_max_wait": 0.2,
           "retry_max_seconds": 0.5}
    )
    before = retries.snapshot()
    with pytest.raises(ADXQueryError):
        _count(connector)
    adx = retries.snapshot().since(before)["adx"]
    assert adx.gave_up == 1 and adx.longest_attempts == len(kusto.queries) < 100
    assert adx.bounds is not None and adx.bounds.max_seconds == 0.5
    assert adx.wait_seconds < 0.5  # no sleep past the time cap


def test_permanent_errors_are_neither_retries_nor_give_ups(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    before = retries.snapshot()
    with pytest.raises(ADXQueryError):
        ADXConnector(**config).execute_query("Power | where nosuchcolumn == d", {"d": "d1"})
    adx = retries.snapshot().since(before)["adx"]
    assert (adx.calls, adx.retries, adx.gave_up) == (1, 0, 0) and not adx.active


def test_counted_reasons_never_hold_parameter_values_or_secrets(
    kusto: KustoTestServer, config: dict[str, Any]
) -> None:
    secret = "device-secret-42"
    kusto.inject("error", times=1, status=503, code=secret, permanent=False,
                 message=f"cannot read {secret}")
    before = retries.snapshot()
    assert int(ADXConnector(**config).execute_query(QUERY, {"d": secret})["Count"][0]) == 0
    adx = retries.snapshot().since(before)["adx"]
    assert adx.retries == 1 and dict(adx.reasons) == {"other": 1}
    assert secret not in repr(adx) and secret not in json.dumps(adx.to_dict())
