"""Which local user is at the other end of a connection to the proxy, and who owns a socket file.

The proxy serves its own user only. The local secret alone does not prove who is asking:
another user may have read it from a process's argv (/proc/PID/cmdline is world-readable).
The kernel knows the peer's uid:

- a Unix socket: SO_PEERCRED (Linux), LOCAL_PEERCRED (macOS and the BSDs), in oscalls.py;
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

from .errors import UsageError
from .oscalls import PROC_NET_TCP, is_mine, is_my_uid, is_unix_socket, unix_peer_uid, user_name


def same_user(sock: socket.socket) -> bool | None:
    """Whether the peer runs as this process's user; None when this platform cannot tell.
    A peer that cannot be found (it already closed) is not this user."""
    uid = _peer_uid(sock)
    if uid is None:
        return None
    return is_my_uid(uid)


def _peer_uid(sock: socket.socket) -> int | None:
    """The peer's uid, -1 when it cannot be found, None when this platform has no way to ask."""
    if is_unix_socket(sock):
        return unix_peer_uid(sock)
    if PROC_NET_TCP and sock.family in (socket.AF_INET, socket.AF_INET6):
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
    if stat.S_ISSOCK(info.st_mode) and not is_mine(info):
        raise UsageError(f"{path} is owned by {user_name(info.st_uid)}; remove it or choose another --socket path")
