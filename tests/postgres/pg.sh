#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, under ${CARGO_TARGET_DIR:-<repo>/target}/pg.
#
#   pg.sh start           initdb (once) and start the cluster if it is not running; prints the
#                         base URL postgres://postgres@127.0.0.1:PORT as the last stdout line
#   pg.sh stop            fast shutdown, if running
#   pg.sh restart         immediate (crash-like) stop, then start again on the same port
#   pg.sh url             the base URL of the started cluster
#   pg.sh createdb NAME   a fresh empty database NAME (dropped first if it exists); prints its URL
#
# Every command that changes the cluster holds an flock on pg/lock, so test processes may call
# this concurrently. The server keeps fsync on: the kill -9 and restart tests rely on durability.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
PGDIR="$TARGET/pg"
DATA="$PGDIR/data"
RUN="$PGDIR/run"
LOG="$PGDIR/log"
PORT_FILE="$PGDIR/port"
LOCK="$PGDIR/lock"

say() { echo "pg.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

usage() {
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# The newest installed server; Debian puts each major version under /usr/lib/postgresql/N.
find_bin() {
	local initdb
	initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
	[ -n "$initdb" ] && dirname "$initdb"
}

ensure_binaries() {
	BIN="$(find_bin || true)"
	if [ -z "$BIN" ]; then
		if [ "$(id -u)" -ne 0 ]; then
			die "PostgreSQL server binaries are missing (no /usr/lib/postgresql/*/bin/initdb): install Debian's 'postgresql' package (apt-get install -y postgresql) or run the tests as root"
		fi
		say "installing PostgreSQL (apt-get install -y postgresql)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update >&2 || die "apt-get update failed"
		apt-get install -y postgresql >&2 || die "apt-get install -y postgresql failed"
		BIN="$(find_bin || true)"
		[ -n "$BIN" ] || die "PostgreSQL was installed but /usr/lib/postgresql/*/bin/initdb is still missing"
	fi
}

# initdb, pg_ctl and postgres refuse to run as root: as root they run as the 'postgres' user.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

prepare_dirs() {
	mkdir -p "$PGDIR" "$RUN"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' system user to run the server as"
		chown -R postgres: "$PGDIR"
		as_owner test -w "$PGDIR" ||
			die "user 'postgres' cannot write $PGDIR (a parent directory is not searchable by it?)"
	fi
}

# A postmaster killed with -9 can stay a zombie where PID 1 does not reap (containers): pg_ctl
# status would call it running and the new postmaster would refuse its lock file. Its backends
# exit on their own once it is dead, so a zombie's lock files (data dir, socket dir, both private
# to this cluster) are removed after a moment.
is_running() {
	[ -f "$DATA/PG_VERSION" ] || return 1
	local pid
	pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
	if [ -n "$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ]; then
		say "the postmaster ($pid) is a zombie: removing its stale postmaster.pid"
		sleep 1
		rm -f "$DATA/postmaster.pid" "$RUN"/.s.PGSQL.*
		return 1
	fi
	as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	die "found no free TCP port on 127.0.0.1"
}

init_cluster() {
	[ -f "$DATA/PG_VERSION" ] && return 0
	rm -rf "$DATA"
	say "initdb $DATA"
	as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale --no-sync >"$PGDIR/initdb.log" 2>&1 ||
		{
			tail -n 30 "$PGDIR/initdb.log" >&2
			die "initdb failed"
		}
	echo "include_if_exists = 'tinystore.conf'" >>"$DATA/postgresql.conf"
}

# Rewritten at every start so that the port and paths follow the current target dir.
write_settings() {
	cat >"$DATA/tinystore.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$RUN'
max_connections = 300
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
	[ "$(id -u)" -ne 0 ] || chown postgres: "$DATA/tinystore.conf"
}

start_locked() {
	ensure_binaries
	prepare_dirs
	init_cluster
	if is_running && [ -s "$PORT_FILE" ]; then
		return 0
	fi
	local port attempt
	for attempt in 1 2 3 4 5; do
		# The port of an earlier start is kept (a restart must come back on the same port, and
		# servers under test reconnect to it); a plain start moves on if someone else took it.
		if [ -s "$PORT_FILE" ] && { [ -n "${KEEP_PORT:-}" ] || ! port_in_use "$(cat "$PORT_FILE")"; }; then
			port="$(cat "$PORT_FILE")"
		else
			port="$(pick_port)"
		fi
		write_settings "$port"
		: >"$LOG"
		[ "$(id -u)" -ne 0 ] || chown postgres: "$LOG"
		# fd 9 (the lock) must not be inherited by the server, or it would hold the lock forever.
		if as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 start >/dev/null 2>&1 9>&-; then
			echo "$port" >"$PORT_FILE"
			return 0
		fi
		# Someone else bound the port between the check and the server's bind.
		if grep -q 'could not bind\|Address already in use' "$LOG" && [ "$attempt" -lt 5 ]; then
			if [ -n "${KEEP_PORT:-}" ]; then
				sleep 1
			else
				say "port $port is taken, trying another"
				rm -f "$PORT_FILE"
			fi
			continue
		fi
		break
	done
	say "the PostgreSQL cluster in $DATA did not start; the end of $LOG:"
	tail -n 40 "$LOG" >&2 || true
	exit 1
}

base_url() {
	[ -s "$PORT_FILE" ] || die "the cluster has not been started (no $PORT_FILE): run pg.sh start"
	echo "postgres://postgres@127.0.0.1:$(cat "$PORT_FILE")"
}

# Runs the rest of the command line with the lock held.
locked() {
	mkdir -p "$PGDIR"
	exec 9>>"$LOCK"
	flock 9
	"$@"
}

stop_locked() {
	BIN="$(find_bin || true)"
	[ -n "$BIN" ] || return 0
	if is_running; then
		as_owner "$BIN/pg_ctl" -D "$DATA" -m "$1" -w -t 120 stop >/dev/null
	fi
}

createdb_locked() {
	local name="$1"
	start_locked
	local port
	port="$(cat "$PORT_FILE")"
	PGOPTIONS='-c client_min_messages=warning' "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" >&2 ||
		die "could not create database $name"
}

cmd="${1:-}"
case "$cmd" in
start)
	locked start_locked
	base_url
	;;
stop)
	locked stop_locked fast
	;;
restart)
	locked stop_locked immediate
	KEEP_PORT=1 locked start_locked
	base_url
	;;
url)
	base_url
	;;
createdb)
	[ $# -eq 2 ] || usage
	[[ "$2" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] ||
		{
			say "database name must be letters, digits and _ (at most 63): $2"
			exit 2
		}
	locked createdb_locked "$2"
	echo "$(base_url)/$2"
	;;
*)
	usage
	;;
esac
