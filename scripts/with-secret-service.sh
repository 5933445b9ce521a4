#!/bin/sh
# Run a command inside a private D-Bus session with a throwaway, unlocked gnome-keyring,
# so tests exercise a real Secret Service without ever touching the user's own keyring.
# Usage: scripts/with-secret-service.sh COMMAND [ARGS...]
# (see ../shared/notes/ci-keyring.md for why each step is there)
set -eu
if [ -z "${AUTHCLI_IN_PRIVATE_BUS:-}" ]; then
    export AUTHCLI_IN_PRIVATE_BUS=1
    exec dbus-run-session -- "$0" "$@"
fi

keyring_home=$(mktemp -d)
export XDG_DATA_HOME="$keyring_home/data" XDG_RUNTIME_DIR="$keyring_home/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

printf %s "throwaway-$$" | gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$keyring_home/daemon.log" 2>&1 &
daemon=$!

ready=0
for _ in $(seq 1 50); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" != 1 ]; then
    echo "with-secret-service: gnome-keyring-daemon did not come up:" >&2
    grep -v 'fd limit' "$keyring_home/daemon.log" >&2 || true
    kill "$daemon" 2>/dev/null || true
    exit 1
fi

export AUTHCLI_TEST_SECRET_SERVICE=1
status=0
"$@" || status=$?
kill "$daemon" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
rm -rf "$keyring_home"
exit "$status"
