"""Retries (429 with Retry-After, 5xx), timeouts, malformed answers, runaway pagination, 401."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pandas as pd
import pytest

from meshinsights import retries
from meshinsights_connector_sitesage import POWER_ENDPOINT, SiteSageConnector, SiteSageError
from meshinsights_connector_sitesage.retry import CountedRetry
from meshinsights_connector_sitesage.sessions import make_retry
from meshinsights_connector_sitesage.settings import parse_settings
from meshinsights_connector_sitesage.testing import SiteSageTestServer

from .conftest import T0, TOKEN

PARAMS = {"location_id": "L1", "control_id": "c1", "start": T0,
          "end": T0 + pd.Timedelta(hours=1)}


def _fetch(config: dict[str, Any]) -> pd.DataFrame:
    return SiteSageConnector(**config).execute_query(POWER_ENDPOINT, PARAMS)


def test_429_is_retried_after_retry_after(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("throttle", times=1, retry_after=1)
    started = time.perf_counter()
    assert len(_fetch({**config, "retry_after_max": 5})) == 45
    elapsed = time.perf_counter() - started
    assert [r.status for r in sitesage.requests][:2] == [429, 200]
    assert elapsed >= 1.0  # waited as told, not the 0.01 s backoff


def test_retry_after_is_capped(sitesage: SiteSageTestServer, config: dict[str, Any]) -> None:
    sitesage.inject("throttle", times=1, retry_after=3600)
    started = time.perf_counter()
    assert len(_fetch({**config, "retry_after_max": 0.2})) == 45
    assert time.perf_counter() - started < 60
    assert [r.status for r in sitesage.requests][:2] == [429, 200]


def test_503_then_success(sitesage: SiteSageTestServer, config: dict[str, Any]) -> None:
    sitesage.inject("unavailable", times=2)
    assert len(_fetch(config)) == 45
    assert [r.status for r in sitesage.requests][:3] == [503, 503, 200]


def test_persistent_5xx_gives_up_with_a_clear_error(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("server_error", times=100)
    with pytest.raises(SiteSageError) as caught:
        _fetch(config)
    assert len(sitesage.requests) == 4  # first try and 3 retries
    assert "HTTP 500" in str(caught.value) and POWER_ENDPOINT in str(caught.value)


def test_persistent_429_gives_up(sitesage: SiteSageTestServer, config: dict[str, Any]) -> None:
    sitesage.inject("throttle", times=100, retry_after=0)
    with pytest.raises(SiteSageError, match="throttled"):
        _fetch(config)
    assert len(sitesage.requests) == 4


@pytest.mark.parametrize("fault", ["unavailable", "disconnect"])
def test_retrying_stops_at_the_time_cap_before_the_attempts_run_out(
    sitesage: SiteSageTestServer, config: dict[str, Any], fault: str
) -> None:
    """``retry_max_seconds`` bounds a request in time whatever ``retries`` allows."""
    sitesage.inject(fault, times=1000)
    before = retries.snapshot()
    started = time.perf_counter()
    with pytest.raises(SiteSageError):
        _fetch({**config, "retries": 1000, "backoff_factor": 0.1, "retry_max_seconds": 0.5})
    elapsed = time.perf_counter() - started
    counted = retries.snapshot().since(before)["sitesage"]
    assert counted.gave_up == 1
    assert 2 <= len(sitesage.requests) < 1000
    assert counted.retries == len(sitesage.requests) - 1
    assert counted.bounds is not None and counted.bounds.max_seconds == 0.5
    assert elapsed < 0.5 + 5.0  # the cap (no wait past it) and slack for a loaded machine


def test_timeout_is_retried_then_reported(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("slow", times=100, delay=1.0)
    with pytest.raises(SiteSageError) as caught:
        _fetch({**config, "timeout": [1, 0.2], "retries": 1})
    message = str(caught.value)
    assert "timed out" in message and "read 0.2 s" in message and "after 1 retries" in message


def test_slow_answer_within_timeout_succeeds(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("slow", times=1, delay=0.2)
    assert len(_fetch({**config, "timeout": [1, 2]})) == 45


def test_dropped_connection_is_retried(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("disconnect", times=1)
    assert len(_fetch(config)) == 45
    assert sitesage.requests[0].fault == "disconnect"


def test_malformed_json_names_the_endpoint(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("malformed", times=1)
    with pytest.raises(SiteSageError, match="not valid JSON") as caught:
        _fetch(config)
    assert POWER_ENDPOINT in str(caught.value) and "page 1" in str(caught.value)


@pytest.mark.parametrize("field", ["power_w", "timestamp", "stage"])
def test_missing_field_names_the_field(
    sitesage: SiteSageTestServer, config: dict[str, Any], field: str
) -> None:
    sitesage.inject("missing_field", times=1, field=field)
    with pytest.raises(SiteSageError) as caught:
        _fetch(config)
    assert f"'{field}'" in str(caught.value) and POWER_ENDPOINT in str(caught.value)


def test_repeated_page_token_stops_the_loop(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("repeat_token", times=100)
    with pytest.raises(SiteSageError, match="repeated a page token"):
        _fetch(config)
    # page 1 points at "o0", page "o0" points at "o0" again: caught on the second request
    assert [r.query.get("page_token") for r in sitesage.requests] == [None, "o0"]


def test_page_cap_stops_endless_pagination(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    with pytest.raises(SiteSageError, match="max_pages=2"):
        _fetch({**config, "max_pages": 2})
    assert len(sitesage.requests) == 2


def test_401_is_clear_and_never_echoes_the_token(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    wrong = "wrong-token-77c"
    with pytest.raises(SiteSageError) as caught:
        _fetch({**config, "token": wrong})
    message = str(caught.value)
    assert "401" in message and "token" in message and "environment variable" in message
    assert wrong not in message and TOKEN not in message
    assert caught.value.status == 401
    assert len(sitesage.requests) == 1  # 401 is not retried


def test_faults_at_a_rate_are_absorbed(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("unavailable", rate=0.3)
    connector = SiteSageConnector(**{**config, "retries": 8})
    assert [len(connector.execute_query(POWER_ENDPOINT, PARAMS)) for _ in range(5)] == [45] * 5
    statuses = [r.status for r in sitesage.requests]
    assert statuses.count(503) >= 1 and statuses.count(200) == 15


# -- retries counted for the run's manifest (meshinsights.retries) ---------------------------


def _reason_of(request: Any) -> str:
    """What the connector should count for a failed request the server recorded."""
    return "ProtocolError" if request.status == 0 else f"HTTP {request.status}"


def test_each_retry_is_counted_with_its_cause_wait_and_bounds(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("throttle", times=1, retry_after=1)
    sitesage.inject("unavailable", times=2)
    sitesage.inject("disconnect", times=1)
    settings = {**config, "retries": 5, "retry_after_max": 5}
    before = retries.snapshot()
    started = time.perf_counter()
    assert len(_fetch(settings)) == 45
    elapsed = time.perf_counter() - started
    counted = retries.snapshot().since(before)["sitesage"]
    requests = sitesage.requests
    failed = [r for r in requests if r.status != 200]
    pages = {r.query.get("page_token") for r in requests}
    assert len(failed) == 4 and len(pages) == 3  # 45 rows in pages of 20
    assert counted.calls == len(pages)
    assert counted.retries == len(failed) and counted.gave_up == 0
    assert dict(counted.reasons) == dict(Counter(_reason_of(r) for r in failed))
    tries = Counter(r.query.get("page_token") for r in requests)
    assert counted.calls_by_attempts == dict(Counter(n for n in tries.values() if n > 1))
    assert counted.bounds == retries.RetryBounds(max_attempts=6, max_seconds=60.0,
                                                    max_wait_seconds=5 * 5.0)
    # The first request's four failures in a row: the 429's Retry-After (1 s), then urllib3's
    # backoff 0.01 x 2^(n-1) for the n-th consecutive failure, plus a jitter below 0.01 s.
    assert [r.fault for r in requests[:5]] == ["throttle", "unavailable", "unavailable",
                                              "disconnect", None]
    backoffs = 1.0 + sum(0.01 * 2 ** (n - 1) for n in (2, 3, 4))
    assert backoffs <= counted.wait_seconds <= backoffs + 3 * 0.01
    assert elapsed >= counted.wait_seconds  # what was counted was slept


def test_giving_up_is_counted_at_the_attempt_cap(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("server_error", times=100)
    before = retries.snapshot()
    with pytest.raises(SiteSageError, match="HTTP 500"):
        _fetch(config)
    counted = retries.snapshot().since(before)["sitesage"]
    assert counted.bounds is not None
    assert (counted.calls, counted.retries, counted.gave_up) == (1, 3, 1)
    assert counted.longest_attempts == len(sitesage.requests) == counted.bounds.max_attempts == 4
    assert dict(counted.reasons) == {"HTTP 500": 3}


def test_timeouts_are_counted_by_their_error_type(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("slow", times=100, delay=1.0)
    before = retries.snapshot()
    with pytest.raises(SiteSageError, match="timed out"):
        _fetch({**config, "timeout": [1, 0.2], "retries": 1})
    counted = retries.snapshot().since(before)["sitesage"]
    assert (counted.retries, counted.gave_up, counted.longest_attempts) == (1, 1, 2)
    assert dict(counted.reasons) == {"ReadTimeoutError": 1}


def test_not_found_is_neither_a_retry_nor_a_give_up(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    before = retries.snapshot()
    with pytest.raises(SiteSageError, match="404"):
        SiteSageConnector(**config).execute_query(POWER_ENDPOINT, {**PARAMS, "location_id": "nope"})
    counted = retries.snapshot().since(before)["sitesage"]
    assert counted.calls == 1 and not counted.active


def test_urllib3_copies_stay_counted(config: dict[str, Any]) -> None:
    policy = make_retry(parse_settings(config))
    assert isinstance(policy, CountedRetry) and policy.connector == "sitesage"
    copy = policy.new(total=1)
    assert type(copy) is CountedRetry and copy.connector == "sitesage"
    assert copy.total == 1 and copy.status_forcelist == policy.status_forcelist
    adapter = SiteSageConnector(**config).connect()[0].get_adapter("https://x")
    assert isinstance(adapter.max_retries, CountedRetry)


def test_the_token_is_never_counted_or_shown(
    sitesage: SiteSageTestServer, config: dict[str, Any]
) -> None:
    sitesage.inject("unavailable", times=1)
    before = retries.snapshot()
    assert len(_fetch(config)) == 45
    counted = retries.snapshot().since(before)["sitesage"]
    assert counted.retries == 1
    shown = repr(counted) + json.dumps(counted.to_dict())
    assert TOKEN not in shown and sitesage.url not in shown
