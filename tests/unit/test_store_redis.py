"""The Redis store passes the contract (tests/store_contract.py) against a real redis-server,
as the keyring store runs against a real Secret Service; its leases and fencing are the fleet's
tests (tests/integration/test_fleet.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from authcli.stores.base import Store
from authcli.stores.redis import RedisStore
from tests.conftest import Redis
from tests.store_contract import StoreContract


class TestRedisStore(StoreContract):
    @pytest.fixture
    def store(self, start_redis: Callable[..., Redis]) -> Iterator[Store]:
        yield RedisStore(start_redis().url, "https://api.example.com:443", {}, lease_ttl=10)

    def write_raw(self, store: Store, profile: str, text: str) -> None:
        assert isinstance(store, RedisStore)  # for the type checker: this class's store
        store._redis().hset(store.key(profile), "record", text)
