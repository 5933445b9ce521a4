"""The Linux kernel's session keyring, through ctypes (add_key(2), keyctl(2); no package).

A passphrase-protected session caches its unwrapped data key here for a while, so the next
commands of the same login session need no prompt. The key is a "user" key in the session
keyring, readable only by its possessors (processes of that session), with a timeout after
which the kernel destroys it. Where the kernel refuses (Docker's default seccomp profile:
EPERM; LXC: ENOSYS; not Linux), every call raises Unavailable and the caller prompts instead.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

# syscall numbers: (add_key, keyctl)
_SYSCALLS = {"x86_64": (248, 250), "aarch64": (217, 219), "arm64": (217, 219), "i686": (286, 288),
             "i386": (286, 288), "armv7l": (309, 311), "ppc64le": (269, 271), "s390x": (278, 280),
             "riscv64": (217, 219)}
_SESSION = -3  # KEY_SPEC_SESSION_KEYRING
_SEARCH, _READ, _SETPERM, _SET_TIMEOUT, _INVALIDATE = 10, 11, 5, 15, 21
_POSSESSOR_ALL = 0x3F000000  # view, read, write, search, link, setattr for possessors; nothing for others
MAX_KEY = 4096


class Unavailable(Exception):
    """The kernel keyring cannot be used here; str() says why in a few words."""


def _libc() -> tuple[ctypes.CDLL, int, int]:
    numbers = _SYSCALLS.get(platform.machine())
    if not sys.platform.startswith("linux") or numbers is None:
        raise Unavailable("not a Linux kernel keyring this build knows")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc, *numbers


def _fail(what: str) -> Unavailable:
    errno = ctypes.get_errno()
    name = {1: "EPERM", 38: "ENOSYS", 13: "EACCES", 122: "EDQUOT"}.get(errno, f"errno {errno}")
    return Unavailable(f"{what}: {name}, {os.strerror(errno)}")


def find(description: str) -> bytes | None:
    """The payload of the session keyring's user key ``description``, or None."""
    libc, _, keyctl = _libc()
    key = libc.syscall(keyctl, _SEARCH, ctypes.c_long(_SESSION), b"user", description.encode(), ctypes.c_long(0))
    if key < 0:
        if ctypes.get_errno() in (126, 127, 128):  # ENOKEY, EKEYEXPIRED, EKEYREVOKED: not cached (any more)
            return None
        raise _fail("keyctl search")
    buffer = ctypes.create_string_buffer(MAX_KEY)
    size = libc.syscall(keyctl, _READ, ctypes.c_long(key), buffer, ctypes.c_long(MAX_KEY))
    if size < 0:
        if ctypes.get_errno() in (126, 127, 128):
            return None
        raise _fail("keyctl read")
    try:
        return buffer.raw[:size]
    finally:
        ctypes.memset(buffer, 0, MAX_KEY)


def store(description: str, payload: bytes, timeout: float) -> None:
    """Add (or replace) the user key ``description`` in the session keyring, for ``timeout`` seconds."""
    libc, add_key, keyctl = _libc()
    key = libc.syscall(add_key, b"user", description.encode(), payload, ctypes.c_size_t(len(payload)),
                       ctypes.c_long(_SESSION))
    if key < 0:
        raise _fail("add_key")
    if libc.syscall(keyctl, _SETPERM, ctypes.c_long(key), ctypes.c_ulong(_POSSESSOR_ALL)) < 0 \
            or libc.syscall(keyctl, _SET_TIMEOUT, ctypes.c_long(key), ctypes.c_ulong(max(1, int(timeout)))) < 0:
        error = _fail("keyctl")
        libc.syscall(keyctl, _INVALIDATE, ctypes.c_long(key))
        raise error


def forget(description: str) -> None:
    """Destroy the cached key ``description`` now (logout), if there is one."""
    try:
        libc, _, keyctl = _libc()
    except Unavailable:
        return
    key = libc.syscall(keyctl, _SEARCH, ctypes.c_long(_SESSION), b"user", description.encode(), ctypes.c_long(0))
    if key >= 0:
        libc.syscall(keyctl, _INVALIDATE, ctypes.c_long(key))
