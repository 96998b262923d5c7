#!/usr/bin/env bash
# Smoke test of the PostgreSQL test infrastructure against real components: the throwaway cluster
# (tests/postgres/pg.sh) and TinyBase 10.0.1's PostgresPersister (target/kit/tb-postgres.mjs).
# Exits non-zero on the first mismatch. Needs `make kit` (the kit's node_modules) first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
KIT="$TARGET/kit"
PG="$ROOT/tests/postgres/pg.sh"
WORK="$TARGET/pg-smoke"

[ -d "$KIT/node_modules/tinybase" ] && [ -d "$KIT/node_modules/postgres" ] ||
	{
		echo "smoke.sh: the TinyBase kit is not installed in $KIT: run 'make kit'" >&2
		exit 1
	}
# The copy beside node_modules is what resolves its imports (make kit does the same).
cp "$ROOT/tests/interop/postgres/tb-postgres.mjs" "$KIT/tb-postgres.mjs"
TB=(node "$KIT/tb-postgres.mjs")
PEER=(node "$KIT/peer.mjs")

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

step() { echo "== $*" >&2; }
fail() {
	echo "smoke.sh: FAILED: $*" >&2
	exit 1
}
same() { # same FILE_A FILE_B [field]
	"${PEER[@]}" compare "$1" "$2" --field "${3:-content}" >/dev/null ||
		fail "$1 and $2 differ in ${3:-content}: $("${PEER[@]}" compare "$1" "$2" --field "${3:-content}" || true)"
}
# Waits until FILE has a line matching PATTERN (a background process printed READY).
wait_for() {
	for _ in $(seq 1 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no '$2' in $1 after 10 s: $(cat "$1" "${1%.out}.err" 2>/dev/null)"
}

"$PG" start >/dev/null
URL="$("$PG" createdb tinystore_smoke)"
step "database $URL"

cat >content.json <<'EOF'
[{"pets":{"fido":{"species":"dog","legs":4,"good":true,"tags":["a","b"]},"felix":{"species":"cat","legs":4,"good":false,"tags":[]}}},{"open":true,"name":"pet shop","rating":4.5}]
EOF

step "JSON mode, plain Store: save then load"
"${TB[@]}" save --url "$URL" --table tinybase --in content.json
"${TB[@]}" load --url "$URL" --table tinybase >plain.out
same content.json plain.out

step "JSON mode, MergeableStore: save, load (auto-detected as stamped), save the stamps again, load"
"${TB[@]}" save --url "$URL" --table tb_mergeable --in content.json --store mergeable \
	--unique-id smoke --fixed-now 1700000000000
"${TB[@]}" load --url "$URL" --table tb_mergeable >mergeable.out
same content.json mergeable.out
grep -q '"mergeableContent"' mergeable.out || fail "load --store auto did not pick a MergeableStore"
"${TB[@]}" save --url "$URL" --table tb_mergeable2 --in mergeable.out
"${TB[@]}" load --url "$URL" --table tb_mergeable2 --store mergeable >mergeable2.out
same mergeable.out mergeable2.out mergeableContent

step "tabular mode: save then load"
TABULAR='{"mode":"tabular","tables":{"load":{"pets":"pets"},"save":{"pets":"pets"}},"values":{"load":true,"save":true}}'
"${TB[@]}" save --url "$URL" --config "$TABULAR" --in content.json
"${TB[@]}" load --url "$URL" --config "$TABULAR" >tabular.out
same content.json tabular.out

step "tabular auto-save of one cell"
echo '[["setCell","pets","fido","legs",3]]' >ops.json
"${TB[@]}" auto-save --url "$URL" --config "$TABULAR" --pre content.json --ops ops.json >autosave.out
"${TB[@]}" load --url "$URL" --config "$TABULAR" >autosave-load.out
same autosave.out autosave-load.out
grep -q '"legs":3' autosave-load.out || fail "the auto-saved cell is not in the database"

step "watch (auto-load through LISTEN/NOTIFY) reaches what a second process saves"
cat >watched.json <<'EOF'
[{"t":{"r":{"c":"from another process"}}},{"v":1}]
EOF
"${TB[@]}" watch --url "$URL" --table tb_watched --expect watched.json --timeout-ms 15000 \
	>watch.out 2>watch.err &
WATCH=$!
PIDS+=("$WATCH")
wait_for watch.out READY
"${TB[@]}" save --url "$URL" --table tb_watched --in watched.json
wait "$WATCH" || fail "watch did not see the save: $(cat watch.err)"
tail -n 1 watch.out >watch.content
same watched.json watch.content

step "serve (createWsServer + createPostgresPersister): a client writes, a second client sees it"
# The pipe on stdin stops the server if this script dies; it is closed explicitly below.
exec 8> >(exec "${TB[@]}" serve --port 0 --url "$URL" >serve.out 2>serve.err)
SERVE=$!
PIDS+=("$SERVE")
wait_for serve.out READY
PORT="$(awk '/^PORT/{print $2}' serve.out)"
cat >client-ops.json <<'EOF'
[["setRow","pets","rex",{"species":"dog","legs":3}],["setValue","open",false]]
EOF
echo '[{"pets":{"rex":{"species":"dog","legs":3}}},{"open":false}]' >client-expect.json
"${PEER[@]}" client --url "ws://127.0.0.1:$PORT/smoke/room" --ops client-ops.json --wait-ms 300 \
	--out client-a.json --expect client-expect.json
"${PEER[@]}" client --url "ws://127.0.0.1:$PORT/smoke/room" --wait-ms 300 --out client-b.json \
	--expect client-expect.json || fail "the second client did not see the first one's write"
exec 8>&-
for _ in $(seq 1 100); do
	kill -0 "$SERVE" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$SERVE" 2>/dev/null && fail "serve did not stop when its stdin closed"
# The room's server store persisted to tinybase_<sanitized path>, readable by a plain load.
"${TB[@]}" load --url "$URL" --table tinybase_smoke_room --store mergeable >room.out
same client-expect.json room.out

echo "smoke.sh: all passed" >&2
