"""Writing `authcli call`'s response: to stdout (raw bytes, or pretty JSON on a terminal) or
to a file via a temporary file renamed at the end; progress bars on a terminal only."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from .errors import AuthcliError, UsageError
from .iostreams import IOStreams
from .oscalls import replace, set_mode

CHUNK = 64 * 1024
UPLOAD_PROGRESS_MIN = 4 * 1024 * 1024


def is_json(response: httpx.Response) -> bool:
    kind = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def write_head(io: IOStreams, response: httpx.Response) -> None:
    lines = [f"{response.http_version} {response.status_code} {response.reason_phrase}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    io.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))


def write_json(io: IOStreams, data: Any, pretty: bool) -> None:
    if pretty:
        io.console("stdout").print_json(data=data)
    else:
        io.write_bytes(json.dumps(data).encode() + b"\n")


def stream_body(io: IOStreams, response: httpx.Response, pretty: bool) -> None:
    """Pretty-print JSON on a terminal; otherwise the bytes exactly as received, chunk by chunk."""
    if pretty and is_json(response):
        raw = response.read()
        try:
            data = json.loads(raw)
        except ValueError:
            io.write_bytes(raw)
        else:
            write_json(io, data, pretty=True)
        return
    for chunk in _chunks(response):
        io.write_bytes(chunk)
    io.flush_bytes()


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body as it came over the wire, unless it was content-encoded (then decoded)."""
    if response.headers.get("content-encoding", "identity").lower() in ("identity", ""):
        return response.iter_raw(CHUNK)
    return response.iter_bytes(CHUNK)


@contextmanager
def progress(io: IOStreams, label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (bytes, total, rate, ETA) on a terminal's stderr; nothing otherwise."""
    if not (enabled and io.stderr_tty):
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        console=io.console("stderr"), transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def check_target(target: str) -> os.stat_result | None:
    """What is at ``target`` now (None: nothing); a directory is a usage error."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"-o {target} is a directory; name a file in it")
    return info


@contextmanager
def output_file(target: str) -> Iterator[BinaryIO]:
    """Where -o writes, as curl's -o treats what is already there:

    - a device, FIFO or socket (/dev/null, /dev/stdout, a named pipe) is opened and written
      in place, never replaced;
    - a regular file (new, or the one a symlink points to, so the link stays a link) gets a
      temporary file in its directory, renamed over it when the block ends without an error:
      an interrupted download never leaves a partial file under the target's name. An existing
      file keeps its mode; a new one gets the user's umask, like curl's (a response body is
      the user's data, not one of authcli's secrets);
    - a directory is a usage error.
    """
    info = check_target(target)
    if info is not None and not stat.S_ISREG(info.st_mode):
        try:
            sink = open(target, "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise AuthcliError(f"cannot write {target}: {exc.strerror or exc}") from None
        with sink:
            yield sink
        return
    path = Path(os.path.realpath(target))
    if info is not None:
        mode = stat.S_IMODE(info.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise AuthcliError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        set_mode(fd, tmp, mode)  # before the first byte: the temporary file is the user's file to be
        with os.fdopen(fd, "wb") as sink:
            yield sink
        replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def download(io: IOStreams, response: httpx.Response, target: str) -> int:
    """Write the body to ``target`` (see output_file), with a progress bar on a terminal."""
    written = 0
    total = int(response.headers["content-length"]) if response.headers.get("content-length", "").isdigit() else None
    with output_file(target) as sink, progress(io, Path(target).name, total, enabled=True) as advance:
        for chunk in _chunks(response):
            sink.write(chunk)
            written += len(chunk)
            advance(len(chunk))
    return written


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_json_page(response: httpx.Response) -> Any:
    raw = response.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw
