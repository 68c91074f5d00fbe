"""ADXConnectionManager: one KustoClient per distinct config, shared across threads.

Clients are keyed by a keyed BLAKE2b digest of the whole config (cluster,
database, auth mode, tenant, client id, secret ...): two tenants, or two
credentials for one tenant, never share a client, and the key reveals
nothing of the secrets that went into it (the key is random per process,
so even a short secret cannot be guessed from a key).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from meshinsights.redaction import config_hash
from meshinsights_connector_adx.auth import build_kcsb
from meshinsights_connector_adx.settings import ADXSettings

if TYPE_CHECKING:
    from azure.kusto.data import KustoClient

logger = logging.getLogger(__name__)

_PROCESS_KEY = secrets.token_bytes(32)


class ADXConnectionManager:
    """Process-wide pool of KustoClients (each holds a pooled requests Session)."""

    _clients: ClassVar[dict[str, KustoClient]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @staticmethod
    def pool_key(config: Mapping[str, Any]) -> str:
        """The non-reversible key of ``config`` (equal configs, equal keys, in this process)."""
        digest = hashlib.blake2b(
            config_hash(config).encode(), key=_PROCESS_KEY, digest_size=16,
            person=b"mi.adx.pool",
        )
        return digest.hexdigest()

    @classmethod
    def get_client(cls, settings: ADXSettings, config: Mapping[str, Any]) -> KustoClient:
        """The pooled client for ``config``, created on first use."""
        key = cls.pool_key(config)
        client = cls._clients.get(key)
        if client is not None and not client._is_closed:
            return client
        with cls._lock:
            client = cls._clients.get(key)
            if client is None or client._is_closed:
                from azure.kusto.data import KustoClient

                client = KustoClient(build_kcsb(settings))
                cls._clients[key] = client
                logger.debug(
                    "adx client created for cluster %s (auth %s, pool key %s)",
                    settings.cluster, settings.auth, key[:12],
                )
        return client

    @classmethod
    def release(cls, config: Mapping[str, Any]) -> bool:
        """Close and forget the client of ``config``; False when there was none."""
        with cls._lock:
            client = cls._clients.pop(cls.pool_key(config), None)
        if client is None:
            return False
        client.close()  # type: ignore[no-untyped-call]
        return True

    @classmethod
    def keys(cls) -> list[str]:
        with cls._lock:
            return list(cls._clients)

    @classmethod
    def close_all(cls) -> None:
        """Close every pooled client (best effort)."""
        with cls._lock:
            clients = list(cls._clients.values())
            cls._clients.clear()
        for client in clients:
            try:
                client.close()  # type: ignore[no-untyped-call]
            except Exception as exc:  # noqa: BLE001 - closing must reach every client
                logger.warning("closing an adx client failed: %s", type(exc).__name__)
