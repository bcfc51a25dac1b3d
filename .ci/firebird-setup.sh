#!/usr/bin/env bash
# Install Firebird 3 from Debian's packages and make sure a server answers on 127.0.0.1:3050
# with SYSDBA / $FIREBIRD_SYSDBA_PASSWORD (default masterkey). Idempotent; run as root.
# Works without systemd: the server is started the way Debian's init script does it
# (fbguard as user firebird), not through invoke-rc.d, which policy-rc.d may forbid.
# See docs/firebird.md.
set -euo pipefail

PASSWORD=${FIREBIRD_SYSDBA_PASSWORD:-masterkey}
# The application user of MeteorDatabase's defaults (db_user / db_password).
APP_USER=${MPI_FIREBIRD_USER:-meteorpi}
APP_PASSWORD=${MPI_FIREBIRD_PASSWORD:-meteorpi}
PORT=3050
PACKAGES=(firebird3.0-server firebird3.0-server-core firebird3.0-utils libfbclient2)
RUN_DIR=/run/firebird3.0
PIDFILE=$RUN_DIR/firebird.pid          # written by fbguard; holds the *server's* pid
SECURITY_DB=/var/lib/firebird/3.0/system/security3.fdb
PASSWORD_FILE=/etc/firebird/3.0/SYSDBA.password
TEST_DIR=${MPI_FIREBIRD_TEST_DIR:-/var/lib/firebird/3.0/data/meteorpi-tests}

log() { echo "firebird-setup: $*"; }
sql_quote() { printf "%s" "$1" | sed "s/'/''/g"; }

if [ "$(id -u)" != 0 ]; then
    echo "firebird-setup: must run as root" >&2
    exit 1
fi

installed() {
    local package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || return 1
    done
}

install_packages() {
    log "installing ${PACKAGES[*]}"
    # The server package asks for the SYSDBA password (debconf, priority high): preseed it.
    # Its postinst sets it with isql-fb in embedded mode, so this works with no server running.
    debconf-set-selections <<EOF
firebird3.0-server shared/firebird/sysdba_password/first_install password $PASSWORD
firebird3.0-server shared/firebird/sysdba_password/new_password password $PASSWORD
EOF
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}" >/dev/null
}

server_pid() {
    # The running server's pid, if the pidfile names a live /usr/sbin/firebird.
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = /usr/sbin/firebird ] || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

login_ok() {
    # A service-manager attach checks the password without needing any database.
    fbsvcmgr "127.0.0.1/$PORT:service_mgr" -user SYSDBA -password "$1" -info_server_version >/dev/null 2>&1
}

prepare_dirs() {
    # Debian's init script makes the run directory; with no init system nobody else does.
    install -d -o firebird -g firebird -m 0770 "$RUN_DIR"
    # Lock files live in /tmp/firebird. An embedded (root) process that ran first may have
    # created it; the server (user firebird) must be able to write it.
    if [ -d /tmp/firebird ]; then
        chown firebird:firebird /tmp/firebird
        chmod 0770 /tmp/firebird
    fi
    chown firebird:firebird "$SECURITY_DB"
    chmod 0660 "$SECURITY_DB"
}

start_server() {
    log "starting fbguard"
    prepare_dirs
    rm -f "$PIDFILE"
    start-stop-daemon --start --quiet --chuid firebird:firebird --exec /usr/sbin/fbguard \
        -- -daemon -forever -pidfile "$PIDFILE"
}

stop_server() {
    # fbguard (the server's parent) stops the server when it gets SIGTERM.
    local pid guardian
    pid=$(server_pid) || return 0
    guardian=$(awk '{print $4}' "/proc/$pid/stat")
    log "stopping server $pid (guardian $guardian)"
    if [ "$(readlink -f "/proc/$guardian/exe" 2>/dev/null)" = /usr/sbin/fbguard ]; then
        kill -TERM "$guardian"
    else
        kill -TERM "$pid"
    fi
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    echo "firebird-setup: server $pid did not stop" >&2
    return 1
}

wait_for_port() {
    for _ in $(seq 1 60); do
        port_open && return 0
        sleep 0.5
    done
    echo "firebird-setup: nothing answers on 127.0.0.1:$PORT" >&2
    tail -n 20 /var/log/firebird/firebird3.0.log >&2 || true
    return 1
}

set_password_offline() {
    # The server holds security3.fdb exclusively, so stop it and set the password through
    # the embedded engine (what the package's postinst does).
    log "setting the SYSDBA password"
    stop_server
    printf "create or alter user SYSDBA password '%s' using plugin Srp;\ncommit;\n" \
        "$(sql_quote "$PASSWORD")" | isql-fb -q -user SYSDBA "$SECURITY_DB"
    cat >"$PASSWORD_FILE" <<EOF
# Password for firebird SYSDBA user (set by .ci/firebird-setup.sh)
ISC_USER=sysdba
ISC_PASSWORD="$PASSWORD"
EOF
    chmod 0600 "$PASSWORD_FILE"
    start_server
    wait_for_port
}

installed || install_packages

if ! server_pid >/dev/null || ! port_open; then
    # A server that lost its port (or a stale pidfile) is restarted from scratch.
    stop_server
    start_server
fi
wait_for_port

if ! login_ok "$PASSWORD"; then
    set_password_offline
    login_ok "$PASSWORD" || { echo "firebird-setup: SYSDBA login still fails" >&2; exit 1; }
fi

# Databases that the server creates must live where user firebird may write: this is the
# directory the test suite uses for server-mode test databases. setgid: files that root
# copies in get group firebird (they still need mode 0660 for the server to write them).
install -d -o firebird -g firebird -m 2770 "$TEST_DIR"

# The application user, allowed to create databases (Firebird 3 lets only SYSDBA and
# holders of CREATE DATABASE create them). GRANT CREATE DATABASE needs an attachment to
# some database, hence the throw-away one.
svc=(fbsvcmgr "127.0.0.1/$PORT:service_mgr" -user SYSDBA -password "$PASSWORD")
if ! "${svc[@]}" -action_display_user -sec_username "$APP_USER" 2>/dev/null | grep -qi "^${APP_USER} "; then
    log "creating user $APP_USER"
    "${svc[@]}" -action_add_user -sec_username "$APP_USER" -sec_password "$APP_PASSWORD"
    grant_db="$TEST_DIR/.grant-$$.fdb"
    printf "create database '127.0.0.1/%s:%s' user 'SYSDBA' password '%s';\ngrant create database to user %s;\ncommit;\ndrop database;\n" \
        "$PORT" "$grant_db" "$(sql_quote "$PASSWORD")" "$APP_USER" | isql-fb -q
fi

log "Firebird $(fbsvcmgr "127.0.0.1/$PORT:service_mgr" -user SYSDBA -password "$PASSWORD" \
    -info_server_version 2>/dev/null | sed -n 's/^Server version: //p') ready on 127.0.0.1:$PORT (pid $(server_pid))"
