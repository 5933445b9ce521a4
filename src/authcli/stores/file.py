"""The file store: one 0600 JSON file per profile, in a private directory (opted in)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import check_profile_name
from ..errors import CorruptRecord, StorageError
from ..fsutil import atomic_write, check_private_chain, probe_write
from ..tokens import TokenRecord
from .base import HEADROOM, MAX_RECORD, LocalStore, parse_record, profile_flag, read_capped

if TYPE_CHECKING:
    from ..config import Paths


class FileStore(LocalStore):
    """One 0600 JSON file per profile, replaced atomically, in a private directory."""

    kind = "file"

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.directory = paths.tokens_dir

    def _path(self, profile: str) -> Path:
        return self.directory / f"{check_profile_name(profile)}.json"

    def location(self, profile: str) -> str:
        return str(self._path(profile))

    def load(self, profile: str) -> TokenRecord | None:
        path = self._path(profile)
        if not check_private_chain(self.directory, self.paths.top(self.directory)):
            return None
        data = read_capped(path, MAX_RECORD)
        if data is None:
            return None
        if len(data) > MAX_RECORD:
            raise CorruptRecord(f"token file {path} is too large to be an authcli record; "
                                f"run authcli login{profile_flag(profile)} to replace it")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StorageError(f"cannot read token file {path}: {exc}") from None
        return parse_record(text, profile, str(path))

    def save(self, profile: str, record: TokenRecord, replaces: TokenRecord | None = None) -> None:
        path = self._path(profile)
        self.paths.private(self.directory)
        self._sweep(path)
        try:
            atomic_write(path, record.to_json().encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise StorageError(f"cannot write token file {path}: {exc.strerror or exc}") from None

    def check_writable(self, profile: str, record: TokenRecord) -> None:
        self.paths.private(self.directory)
        try:
            probe_write(self.directory, len(record.to_json()) + HEADROOM)
        except OSError as exc:
            raise StorageError(
                f"cannot write token file {self._path(profile)}: {exc.strerror or exc}; the session was not "
                "refreshed and is intact: free some space (or make the directory writable) and try again"
            ) from None

    @staticmethod
    def _sweep(path: Path) -> None:
        """Remove temporary files a killed writer left behind (they may hold tokens). A live
        writer's file exists for milliseconds; only files a minute old are touched."""
        stale = time.time() - 60
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):
            try:
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()
            except OSError:
                pass

    def delete(self, profile: str) -> bool:
        path = self._path(profile)
        self._sweep(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot delete token file {path}: {exc.strerror or exc}") from None
        return True
