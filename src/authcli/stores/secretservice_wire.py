"""The Secret Service read on authcli's hot path, with jeepney alone (Linux).

Both the Secret Service store (secretservice.py) and the token shortcut (shortcut.py) read here, so
they read the same items by the same rules: every attribute authcli writes must match, two
matches are Ambiguous (the full path refuses to choose, exit 6), and anything else unusual (a
locked collection that needs a prompt, no service, any D-Bus error) is UseFullPath: the
keyring path prompts, retries and words the error. It imports nothing of authcli's but
errors.py, and jeepney only when it reads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import UseFullPath

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
APPLICATION = "Python keyring library"  # keyring's SecretService.Keyring.appid


def usable(env: Mapping[str, str], backend_cache: str | os.PathLike[str]) -> bool:
    """Whether keyring would use the Secret Service here, as far as cheap checks can tell: the
    backend found on the first run (``backend_cache``, state/keyring-backend) is keyring's
    SecretService backend, and neither PYTHON_KEYRING_BACKEND nor a keyringrc.cfg says otherwise."""
    if sys.platform != "linux" or env.get("PYTHON_KEYRING_BACKEND"):
        return False
    config_home = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    if os.path.exists(os.path.join(config_home, "python_keyring", "keyringrc.cfg")):
        return False
    try:
        with open(backend_cache, encoding="utf-8") as cache:
            return cache.read(256).strip() == SECRET_SERVICE_BACKEND
    except (OSError, UnicodeDecodeError):
        return False


def query(service: str, profile: str) -> dict[str, str]:
    """Every item of the profile under authcli's service (keyring's own query)."""
    return {"username": profile, "service": service}


def own(service: str, profile: str) -> dict[str, str]:
    """Every attribute authcli writes: what a read must match."""
    return {**query(service, profile), "application": APPLICATION}


_BUS = "org.freedesktop.secrets"
_DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"  # where keyring's backend looks


class Ambiguous(Exception):
    """More than one item carries every attribute authcli writes for the profile."""


def read(query: dict[str, str]) -> str | None:
    """The secret of the one item matching ``query`` in the default collection, or None;
    Ambiguous for two; UseFullPath for anything else (locked, no service, any D-Bus error)."""
    from jeepney import DBusAddress, MessageType, new_method_call  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    def call(connection: Any, message: Any) -> Any:
        reply = connection.send_and_get_reply(message)
        if reply.header.message_type == MessageType.error:
            raise UseFullPath
        return reply.body

    try:
        connection = open_dbus_connection(bus="SESSION")
    except Exception:  # no session bus: the keyring path says so in its own words
        raise UseFullPath from None
    try:
        service = DBusAddress("/org/freedesktop/secrets", bus_name=_BUS, interface="org.freedesktop.Secret.Service")
        collection = DBusAddress(_DEFAULT_COLLECTION, bus_name=_BUS, interface="org.freedesktop.Secret.Collection")
        (paths,) = call(connection, new_method_call(collection, "SearchItems", "a{ss}", (query,)))
        if not paths:
            return None
        if len(paths) > 1:
            raise Ambiguous
        item = DBusAddress(paths[0], bus_name=_BUS, interface="org.freedesktop.Secret.Item")
        # No Locked property asked first (two round trips of six): a locked collection or item
        # answers GetSecret with an error, and unlocking (a prompt) is the keyring path's job.
        _, session = call(connection, new_method_call(service, "OpenSession", "sv", ("plain", ("s", ""))))
        ((_, _, value, _),) = call(connection, new_method_call(item, "GetSecret", "o", (session,)))
        return bytes(value).decode("utf-8")
    except (UseFullPath, Ambiguous):
        raise
    except Exception:  # a malformed answer or a dropped bus: keyring retries and translates
        raise UseFullPath from None
    finally:
        connection.close()
