#!/bin/sh
# A Secret Service for a headless server: a D-Bus session bus and an unlocked
# gnome-keyring that outlive this terminal, for flashtop (and anything else that
# uses the OS keyring). Like ssh-agent, it prints the environment to use:
#
#     eval "$(sh contrib/headless/keyring-session.sh)"   # asks for the keyring password
#     tmux new -s flashtop                               # every pane shares the keyring
#     flashtop login
#
# Run it once per boot, BEFORE the tmux server starts (a running tmux server keeps
# the environment it started with: then also run
#     tmux set-environment -g DBUS_SESSION_BUS_ADDRESS "$DBUS_SESSION_BUS_ADDRESS"
# so that new panes see the bus). `dbus-run-session -- tmux` does not work: that bus
# ends when the tmux client exits or detaches, while the tmux server keeps pointing
# at it.
#
# The password unlocks (or, the first time, creates) the login keyring under
# ~/.local/share/keyrings; it is read from standard input, never from arguments.
# Where the user's systemd session bus exists (loginctl enable-linger), it is used
# instead of starting a bus. Needs: dbus-daemon, gnome-keyring-daemon.
set -eu

runtime="${XDG_RUNTIME_DIR:-}"
if [ -z "$runtime" ] || [ ! -d "$runtime" ]; then
    runtime="${TMPDIR:-/tmp}/flashtop-$(id -u)"
    mkdir -p "$runtime"
    chmod 700 "$runtime"
fi

bus_alive() {
    # A bus address whose socket exists and answers.
    case "$1" in
        unix:path=*) sock="${1#unix:path=}"; sock="${sock%%,*}"; [ -S "$sock" ] ;;
        *) return 1 ;;
    esac
}

address=""
if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && bus_alive "$DBUS_SESSION_BUS_ADDRESS"; then
    address="$DBUS_SESSION_BUS_ADDRESS"      # already in one (e.g. systemd's user bus)
elif bus_alive "unix:path=$runtime/bus"; then
    address="unix:path=$runtime/bus"         # the user's systemd bus, or ours from before
else
    address="unix:path=$runtime/bus"
    # --fork: the bus belongs to no terminal, so logging out does not end it.
    dbus-daemon --session --fork --nopidfile --address="$address" >/dev/null
fi
DBUS_SESSION_BUS_ADDRESS="$address"
export DBUS_SESSION_BUS_ADDRESS

if [ -t 0 ]; then
    printf 'keyring password: ' >&2
    stty -echo
    trap 'stty echo' EXIT
    IFS= read -r password
    stty echo
    trap - EXIT
    printf '\n' >&2
else
    IFS= read -r password || true
fi
# --daemonize: the keyring outlives this script; --unlock reads the password on stdin;
# --replace: running this again replaces the keyring daemon of this bus, not adds one.
printf "%s" "$password" | gnome-keyring-daemon --replace --daemonize --unlock --components=secrets \
    >/dev/null
password=""

printf "DBUS_SESSION_BUS_ADDRESS='%s'; export DBUS_SESSION_BUS_ADDRESS;\n" "$address"
printf "echo 'Secret Service ready on %s' >&2;\n" "$address"
