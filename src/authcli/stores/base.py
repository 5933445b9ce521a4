"""What every store is (the Store contract: tests/store_contract.py, which each store's test module runs),
and what they share: reading a record, its size cap, the local stores' lease.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

from ..errors import CorruptRecord, StorageError
from ..oscalls import open_file
from ..tokens import MalformedRecord, TokenRecord

MAX_RECORD = 1024 * 1024
MAX_DUPLICATES = 16  # items one logout removes under one service and name, at most


class Store(Protocol):
    kind: str
    # Seconds the engine keeps trying to save a refreshed record (its predecessor is spent):
    # a shared store's outage can be longer than a local disk's hiccup.
    save_patience: float

    def load(self, profile: str) -> TokenRecord | None: ...

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        """``replaces``: the record the refresh engine read under its locks. A store shared
        beyond this machine's lock refuses (Fenced) when something newer is there now."""
        ...

    def lease(self, profile: str, timeout: float, ready: Callable[[], bool] | None = None
              ) -> AbstractContextManager[bool]:
        """The lock beyond this machine's, taken after the profile's file lock: a store only
        this machine sees needs none (yields True); see redis.py for the fleet's."""
        ...

    def confirm(self, profile: str) -> bool:
        """Whether the lease is still held, asked just before a refresh token is spent."""
        ...

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        """Raise StorageError unless a record like ``record`` could be saved now. The refresh
        engine asks before it spends a refresh token whose successor it must keep."""
        ...

    def delete(self, profile: str) -> bool: ...

    def location(self, profile: str) -> str: ...


def parse_record(text: str, profile: str, where: str) -> TokenRecord:
    try:
        return TokenRecord.from_json(text)
    except MalformedRecord as exc:
        raise CorruptRecord(
            f"the stored session for profile '{profile}' in {where} is unreadable ({exc}); "
            f"run authcli login{profile_flag(profile)} to replace it"
        ) from None


def profile_flag(profile: str) -> str:
    return "" if profile == "default" else f" --profile {profile}"


def read_capped(path: Path, cap: int) -> bytes | None:
    """A record file's first ``cap + 1`` bytes (more means too large to be a record), opened
    without following a symlink; None when there is no file. StorageError when it cannot be read."""
    try:
        fd = open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read(cap + 1)
    except OSError as exc:
        raise StorageError(f"cannot read token file {path}: {exc.strerror or exc}") from None


# Room for a new record larger than the current one (a longer rotated token, a new ID token).
HEADROOM = 16 * 1024


class LocalStore:
    """What a store that lives on this machine does about leases: the file lock is enough."""

    save_patience = 0.0

    def lease(self, profile: str, timeout: float, ready: Callable[[], bool] | None = None
              ) -> AbstractContextManager[bool]:
        return nullcontext(True)

    def confirm(self, profile: str) -> bool:
        return True


