"""shortcut.py's answer for an encrypted profile: the record decrypted with os, json, base64 and
cryptography's AES-GCM alone, when the key is at hand without asking anyone.

Only two sources qualify: AUTHCLI_STORAGE_KEY (storage_key = "env") and a passphrase whose
unwrapped key the kernel keyring still caches. Anything else (another source, a missing or
malformed key, an envelope that is not the profile's, a record that does not decrypt) is None,
and the full path (stores/encrypted.py) answers and words the error. The envelope and its associated
data are encformat.py's, shared with the full path.
"""

from __future__ import annotations

import json
import os

from .encformat import FORMAT, VERSION, associated_data

ENV = "AUTHCLI_STORAGE_KEY"  # storagekey.ENV (not imported: that module costs more than this one)
HOT_SOURCES = ("env", "passphrase")


def record(profile: dict[str, object], data: bytes | None, name: str, env: os._Environ[str] | dict[str, str]
           ) -> object:
    """The decrypted record (parsed JSON) of profile ``name`` from the .enc file's ``data``, or None."""
    source = profile.get("storage_key")
    origin = profile.get("api_origin")
    if data is None or source not in HOT_SOURCES or not isinstance(origin, str):
        return None
    try:
        envelope = json.loads(data)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or envelope.get("authcli") != FORMAT or envelope.get("version") != VERSION \
            or envelope.get("source") != source:
        return None
    key = _env_key(env) if source == "env" else _cached_key(envelope)
    if key is None:
        return None
    import base64
    import binascii

    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    wrapped = envelope.get("wrapped_key")
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(str(envelope.get("nonce")), validate=True),
                                    base64.b64decode(str(envelope.get("ciphertext")), validate=True),
                                    associated_data(name, origin, str(source), wrapped if isinstance(wrapped, str)
                                                    else None))
        return json.loads(plain)
    except (InvalidTag, ValueError, binascii.Error):
        return None


def _env_key(env: os._Environ[str] | dict[str, str]) -> bytes | None:
    import base64
    import binascii

    try:
        key = base64.b64decode(env.get(ENV, "").strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


def _cached_key(envelope: dict[str, object]) -> bytes | None:
    if not isinstance(envelope.get("wrapped_key"), str):
        return None
    from . import kernelkeyring
    from .encformat import cache_name

    try:
        key = kernelkeyring.find(cache_name(envelope))
    except kernelkeyring.Unavailable:
        return None
    return key if key is not None and len(key) == 32 else None
