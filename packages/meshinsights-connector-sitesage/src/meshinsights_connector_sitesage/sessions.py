"""SiteSageSessions: one pooled ``requests.Session`` per distinct config.

Keyed by a process-keyed BLAKE2b digest of the whole config (token
included), so two tokens never share a session and a key reveals nothing.
Each session retries GETs through urllib3: 429 (honouring Retry-After up
to a cap) and 500/502/503/504, connect and read failures, with jittered
exponential backoff, each retry counted (:class:`CountedRetry`).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import secrets
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from meshinsights import retries
from meshinsights.redaction import config_hash
from meshinsights_connector_sitesage.retry import CountedRetry
from meshinsights_connector_sitesage.settings import SiteSageSettings

logger = logging.getLogger(__name__)

_PROCESS_KEY = secrets.token_bytes(32)
RETRY_STATUSES = (429, 500, 502, 503, 504)


#: urllib3 2.x before ``retry_after_max`` honours any Retry-After, uncapped.
RETRY_AFTER_CAPPED = "retry_after_max" in inspect.signature(Retry.__init__).parameters


def _backoff_max(settings: SiteSageSettings) -> float:
    return max(settings.retry_after_max, settings.backoff_factor)


def retry_bounds(settings: SiteSageSettings) -> retries.RetryBounds:
    """What one request may spend on retries, for the run's manifest.

    Each attempt is bounded by the ``(connect, read)`` timeout, each wait by
    ``backoff_max``, and no retry starts past ``retry_max_seconds``.
    """
    return retries.RetryBounds(
        max_attempts=settings.retries + 1,
        max_seconds=settings.retry_max_seconds,
        max_wait_seconds=settings.retries * _backoff_max(settings) if RETRY_AFTER_CAPPED else None,
    )


def make_retry(settings: SiteSageSettings) -> CountedRetry:
    """The urllib3 retry policy of a session; it counts its retries (see :mod:`.retry`)."""
    options: dict[str, Any] = {
        "total": settings.retries,
        "connect": settings.retries,
        "read": settings.retries,
        "status": settings.retries,
        "other": 0,
        "allowed_methods": frozenset({"GET"}),
        "status_forcelist": RETRY_STATUSES,
        "backoff_factor": settings.backoff_factor,
        "backoff_jitter": settings.backoff_factor,
        "backoff_max": _backoff_max(settings),
        "respect_retry_after_header": True,
        "raise_on_status": False,
        "raise_on_redirect": True,
        "redirect": 0,
    }
    if RETRY_AFTER_CAPPED:
        options["retry_after_max"] = int(max(settings.retry_after_max, 0))
    retry = CountedRetry(**options)
    retry.max_seconds = settings.retry_max_seconds
    return retry


def make_session(settings: SiteSageSettings) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_connections=1, pool_maxsize=settings.pool_maxsize, max_retries=make_retry(settings)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": "meshinsights-sitesage"})
    session.trust_env = False  # a proxy or netrc must not receive the bearer token
    return session


class SiteSageSessions:
    """Process-wide pool of sessions (requests' connection pools) per config."""

    _sessions: ClassVar[dict[str, requests.Session]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @staticmethod
    def pool_key(config: Mapping[str, Any]) -> str:
        digest = hashlib.blake2b(
            config_hash(config).encode(), key=_PROCESS_KEY, digest_size=16, person=b"mi.sitesage"
        )
        return digest.hexdigest()

    @classmethod
    def get(cls, settings: SiteSageSettings, config: Mapping[str, Any]) -> requests.Session:
        key = cls.pool_key(config)
        session = cls._sessions.get(key)
        if session is not None:
            return session
        with cls._lock:
            session = cls._sessions.get(key)
            if session is None:
                session = make_session(settings)
                cls._sessions[key] = session
                logger.debug("sitesage session created for %s (pool key %s)",
                             settings.base_url, key[:12])
        return session

    @classmethod
    def release(cls, config: Mapping[str, Any]) -> bool:
        with cls._lock:
            session = cls._sessions.pop(cls.pool_key(config), None)
        if session is None:
            return False
        session.close()
        return True

    @classmethod
    def keys(cls) -> list[str]:
        with cls._lock:
            return list(cls._sessions)

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            sessions = list(cls._sessions.values())
            cls._sessions.clear()
        for session in sessions:
            session.close()
