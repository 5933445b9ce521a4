"""The plain file store: the contract (tests/store_contract.py), and what only a file can get
wrong: its modes, its temporary files, a profile name that is a path."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from authcli.config import Paths
from authcli.errors import UsageError
from authcli.stores.base import Store
from authcli.stores.file import FileStore
from tests.helpers import RECORD
from tests.platforms import POSIX_MODES
from tests.store_contract import ROTATED, StoreContract


def file_store(root: Path) -> FileStore:
    """A file store under ``root`` as AUTHCLI_CONFIG_DIR lays it out: root/state/tokens."""
    return FileStore(Paths(config_dir=root, state_dir=root / "state", scope=str(root)))


class TestFileStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        yield file_store(tmp_path)

    def write_raw(self, store: Store, profile: str, text: str) -> None:
        path = Path(store.location(profile))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_file_store_is_private_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = file_store(tmp_path / "a")
    store.save("p", RECORD)
    store.save("p", ROTATED)
    path = Path(store.location("p"))
    if POSIX_MODES:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.json"]


def test_file_store_refuses_path_like_profile_names(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid profile name"):
        file_store(tmp_path).load("../evil")


def test_file_store_sweeps_temp_files_a_killed_writer_left(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    store.save("p", RECORD)
    leftover = tmp_path / "state" / "tokens" / ".p.json.0123456789ab.tmp"
    live = tmp_path / "state" / "tokens" / ".p.json.ba9876543210.tmp"  # another writer, right now
    for path in (leftover, live):
        path.write_text(RECORD.to_json())
    os.utime(leftover, (1, 1))
    store.save("p", ROTATED)
    assert not leftover.exists() and live.exists()
    live.unlink()
    leftover.write_text(RECORD.to_json())
    os.utime(leftover, (1, 1))
    store.delete("p")
    assert list((tmp_path / "state" / "tokens").iterdir()) == []
