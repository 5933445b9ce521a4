"""Which local user is at the other end of a connection to the proxy, and who owns a socket file.

The proxy serves its own user only. The local secret alone does not prove who is asking:
another user may have read it from a process's argv (/proc/PID/cmdline is world-readable).
The kernel knows the peer's uid:

- a Unix socket: SO_PEERCRED (Linux), LOCAL_PEERCRED (macOS and the BSDs);
- loopback TCP, on Linux only: the client's socket is listed in /proc/net/tcp (or tcp6, for
  an IPv6 socket speaking IPv4) with its owner's uid, as the entry whose local address is
  our peer's and whose remote address is ours.

Elsewhere (TCP on macOS, any other platform) same_user() answers None: the proxy then has
the local secret and the Host check only.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys

from .errors import UsageError


def same_user(sock: socket.socket) -> bool | None:
    """Whether the peer runs as this process's user; None when this platform cannot tell.
    A peer that cannot be found (it already closed) is not this user."""
    uid = _peer_uid(sock)
    if uid is None:
        return None
    return uid == os.geteuid()


def _peer_uid(sock: socket.socket) -> int | None:
    """The peer's uid, -1 when it cannot be found, None when this platform has no way to ask."""
    if sock.family == socket.AF_UNIX:
        if sys.platform == "linux":
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return int(struct.unpack("3i", creds)[1])
        if sys.platform == "darwin" or "bsd" in sys.platform:
            # struct xucred {u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16];}
            creds = sock.getsockopt(0, 0x001, struct.calcsize("IIh16I"))  # SOL_LOCAL, LOCAL_PEERCRED
            return int(struct.unpack_from("II", creds)[1])
        return None
    if sys.platform == "linux" and sock.family in (socket.AF_INET, socket.AF_INET6):
        return _tcp_owner(sock.getpeername(), sock.getsockname())
    return None


def _tcp_owner(peer: tuple[str, int], ours: tuple[str, int]) -> int:
    """The uid of the live socket whose local address is ``peer`` and remote one ``ours``."""
    for table, encode in (("/proc/net/tcp", _hex4), ("/proc/net/tcp6", _hex6)):
        local, remote = encode(*peer[:2]), encode(*ours[:2])
        if local is None or remote is None:
            continue
        try:
            with open(table, encoding="ascii") as listing:
                next(listing, None)  # the column names
                for line in listing:
                    # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
                    fields = line.split()
                    if fields[1] == local and fields[2] == remote and fields[9] != "0":
                        return int(fields[7])
        except OSError:
            continue
    return -1


def _hex4(host: str, port: int) -> str | None:
    """An IPv4 address as the kernel lists it: the 32-bit word in host byte order, in hex."""
    host = host.removeprefix("::ffff:")
    try:
        word = struct.unpack("=I", socket.inet_aton(host))[0]
    except OSError:
        return None
    return f"{word:08X}:{port:04X}"


def _hex6(host: str, port: int) -> str | None:
    if "." in host and ":" not in host:
        host = "::ffff:" + host  # an IPv6 client socket that connected to an IPv4 address
    try:
        words = struct.unpack("=4I", socket.inet_pton(socket.AF_INET6, host.split("%")[0]))
    except OSError:
        return None
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def check_socket_owner(path: str) -> None:
    """Refuse a socket file another user left where ours would go: in a sticky directory it
    cannot be removed, and it is theirs to remove even where it could be."""
    try:
        info = os.lstat(path)
    except OSError:
        return  # absent, or bind_private_socket will say what is wrong
    if stat.S_ISSOCK(info.st_mode) and info.st_uid != os.geteuid():
        raise UsageError(f"{path} is owned by {_user_name(info.st_uid)}; remove it or choose another --socket path")


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name} ({uid})"
    except KeyError:
        return f"uid {uid}"
