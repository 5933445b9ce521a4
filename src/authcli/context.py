"""What a command needs, built on first use: streams, environment, paths, config, stores, flows."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import Config, Paths, Profile, check_api_url_setting, effective
from .iostreams import IOStreams

if TYPE_CHECKING:
    from .flows import Flow
    from .stores.base import Store


@dataclass
class Context:
    io: IOStreams
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.time
    debug: bool = False
    _paths: Paths | None = None
    _config: Config | None = None

    @property
    def paths(self) -> Paths:
        if self._paths is None:
            self._paths = Paths.from_env(self.env)
        return self._paths

    @property
    def config(self) -> Config:
        """config.toml, parsed from the summary the shortcut keeps when it is current (no
        tomllib), else with tomllib, and then the summary is brought up to date."""
        if self._config is None:
            from .shortcut import document, remember

            config_dir, state_dir = str(self.paths.config_dir), str(self.paths.state_dir)
            known: list[bool] = []

            def parsed(text: str) -> dict[str, object] | None:
                found = document(config_dir, state_dir, text)
                known.append(found is not None)
                return found

            self._config = Config.load(self.paths.config_file, parsed)
            if known == [False]:
                remember(config_dir, state_dir, str(self.paths.config_file))
        return self._config

    def profile(self, flag: str | None) -> Profile:
        """The selected profile, which must exist, with environment overrides applied."""
        return effective(check_api_url_setting(self.config.resolve(flag, self.env), self.config.path), self.env)

    def store(self, profile: Profile) -> Store:
        from .stores import make_store

        return make_store(profile.storage, self.paths, self.env, profile)

    def flow(self, profile: Profile, api_origin: str) -> Flow:
        if profile.flow == "oauth" and profile.grant == "token-exchange":
            from .flows.exchange import ExchangeFlow

            return ExchangeFlow(profile, self.env, api_origin, clock=self.clock, warn=self.io.warn)
        if profile.flow == "oauth":
            from .flows.oauth import OAuthFlow

            return OAuthFlow(profile, self.env, api_origin, clock=self.clock, warn=self.io.warn)
        from .flows.jsonapi import JsonApiFlow

        return JsonApiFlow(profile, self.env, api_origin, clock=self.clock, warn=self.io.warn)

    @contextmanager
    def lock(self, profile: Profile, ready: Callable[[], bool] | None = None) -> Iterator[bool]:
        """The profile's cross-process lock; see locking.file_lock for ``ready``."""
        from .locking import profile_lock

        with profile_lock(self.paths, profile.name, profile.lock_timeout, self.io, self.env, ready) as held:
            yield held

    @contextmanager
    def edit_config(self) -> Iterator[Config]:
        """config.toml re-read under its lock, handed out to change, and saved when the block
        ends without an error: parallel logins each add their profile, none is lost."""
        from .config import number_from_env
        from .locking import config_lock

        timeout = number_from_env(self.env, "AUTHCLI_LOCK_TIMEOUT", 30.0)
        with config_lock(self.paths, timeout, self.io):
            config = Config.load(self.paths.config_file)
            yield config
            config.save()
            self._config = config
