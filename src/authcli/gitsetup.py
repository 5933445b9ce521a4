"""git's configuration for `authcli git-credential`: the one place authcli runs git.

For a URL, git builds its list of credential helpers from every matching
`credential.helper` and `credential.<url>.helper`, in the order it reads them (system,
global, repository, command line; each file top to bottom), and an empty value empties the
list read so far (credential.c). So the section write_helper() writes, an empty helper and
then authcli's, drops every helper read before it: the system-wide ones installers set
(osxkeychain, manager), and earlier lines of the same file. A helper read after it is still
added after authcli's, and when a fetch succeeds git hands every helper in the list what
`get` answered: helpers_for() reads the list the way git does, so that `get` can see that
and keep the token to itself.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .errors import AuthcliError, UsageError
from .termsafe import printable
from .urls import parse_url

UNSET_NOTHING = 5  # git config --unset-all: there was no such key


def credential_url(url: str) -> str:
    """``url`` as the `credential.<url>` key git should match: scheme://host[:port], nothing
    else (git sends no path to helpers unless credential.useHttpPath is set, and a user name
    in the key would match only remotes that spell it)."""
    parts = parse_url(url.strip(), "git URL")
    if parts.username is not None or parts.password is not None:
        raise UsageError("the git URL must not contain a user name or password; give the git user name with --username")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"invalid git URL {printable(url)!r}: give scheme://host[:port] only (git matches the host)")
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}"


def executable() -> str:
    """How git should start this authcli: its absolute path when it was started as `authcli`
    (git's PATH may differ from this shell's), else plain `authcli`."""
    import os
    import shutil

    argv0 = sys.argv[0]
    if Path(argv0).stem == "authcli":
        return Path(os.path.abspath(argv0)).as_posix()  # not resolved: a package manager's link outlives upgrades
    return Path(shutil.which("authcli") or "authcli").as_posix()


def helper_command(args: list[str]) -> str:
    """The `!command` form git runs with the shell."""
    return "!" + " ".join(shlex.quote(arg) for arg in [executable(), *args])


def write_helper(url: str, command: str, git_config: str | None) -> str:
    """Make ``command`` the only credential helper for ``url`` (credential_url form) in the
    user's global git config, or in the file ``git_config``. Running it again replaces the
    section rather than adding to it. Returns where it wrote, for the message."""
    where = ["--file", git_config] if git_config is not None else ["--global"]
    key = f"credential.{url}.helper"
    _git([*where, "--unset-all", key], allowed=(UNSET_NOTHING,))
    _git([*where, "--add", key, ""])  # the empty value resets the helper list
    _git([*where, "--add", key, command])
    return git_config if git_config is not None else "your global git config"


def _git(args: list[str], allowed: tuple[int, ...] = ()) -> None:
    try:
        proc = subprocess.run(["git", "config", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise AuthcliError("git is not installed or not on PATH; install it, then run this again") from None
    except OSError as exc:
        raise AuthcliError(f"cannot run git: {exc.strerror or exc}") from None
    if proc.returncode != 0 and proc.returncode not in allowed:
        said = next((line for line in proc.stderr.splitlines() if line.strip()), f"exit status {proc.returncode}")
        raise AuthcliError(f"git config failed ({printable(said)})")



def helpers_for(protocol: str, host: str) -> list[str]:
    """Where each credential helper git runs for protocol://host comes from (`file:PATH`,
    `command line:`), in git's order: the same walk as credential.c, an empty value emptying
    the list. Where git's matching depends on what the helper is not told (the remote's path
    and user name), an entry counts as matching: a false alarm is better than a missed helper.
    Empty when git is not installed (then no git runs helpers either)."""
    try:
        proc = subprocess.run(["git", "config", "--includes", "--show-origin", "--null", "--get-regexp", r"^credential\."],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError:
        return []
    fields = proc.stdout.split("\0")
    helpers: list[str] = []
    for where, entry in zip(fields[0::2], fields[1::2], strict=False):
        key, newline, value = entry.partition("\n")
        if not newline or not key.lower().endswith(".helper"):
            continue
        pattern = key[len("credential."):-len(".helper")]
        if pattern and not _may_match(pattern, protocol, host):
            continue
        helpers = [] if value == "" else [*helpers, where]
    return helpers


def _may_match(pattern: str, protocol: str, host: str) -> bool:
    """Whether the URL of a `credential.<url>.helper` key may match a request for protocol://host."""
    from fnmatch import fnmatchcase

    scheme, sep, rest = pattern.partition("://")
    if not sep:
        scheme, rest = "", pattern  # a partial URL: a host, perhaps with a path
    elif scheme.lower() != protocol.lower():
        return False
    authority = rest.split("/", 1)[0].rpartition("@")[2]
    if not authority:
        return True
    wanted_host, wanted_port = _host_port(host, protocol)
    want_host, want_port = _host_port(authority, scheme or protocol)
    if want_port != wanted_port and (sep or ":" in authority):
        return False
    labels, wanted_labels = want_host.split("."), wanted_host.split(".")
    return len(labels) == len(wanted_labels) and all(fnmatchcase(w, p) for p, w in zip(labels, wanted_labels, strict=True))


def _host_port(authority: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"{scheme.lower()}://{authority}")
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(scheme.lower())
    return (parts.hostname or authority).lower(), port or default
