"""Fleet sessions: one profile's record in Redis, shared by every machine that names the same
server and namespace, and a lease so that one machine in the fleet refreshes at a time.

The key ``authcli:<namespace>:<profile>`` is a hash: ``record`` (the JSON record, AES-GCM
encrypted when AUTHCLI_REDIS_RECORD_KEY is set) and ``fence`` (SHA-256 of its refresh token).
A save names the record it replaces and is a compare-and-set on ``fence`` (a Lua script): a
holder that was stopped past its lease can never overwrite the newer record another machine
saved meanwhile.

The lease is redis-py's Lock (``SET key owner NX PX ttl``, released by a Lua compare-and-
delete, so only its owner releases it), its TTL twice the refresh deadline plus a margin, and
extended by a thread while it is held. Everything fails closed: with Redis unreachable or
refusing writes no refresh happens at all (StorageError, exit 6).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import CorruptRecord, Fenced, LockTimeout, StorageError, UsageError, UseFullPath
from ..tokens import TokenRecord

if TYPE_CHECKING:
    import redis

PREFIX = "authcli"
LEASE_MARGIN = 5.0
POLL_FIRST, POLL_MAX = 0.05, 0.5
DISABLE_LEASE_ENV = "AUTHCLI_TEST_DISABLE_REDIS_LEASE"  # test-only: shows what the lease prevents

# KEYS[1] the record's hash; ARGV[1] the largest record read. The size first (HSTRLEN), so a
# record planted at gigabytes is refused before either side allocates it.
_LOAD = """
local size = redis.call('HSTRLEN', KEYS[1], 'record')
if size > tonumber(ARGV[1]) then
  return {size}
end
return {size, redis.call('HGET', KEYS[1], 'record')}
"""

# KEYS[1] the record's hash; ARGV: fence of the record replaced ("" for none), new fence, record.
# A record gone meanwhile (a logout on another machine) is not brought back either.
_SAVE = """
local current = redis.call('HGET', KEYS[1], 'fence')
if ARGV[1] ~= '' and current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'fence', ARGV[2], 'record', ARGV[3])
return 1
"""


def fence(record: TokenRecord) -> str:
    return hashlib.sha256((record.refresh_token or "").encode()).hexdigest()


def url_password(url: str) -> str | None:
    """The password a Redis URL carries: in its userinfo, or as redis-py's ``?password=``."""
    from urllib.parse import parse_qs

    parts = urlsplit(url)
    if parts.password is not None:
        return parts.password
    given = parse_qs(parts.query).get("password")
    return given[0] if given else None


def redacted(url: str) -> str:
    """The URL without its password (userinfo or ``?password=``), for messages."""
    from urllib.parse import parse_qsl, urlencode

    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username}:***@{host}" if parts.username else f":***@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    if "password" in parts.query.lower():
        query = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        parts = parts._replace(query=urlencode(query, safe="*"))
    return urlunsplit(parts)


def check_redis_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise UsageError(f"{where} {redacted(url)!r} is not a redis:// or rediss:// URL")
    return url


