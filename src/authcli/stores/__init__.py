"""Where token records live: the stores, and the one factory that picks a profile's.

    base.py           the Store contract every store passes, and what they share
    file.py           one 0600 JSON file per profile (opted in)
    keyring.py        the OS keyring through the keyring library (the default)
    secretservice.py  the Secret Service read with jeepney alone (Linux; keyring's items)
    redis.py          a fleet's shared record and lease (redis-py), redis_wire.py its one
                      hot-path read without redis-py
    encrypted.py      the file store's records encrypted at rest (headless hosts)

Submodules import from each other downwards (base at the bottom) and never from this
package's face; only the factory below knows them all, and imports each where it is chosen.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ..config import Paths, Profile
    from .base import Store
    from .keyring import KeyringStore


def make_store(kind: str, paths: Paths, env: Mapping[str, str], profile: Profile | None = None) -> Store:
    if kind == "file":
        from .file import FileStore

        return FileStore(paths)
    if kind == "redis":
        return redis_store(profile, paths, env)
    if kind == "encrypted":
        return encrypted_store(profile, paths, env)
    from .keyring import KeyringStore, keyring_service

    cache = paths.state_dir / "keyring-backend"
    service = keyring_service(paths, env)
    if sys.platform == "linux":  # the Secret Service shortcut (jeepney); Keychain and Credential Locker: keyring
        from .secretservice import SecretServiceStore
        from .secretservice_wire import usable

        if usable(env, cache):
            return SecretServiceStore(service, backend_cache=cache)
    return KeyringStore(service, backend_cache=cache)


def encrypted_store(profile: Profile | None, paths: Paths, env: Mapping[str, str]) -> Store:
    """The profile's encrypted file, bound to its API origin, with the key source it names."""
    from ..errors import UsageError
    from ..storagekey import spec_of
    from ..urls import origin_str
    from .encrypted import EncryptedStore

    if profile is None or not profile.api_url:
        raise UsageError("storage 'encrypted' needs the profile's api_url (authcli login --api-url URL)")
    return EncryptedStore(paths, spec_of(profile), origin_str(profile.api_url), env)


def redis_password_entry(profile: str) -> str:
    return f"redis-password:{profile}"


def redis_store(profile: Profile | None, paths: Paths, env: Mapping[str, str]) -> Store:
    """The profile's Redis: AUTHCLI_REDIS_URL, else its redis_url; the namespace from
    redis_namespace, else the API's origin. The password, when the URL has none and
    AUTHCLI_REDIS_PASSWORD is not set, from this machine's keyring if login put it there."""
    from ..errors import UsageError
    from ..urls import origin_str
    from .redis import LEASE_MARGIN, RedisStore

    url = env.get("AUTHCLI_REDIS_URL") or (profile.redis_url if profile else None)
    if not url:
        raise UsageError("storage 'redis' needs a server: set AUTHCLI_REDIS_URL or the profile's redis_url "
                         "(authcli login --storage redis --redis-url redis://HOST:6379/0)")
    if profile is None or not (profile.redis_namespace or profile.api_url):
        raise UsageError("storage 'redis' needs the profile's api_url or redis_namespace")
    namespace = profile.redis_namespace or origin_str(profile.api_url or "")
    # Longer than a refresh can take (the deadline, twice with the transient retry), plus a margin.
    name = profile.name

    def from_keyring() -> str | None:
        if profile is None or profile.redis_auth != "keyring":
            return None
        return cast("KeyringStore", make_store("keyring", paths, env)).get_secret(redis_password_entry(name))

    return RedisStore(url, namespace, env, lease_ttl=2 * profile.timeout + LEASE_MARGIN, password=from_keyring)
