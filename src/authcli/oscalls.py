"""The few file, user and socket calls that differ between Linux, macOS and Windows, in one place.

Every other module calls these instead of O_NOFOLLOW, fchmod, geteuid, pwd or AF_UNIX, so the
Windows branches below are the only ones, written as ``sys.platform`` checks that mypy follows
(tests/test_static.py runs mypy --strict for linux, darwin and win32). Linux and macOS take the
same POSIX branch. Imports only os, stat and sys: shortcut.py's path depends on this module.

What Windows gets instead of POSIX permissions, as a statement rather than a check: a file has
no owner uid and no group/other bits there (os.stat reports st_uid 0 and a mode that only says
read-only or not), so the 0700-directory, 0600-file and owner checks pass without looking.
authcli keeps its files under the user's profile directory (platformdirs: %LOCALAPPDATA%),
which Windows makes private to the user by its ACL; authcli does not read or set ACLs. A
directory or key file someone placed elsewhere (AUTHCLI_CONFIG_DIR, --key-file) is as private
as its ACL makes it. Symbolic links need a privilege on Windows; opening without following
one is emulated by refusing a path that is a link when it is opened (a check, not an atomic
flag, there).
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # not typing's: `import typing` would cost the token shortcut more than it reads
if TYPE_CHECKING:
    import signal
    import socket

# Checks whose answer on Windows is the statement in the docstring above.
POSIX_PERMISSIONS = sys.platform != "win32"
# Whether a held lock file can be deleted by another process: on POSIX it can (so locking.py
# also locks the directory that holds it); on Windows a file open without FILE_SHARE_DELETE
# (os.open's) cannot be deleted, and a directory cannot be opened as a descriptor to lock.
LOCKED_FILES_DELETABLE = sys.platform != "win32"
# Who owns a loopback TCP peer is listed in procfs (peercheck.py): Linux only.
PROC_NET_TCP = sys.platform == "linux"

if sys.platform == "win32":
    _NOFOLLOW = 0
    _FLAGS = os.O_BINARY | os.O_NOINHERIT  # else os.open gives a text-mode descriptor (CRLF)
else:
    _NOFOLLOW = os.O_NOFOLLOW
    _FLAGS = os.O_CLOEXEC


def open_file(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` (OSError ELOOP instead) and
    whose descriptor is not inherited by programs authcli starts; binary on every platform."""
    if sys.platform == "win32":
        _refuse_link(path)
    return os.open(path, flags | _NOFOLLOW | _FLAGS, mode)


def open_dir(path: str | os.PathLike[str]) -> int:
    """A descriptor of the directory ``path`` (not through a symbolic link), to lock or fsync.
    Windows cannot open a directory this way: OSError (see LOCKED_FILES_DELETABLE)."""
    if sys.platform == "win32":
        import errno

        raise OSError(errno.EACCES, "a directory cannot be opened as a file descriptor on Windows", str(path))
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _FLAGS)


def _refuse_link(path: str | os.PathLike[str]) -> None:
    try:
        info = os.lstat(path)
    except OSError:
        return  # absent (O_CREAT makes it) or unreadable: os.open says which
    if stat.S_ISLNK(info.st_mode):
        import errno

        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))


def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """``os.replace``. On Windows, a file another process has open (a reader, for the moment it
    reads) cannot be replaced: that sharing violation is waited out for up to REPLACE_PATIENCE."""
    if sys.platform == "win32":
        import time

        give_up = time.monotonic() + REPLACE_PATIENCE
        while True:
            try:
                os.replace(source, target)
                return
            except PermissionError:
                if time.monotonic() >= give_up:
                    raise
                time.sleep(0.01)
    os.replace(source, target)


REPLACE_PATIENCE = 2.0  # seconds


def set_mode(fd: int, path: str | os.PathLike[str], mode: int) -> None:
    """Give the open file ``fd`` (at ``path``) the permission bits ``mode``."""
    if sys.platform == "win32":
        os.chmod(path, mode)  # only the read-only bit means anything; os.fchmod arrived in 3.13
    else:
        os.fchmod(fd, mode)


# -- who owns what ----------------------------------------------------------------------------

def is_mine(info: os.stat_result) -> bool:
    """Whether this process's (effective) user owns the file ``info`` describes."""
    if sys.platform == "win32":
        return True  # no owner uid: see the module docstring
    return info.st_uid == os.geteuid()


def is_my_uid(uid: int) -> bool:
    if sys.platform == "win32":
        return False  # no uids: nothing answers with one here
    return uid == os.geteuid()


def writable_by_others(info: os.stat_result) -> bool:
    """Group or others may write it (a directory: replace the files in it)."""
    if sys.platform == "win32":
        return False
    return bool(info.st_mode & 0o022)


def open_to_others(info: os.stat_result, bits: int = 0o077) -> bool:
    """Any of the permission ``bits`` is set: by default, group or others may read or write it
    (a 0600 file's test); 0o026 lets the group read."""
    if sys.platform == "win32":
        return False
    return bool(info.st_mode & bits)


def make_mine_hint(path: object) -> str:
    """The command that gives ``path`` to this user (said when is_mine is False)."""
    if sys.platform == "win32":
        return f"take ownership of {path}"
    return f"chown {os.geteuid()} {path}"


def user_name(uid: int) -> str:
    """How a message names the owner ``uid``: 'user NAME (UID)', or 'uid UID' when unknown."""
    if sys.platform == "win32":
        return f"uid {uid}"
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name} ({uid})"
    except KeyError:
        return f"uid {uid}"


# -- processes --------------------------------------------------------------------------------

def signals(*names: str) -> list[signal.Signals]:
    """The signals among ``names`` that this platform has (Windows has SIGINT, SIGTERM, SIGBREAK
    and the error signals; no SIGHUP, SIGQUIT, SIGCHLD...), in order."""
    import signal

    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def kill_group(pid: int) -> None:
    """Kill the process group ``pid`` leads (started with start_new_session=True). Windows has no
    process groups to signal: the caller's Popen.kill() ends the process itself."""
    if sys.platform == "win32":
        return
    import signal

    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


# -- Unix sockets (authcli proxy --socket) ----------------------------------------------------

def require_unix_sockets(option: str = "--socket") -> None:
    """UsageError where Python has no Unix sockets (Windows: the proxy listens on TCP only)."""
    if sys.platform == "win32":
        from .errors import UsageError

        raise UsageError(f"{option} needs Unix sockets, which Python does not offer on Windows; "
                         "use --port (the proxy listens on 127.0.0.1)")


def is_unix_socket(sock: socket.socket) -> bool:
    if sys.platform == "win32":
        return False
    import socket

    return sock.family == socket.AF_UNIX


def unix_peer_uid(sock: socket.socket) -> int | None:
    """The uid of a connected Unix socket's peer, None where this platform cannot tell."""
    if sys.platform == "win32":
        return None
    import socket
    import struct

    if sys.platform == "linux":
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", creds)[1])
    if sys.platform == "darwin" or "bsd" in sys.platform:
        # struct xucred {u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16];}
        creds = sock.getsockopt(0, 0x001, struct.calcsize("IIh16I"))  # SOL_LOCAL, LOCAL_PEERCRED
        return int(struct.unpack_from("II", creds)[1])
    return None


def unix_socket_listening(path: str) -> bool:
    """Whether a process accepts connections on the Unix socket ``path``."""
    require_unix_sockets()
    if sys.platform == "win32":
        return False  # not reached: require_unix_sockets raised
    import socket

    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True