class RedisStore:
    kind = "redis"

    def __init__(self, url: str, namespace: str, env: Mapping[str, str], lease_ttl: float,
                 password: Callable[[], str | None] = lambda: None) -> None:
        self.url = check_redis_url(url, "the Redis URL")
        self.namespace = namespace
        self.env = env
        self.lease_ttl = lease_ttl
        # A refreshed record is saved for as long as the lease would have lasted: Redis
        # restarting in that time loses nothing.
        self.save_patience = lease_ttl
        self._client: redis.Redis | None = None
        self._cipher = _cipher(env)
        self._lease: Any = None  # the lock held, for confirm()
        self._password = password  # the keyring's, asked only when nothing else gives one
        self._resolved: tuple[str | None] | None = None

    # -- the connection ------------------------------------------------------------------

    def _redis(self) -> redis.Redis:
        if self._client is None:
            import redis

            try:
                self._client = redis.Redis.from_url(self.url, password=self._password_now(),
                                                    socket_timeout=10, socket_connect_timeout=5,
                                                    decode_responses=False)
            except ValueError as exc:
                raise UsageError(f"invalid Redis URL {redacted(self.url)}: {exc}") from None
        return self._client

    def _password_now(self) -> str | None:
        """AUTHCLI_REDIS_PASSWORD, else the URL's own, else the keyring's (asked once)."""
        if self._resolved is None:
            password = self.env.get("AUTHCLI_REDIS_PASSWORD") or None
            if password is None and url_password(self.url) is None:
                password = self._password()
            self._resolved = (password,)
        return self._resolved[0]

    def _call(self, what: str, fn: Callable[[redis.Redis], Any]) -> Any:
        import redis

        try:
            return fn(self._redis())
        except redis.AuthenticationError:
            raise StorageError(f"Redis at {redacted(self.url)} refused the credentials; check "
                               "AUTHCLI_REDIS_PASSWORD or the user in the URL") from None
        except redis.ReadOnlyError:  # a ResponseError: before it
            raise StorageError(f"Redis at {redacted(self.url)} is read-only (a replica?); {what} "
                               "needs the primary") from None
        except redis.ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "NOPERM" in str(exc):
                raise StorageError(f"Redis at {redacted(self.url)} refused {what}: {exc}; check "
                                   "AUTHCLI_REDIS_PASSWORD and the ACL user's key prefix") from None
            raise StorageError(f"Redis at {redacted(self.url)} refused {what}: {exc}") from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StorageError(f"cannot reach Redis at {redacted(self.url)} ({_cause(exc)}); the shared "
                               "session is untouched: try again when it is back") from None
        except redis.RedisError as exc:
            raise StorageError(f"Redis at {redacted(self.url)}: {exc}") from None

    def key(self, profile: str) -> str:
        return f"{PREFIX}:{self.namespace}:{profile}"

    def location(self, profile: str) -> str:
        return f"Redis {redacted(self.url)}, key {self.key(profile)}"

    # -- the record ------------------------------------------------------------------------

    def load(self, profile: str) -> TokenRecord | None:
        from .base import parse_record

        try:
            raw = self._fast_read(profile)
        except UseFullPath:
            raw = self._read(profile)
        if raw is None:
            return None

        try:
            text = self._open(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptRecord(f"the record at {self.location(profile)} cannot be read: {exc}") from None
        return parse_record(text, profile, self.location(profile))

    def _read(self, profile: str) -> bytes | None:
        """The record through redis-py, its size checked (HSTRLEN) before it is read."""
        from .base import MAX_RECORD

        answer = self._call("a read", lambda r: r.eval(_LOAD, 1, self.key(profile), MAX_RECORD))
        if len(answer) == 1 and answer[0] > MAX_RECORD:
            raise CorruptRecord(f"the record at {self.location(profile)} is {answer[0]} bytes, larger than any "
                                f"authcli record (at most {MAX_RECORD}); run authcli logout to remove it")
        return answer[1] if len(answer) > 1 else None

    def _fast_read(self, profile: str) -> bytes | None:
        """The record through redis_wire.py while redis-py is not loaded; UseFullPath: ask redis-py,
        which tries again and words what went wrong."""
        if self._client is not None:
            raise UseFullPath
        from .redis_wire import hget

        try:
            return hget(self.url, self._password_now(), self.key(profile), "record")
        except (OSError, ValueError) as exc:
            raise UseFullPath(type(exc).__name__) from None

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        data = self._seal(record.to_json())
        done = self._call("a write", lambda r: r.eval(
            _SAVE, 1, self.key(profile), fence(replaces) if replaces else "", fence(record), data))
        if not done:
            raise Fenced(f"another machine changed the session at {self.location(profile)} (a newer login or "
                         "refresh, or a logout) while this one was held up past its lease; keeping theirs")

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        probe = f"{PREFIX}:{self.namespace}:.probe.{os.urandom(4).hex()}"
        self._call("a write", lambda r: r.set(probe, b"1", px=1000))

    def delete(self, profile: str) -> bool:
        return bool(self._call("a delete", lambda r: r.delete(self.key(profile))))

    # -- the lease ---------------------------------------------------------------------------

    @contextmanager
    def lease(self, profile: str, timeout: float, ready: Callable[[], bool] | None = None) -> Iterator[bool]:
        """Hold the fleet's lease for ``profile``: yields True once held, or False when ``ready``
        turns true first (another machine refreshed); LockTimeout after ``timeout`` seconds."""
        from ..testswitch import switch

        if switch(self.env, DISABLE_LEASE_ENV) == "1":
            yield True
            return
        lock = self._redis().lock(self.key(profile) + ":lease", timeout=self.lease_ttl, blocking=False,
                                  thread_local=False)
        start, pause = time.monotonic(), POLL_FIRST
        while not self._call("the lease", lambda r: lock.acquire(blocking=False)):
            if ready is not None and ready():
                yield False
                return
            if time.monotonic() - start > timeout:
                raise LockTimeout(f"another machine has held the lease at {self.location(profile)} for "
                                   f"{timeout:g}s; try again, or raise AUTHCLI_LOCK_TIMEOUT")
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX)
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep_alive, args=(lock, stop), daemon=True, name="authcli-lease")
        keeper.start()
        self._lease = lock
        try:
            yield True
        finally:
            self._lease = None
            stop.set()
            keeper.join()
            self._release(lock)

    def confirm(self, profile: str) -> bool:
        """Whether the lease taken by lease() is still this process's (it may have expired while
        the process was stopped): ask just before spending a refresh token."""
        if self._lease is None:
            return self.env.get(DISABLE_LEASE_ENV) == "1"
        return bool(self._call("the lease", lambda r: self._lease.owned()))

    def _keep_alive(self, lock: Any, stop: threading.Event) -> None:
        import redis

        while not stop.wait(self.lease_ttl / 3):
            try:
                lock.reacquire()  # back to the full TTL, only if still ours
            except redis.RedisError:
                return  # lost or unreachable: confirm() and the fenced save will tell

    def _release(self, lock: Any) -> None:
        import redis

        try:
            lock.release()
        except redis.RedisError:
            pass  # expired already (it was not ours any more) or Redis is gone: the TTL ends it

    # -- encryption at rest ----------------------------------------------------------------

    def _seal(self, text: str) -> bytes:
        if self._cipher is None:
            return text.encode()
        nonce = os.urandom(12)
        return b"v1:" + base64.b64encode(nonce + self._cipher.encrypt(nonce, text.encode(), None))

    def _open(self, raw: bytes) -> str:
        if not raw.startswith(b"v1:"):
            if self._cipher is not None:
                raise ValueError("it is not encrypted, but AUTHCLI_REDIS_RECORD_KEY is set")
            return raw.decode()
        if self._cipher is None:
            raise ValueError("it is encrypted: set AUTHCLI_REDIS_RECORD_KEY")
        from cryptography.exceptions import InvalidTag

        blob = base64.b64decode(raw[3:])
        try:
            return bytes(self._cipher.decrypt(blob[:12], blob[12:], None)).decode()
        except InvalidTag:
            raise ValueError("AUTHCLI_REDIS_RECORD_KEY does not open it") from None


def _cipher(env: Mapping[str, str]) -> Any:
    """AES-256-GCM with the key in AUTHCLI_REDIS_RECORD_KEY (32 bytes, base64), or None."""
    value = env.get("AUTHCLI_REDIS_RECORD_KEY")
    if not value:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError("AUTHCLI_REDIS_RECORD_KEY must be 32 random bytes in base64 "
                         "(make one with: head -c 32 /dev/urandom | base64)")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _cause(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text.split("\n")[0][:200]
