#!/usr/bin/env bash
# Run git's own credential-helper test suite, t/t0303-credential-external.sh, against
# `authcli git-credential`, from the source of the git installed here (never committed).
#
#   scripts/git-t0303.sh            AUTHCLI=/path/to/authcli to test another executable
#
# Where the source comes from, first that works:
#   1. the installed git's Debian source package, exactly its version (apt-get source, with
#      deb-src twins of this machine's own apt sources, in a private apt directory: the
#      system's apt configuration is not touched, and apt checks the files against the
#      archive's signed index); needs apt-get and dpkg-source (dpkg-dev);
#   2. the upstream tarball of `git --version` from mirrors.edge.kernel.org, over https.
# The source, with test-tool and the templates built (test-lib needs them; about a minute on two cores), is kept in
# ${AUTHCLI_GIT_T0303_CACHE:-${XDG_CACHE_HOME:-~/.cache}/authcli-dev/git-t0303}/<version>.
#
# The suite runs against the installed git (GIT_TEST_INSTALLED), with GIT_TEST_CREDENTIAL_HELPER
# a wrapper that runs authcli with a profile logged in to a dev server on loopback.
# t0303 is written for helpers that store whatever git approves; authcli stores nothing of
# git's (that is what keeps a token from going stale in a general helper) and answers only
# for its profile's API origin. These cases cannot apply, and are not run:
#   "can retrieve password"     expects the password approved just before for example.com
#   "can store multiple users"  expects the two approved users' passwords back
#   "remembers other user"      expects user2's approved password back
#   "can store empty username"  expects the approved empty credential for sso.tld back
#   the timeout cases           (GIT_TEST_CREDENTIAL_HELPER_TIMEOUT) need a helper that keeps
#                               credentials for a while; t0303 itself skips them when unset
# Every other case must pass. A second run of just the four listed cases must see each of
# them fail: one that passed would mean authcli handed back a password git gave it.
#
# Exit status: 0 all as expected, 1 a case did not do what is expected, 3 git's source could
# not be obtained here (the test suite skips on 3 unless AUTHCLI_REQUIRE_GIT_T0303=1).
set -euo pipefail

AUTHCLI=${AUTHCLI:-$(command -v authcli || true)}
[ -x "$AUTHCLI" ] || { echo "git-t0303: no authcli executable (set AUTHCLI=/path/to/authcli)" >&2; exit 1; }
AUTHCLI=$(cd "$(dirname "$AUTHCLI")" && pwd)/$(basename "$AUTHCLI")
GIT=$(command -v git) || { echo "git-t0303: git is not installed" >&2; exit 3; }

NOT_APPLICABLE=("can retrieve password" "can store multiple users" "remembers other user" "can store empty username")

work=$(mktemp -d "${TMPDIR:-/tmp}/git-t0303.XXXXXX")
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# -- the source ---------------------------------------------------------------------------

fetch_debian() {  # $1: where to unpack
    command -v apt-get >/dev/null && command -v dpkg-source >/dev/null && command -v dpkg-query >/dev/null || return 1
    local version apt
    version=$(dpkg-query -W -f='${Version}' git 2>/dev/null) || return 1
    apt=$work/apt
    mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/get"
    # deb-src twins of the machine's own sources (same mirrors, same keys)
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]\+/deb-src /p' "$f"
    done > "$apt/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt/sources.list.d/$(basename "$f")"
    done
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
                -o APT::Sandbox::User="$(id -un)" -qq)
    # A third-party source without deb-src fails its part of the update; git's is all we need.
    apt-get "${opts[@]}" update >&2 || echo "git-t0303: apt-get update reported errors; trying apt-get source anyway" >&2
    (cd "$apt/get" && apt-get "${opts[@]}" source --download-only "git=$version" >&2) || return 1
    dpkg-source --no-check -x "$apt"/get/git_*.dsc "$1" >&2 || return 1
    echo "debian $version"
}

fetch_upstream() {  # $1: where to unpack
    command -v curl >/dev/null || return 1
    local version
    version=$("$GIT" --version | awk '{print $3}')
    curl -fsSL --proto '=https' "https://mirrors.edge.kernel.org/pub/software/scm/git/git-$version.tar.xz" \
        -o "$work/git.tar.xz" >&2 || return 1
    mkdir -p "$1" && tar -xJf "$work/git.tar.xz" -C "$1" --strip-components=1 || return 1
    echo "upstream $version"
}

