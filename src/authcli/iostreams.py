"""Standard streams, TTY detection and colour, in one place.

Data goes to ``out``; everything a person reads (messages, warnings, prompts,
progress) goes to ``err``. rich is imported only when something is rendered.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class IOStreams:
    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_tty: bool = False
    stdout_tty: bool = False
    stderr_tty: bool = False
    no_color: bool = False
    _consoles: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def system(cls, no_color: bool = False) -> IOStreams:
        return cls(
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_tty=_isatty(sys.stdin),
            stdout_tty=_isatty(sys.stdout),
            stderr_tty=_isatty(sys.stderr),
            no_color=no_color or "NO_COLOR" in os.environ,
        )

    @classmethod
    def test(cls, stdin: str = "", tty: bool = False) -> IOStreams:
        """In-memory streams; stdout/stdin have a .buffer like the real ones (read back with out_text())."""
        return cls(
            stdin=io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"),
            stdout=io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True),
            stderr=io.StringIO(),
            stdin_tty=tty,
            stdout_tty=tty,
            stderr_tty=tty,
            no_color=True,
        )

    @classmethod
    def to_binary(cls, sink: IO[bytes], like: IOStreams) -> IOStreams:
        """``like``, with stdout going to ``sink`` (a file, never a terminal)."""
        return cls(stdin=like.stdin, stdout=io.TextIOWrapper(sink, encoding="utf-8", write_through=True),
                   stderr=like.stderr, stdin_tty=like.stdin_tty, stderr_tty=like.stderr_tty, no_color=like.no_color)

    @property
    def can_prompt(self) -> bool:
        return self.stdin_tty and self.stderr_tty

    def info(self, message: str) -> None:
        """A line for the person at the terminal (never data)."""
        self.stderr.write(message + "\n")
        self.stderr.flush()

    def warn(self, message: str) -> None:
        from .termsafe import printable

        self.stderr.write(f"authcli: warning: {printable(message)}\n")
        self.stderr.flush()

    def write_out(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def write_bytes(self, data: bytes) -> None:
        """Body bytes exactly as received: binary-safe, unbuffered by the text layer."""
        self.stdout.flush()
        buffer = self.stdout.buffer  # type: ignore[attr-defined]
        buffer.write(data)

    def flush_bytes(self) -> None:
        self.stdout.buffer.flush()  # type: ignore[attr-defined]

    def stdin_bytes(self) -> IO[bytes]:
        return self.stdin.buffer  # type: ignore[attr-defined,no-any-return]

    def console(self, stream: str = "stdout") -> Console:
        """One rich Console per stream, built on first use."""
        if stream not in self._consoles:
            from rich.console import Console

            target = self.stdout if stream == "stdout" else self.stderr
            tty = self.stdout_tty if stream == "stdout" else self.stderr_tty
            plain = self.no_color or not tty
            self._consoles[stream] = Console(
                file=target,
                force_terminal=tty,
                no_color=plain,
                color_system=None if plain else "auto",  # NO_COLOR: no escape codes at all, not even bold
                highlight=False,
                soft_wrap=True,
            )
        console: Console = self._consoles[stream]
        return console


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return bool(stream and stream.isatty())
    except (ValueError, OSError):
        return False
