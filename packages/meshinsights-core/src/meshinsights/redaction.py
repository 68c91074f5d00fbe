"""Keep secrets out of logs, reprs, metadata, pool keys and errors."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

REDACTED = "***"

#: Config keys whose values are secrets wherever they appear.
SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd|phrase)?$|pwd|secret|token|api_?key|access_?key|private_?key|credential"
    r"|connection_?string|^auth_header$|^sas$",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_PATTERN.search(key))


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` safe to show: secrets masked, objects named by type."""
    safe: dict[str, Any] = {}
    for key, value in config.items():
        if is_secret_key(str(key)):
            safe[key] = REDACTED if value not in (None, "") else value
        elif isinstance(value, Mapping):
            safe[key] = redact(value)
        elif isinstance(value, (str, int, float, bool, type(None))):
            safe[key] = value
        elif isinstance(value, (date, datetime, time, timedelta)):
            safe[key] = str(value)
        elif isinstance(value, (list, tuple)) and all(
            isinstance(v, (str, int, float, bool, type(None))) for v in value
        ):
            safe[key] = list(value)
        else:
            safe[key] = f"<{type(value).__name__}>"
    return safe


def _stable_default(value: Any) -> Any:
    if isinstance(value, (date, datetime, time, timedelta)):
        return f"{type(value).__name__}:{value.isoformat() if hasattr(value, 'isoformat') else value}"
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    # Objects without a value form (DataFrames, credentials) pool by identity.
    return f"<{type(value).__module__}.{type(value).__qualname__}@{id(value):x}>"


#: Secret key of this process's config hashes: without it a digest cannot be
#: brute-forced back to a short password. Pools live in one process, so digests
#: need only be stable within it.
_HASH_KEY = secrets.token_bytes(32)


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable (within the process), non-reversible digest of a connector config.

    Equal configs give equal digests; the digest is BLAKE2b keyed with a random
    per-process key, so it reveals nothing of the secrets that went into it.
    """
    canonical = json.dumps(config, sort_keys=True, default=_stable_default, separators=(",", ":"))
    digest = hashlib.blake2b(
        canonical.encode(), digest_size=16, key=_HASH_KEY, person=b"meshinsights.pk"
    )
    return digest.hexdigest()
