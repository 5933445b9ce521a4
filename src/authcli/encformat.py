"""The encrypted record's envelope (stores/encrypted.py), in a module light enough for shortcut.py's path."""

from __future__ import annotations

import json
from collections.abc import Mapping

FORMAT = "encrypted-record"
VERSION = 1


def associated_data(profile: str, origin: str, source: str, wrapped: str | None) -> bytes:
    """What AES-GCM authenticates beside the record: the profile, the API origin, the key source
    and (passphrase) the wrapped key, so a record moved elsewhere or a header edited does not decrypt."""
    return json.dumps({"profile": profile, "api_origin": origin, "source": source, "wrapped_key": wrapped},
                      sort_keys=True, separators=(",", ":")).encode()


def cache_name(header: Mapping[str, object]) -> str:
    """The kernel keyring's description of a passphrase-wrapped key: a digest of it, no secret."""
    import hashlib

    digest = hashlib.sha256(str(header.get("wrapped_key")).encode()).hexdigest()[:32]
    return f"authcli:data-key:{digest}"