version_key=$( (dpkg-query -W -f='${Version}' git 2>/dev/null || "$GIT" --version) | tr -c 'A-Za-z0-9.+~-' _)
cache=${AUTHCLI_GIT_T0303_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/authcli-dev/git-t0303}/$version_key
if [ ! -x "$cache/t/helper/test-tool" ] || [ ! -d "$cache/templates/blt" ]; then
    fresh=$work/src
    if ! origin=$(fetch_debian "$fresh") && ! { rm -rf "$fresh"; origin=$(fetch_upstream "$fresh"); }; then
        echo "git-t0303: could not obtain git's source (no Debian source package, no kernel.org tarball)" >&2
        exit 3
    fi
    echo "git-t0303: building test-tool in git's source ($origin)" >&2
    make -C "$fresh" -j"$(nproc 2>/dev/null || echo 2)" NO_CURL=1 NO_EXPAT=1 NO_OPENSSL=1 NO_GETTEXT=1 NO_TCLTK=1 NO_PERL=1 NO_PYTHON=1 \
        GIT-BUILD-OPTIONS t/helper/test-tool >"$work/build.log" 2>&1 && make -C "$fresh/templates" >>"$work/build.log" 2>&1 \
        || { tail -30 "$work/build.log" >&2; echo "git-t0303: building git's test-tool failed" >&2; exit 1; }
    mkdir -p "$(dirname "$cache")"
    rm -rf "$cache" && mv "$fresh" "$cache"
fi

# -- authcli, logged in to a dev server ---------------------------------------------------

export PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring  # never the user's keyring
AUTHCLI_CONFIG_DIR=$work/server "$AUTHCLI" dev-server --port 0 >"$work/server.url" 2>/dev/null &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/server.url" ] && break; sleep 0.1; done
url=$(head -1 "$work/server.url")
case "$url" in http://127.0.0.1:*) ;; *) echo "git-t0303: the dev server did not start" >&2; exit 1 ;; esac
echo alice-password | AUTHCLI_CONFIG_DIR=$work/home "$AUTHCLI" login --api-url "$url" --email alice@example.com \
    --password-stdin --storage file >/dev/null 2>"$work/login.err" \
    || { cat "$work/login.err" >&2; echo "git-t0303: could not log in to the dev server" >&2; exit 1; }

mkdir -p "$work/bin"
cat >"$work/bin/git-credential-authcli" <<EOF
#!/bin/sh
AUTHCLI_CONFIG_DIR='$work/home' PYTHON_KEYRING_BACKEND='$PYTHON_KEYRING_BACKEND' exec '$AUTHCLI' git-credential "\$@"
EOF
chmod 0755 "$work/bin/git-credential-authcli"

# -- t0303 --------------------------------------------------------------------------------

t0303() {  # $1: the --run selection; TAP on stdout
    (cd "$cache/t" && PATH="$work/bin:$PATH" GIT_TEST_INSTALLED=$(dirname "$GIT") GIT_TEST_CREDENTIAL_HELPER=authcli \
        sh ./t0303-credential-external.sh --root="$work/trash" --run="$1")
}

status=0
skip=$(printf '!%s,' "${NOT_APPLICABLE[@]}")
echo "# t0303, the cases that apply to authcli"
t0303 "${skip%,}" | tee "$work/applies.tap" || status=1
skipped=$(grep -c '^ok [0-9]* # skip' "$work/applies.tap" || true)
if [ "$skipped" != "${#NOT_APPLICABLE[@]}" ]; then
    echo "git-t0303: expected ${#NOT_APPLICABLE[@]} cases left out, t0303 left out $skipped: has t0303 changed?" >&2
    status=1
fi
if grep -q '^not ok' "$work/applies.tap"; then status=1; fi

only=$(printf '%s,' "${NOT_APPLICABLE[@]}")
echo "# t0303, the cases that cannot apply (each must fail: authcli hands back no password git gave it)"
t0303 "${only%,}" >"$work/na.tap" || true
for name in "${NOT_APPLICABLE[@]}"; do
    if grep -q "^not ok [0-9]* - helper (authcli) $name\$" "$work/na.tap"; then
        echo "# as expected, not applicable: $name"
    else
        echo "git-t0303: '$name' did not fail: authcli returned a stored password, or t0303 changed" >&2
        grep "$name" "$work/na.tap" >&2 || true
        status=1
    fi
done
[ "$status" = 0 ] && echo "# git-t0303: every case that applies passed"
exit "$status"
