#!/usr/bin/env bash
# Records the exact SQL that TinyBase 10.0.1's PostgresPersister runs, into
# tests/interop/postgres/sql/ (see sql/FACTS.md for what they show). Each scenario runs on a fresh
# database so that "new table" means new. `*.jsonl` are TinyBase's onSqlCommand calls;
# `*.driver.jsonl` are everything the postgres driver sent (incl. LISTEN, which TinyBase issues
# through sql.listen rather than as a command). Needs `make kit`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
KIT="$TARGET/kit"
PG="$ROOT/tests/postgres/pg.sh"
OUT="$ROOT/tests/interop/postgres/sql"
WORK="$TARGET/pg-record"

[ -d "$KIT/node_modules/tinybase" ] || {
	echo "record-sql.sh: run 'make kit' first" >&2
	exit 1
}
cp "$ROOT/tests/interop/postgres/tb-postgres.mjs" "$KIT/tb-postgres.mjs"
TB=(node "$KIT/tb-postgres.mjs")
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
rm -f "$OUT"/*.jsonl
cd "$WORK"

"$PG" start >/dev/null
TABULAR='{"mode":"tabular","tables":{"load":{"pets":"pets"},"save":{"pets":"pets"}},"values":{"load":true,"save":true}}'
cat >content.json <<'EOF'
[{"pets":{"fido":{"species":"dog","legs":4},"felix":{"species":"cat","legs":4}}},{"open":true}]
EOF
cat >content2.json <<'EOF'
[{"pets":{"fido":{"species":"dog","legs":5}}},{"open":false}]
EOF
echo '[["setCell","pets","fido","legs",3]]' >one-cell.json

# watch in the background until a second process's save of FILE reaches it.
watch_and_save() { # LOG_NAME CONFIG_ARGS... -- (uses $URL, saves content.json)
	local name="$1"
	shift
	"${TB[@]}" watch --url "$URL" "$@" --expect content.json --timeout-ms 15000 \
		--sql-log "$OUT/$name.jsonl" --driver-log "$OUT/$name.driver.jsonl" >watch.out &
	local pid=$!
	for _ in $(seq 1 200); do
		grep -q READY watch.out && break
		sleep 0.05
	done
	"${TB[@]}" save --url "$URL" "$@" --in content.json
	wait "$pid"
}

URL="$("$PG" createdb record_json)"
"${TB[@]}" save --url "$URL" --table tinybase --in content.json --sql-log "$OUT/json-save-new-table.jsonl"
"${TB[@]}" load --url "$URL" --table tinybase --sql-log "$OUT/json-load.jsonl" >/dev/null
"${TB[@]}" save --url "$URL" --table tinybase --in content2.json --sql-log "$OUT/json-save-existing-table.jsonl"

URL="$("$PG" createdb record_json_mergeable)"
"${TB[@]}" save --url "$URL" --table tinybase --in content.json --store mergeable \
	--unique-id record --fixed-now 1700000000000 --sql-log "$OUT/json-mergeable-save-new-table.jsonl"

URL="$("$PG" createdb record_json_autoload)"
watch_and_save json-auto-load --table tinybase

URL="$("$PG" createdb record_json_autosave)"
"${TB[@]}" auto-save --url "$URL" --table tinybase --ops one-cell.json --pre content.json \
	--sql-log "$OUT/json-auto-save-new-table.jsonl" --sql-log-marks >/dev/null

URL="$("$PG" createdb record_tabular)"
"${TB[@]}" save --url "$URL" --config "$TABULAR" --in content.json --sql-log "$OUT/tabular-save-new-tables.jsonl"
"${TB[@]}" load --url "$URL" --config "$TABULAR" --sql-log "$OUT/tabular-load.jsonl" >/dev/null
"${TB[@]}" auto-save --url "$URL" --config "$TABULAR" --pre content.json --ops one-cell.json \
	--sql-log "$OUT/tabular-auto-save-one-cell.jsonl" --sql-log-marks \
	--driver-log "$OUT/tabular-auto-save-one-cell.driver.jsonl" >/dev/null
# Only what the one-cell change caused (after the {"mark":"ops"} line).
sed -n '/"mark":"ops"/,$p' "$OUT/tabular-auto-save-one-cell.jsonl" | tail -n +2 \
	>"$OUT/tabular-auto-save-one-cell.after-ops.jsonl"

URL="$("$PG" createdb record_tabular_autoload)"
watch_and_save tabular-auto-load --config "$TABULAR"

echo "recorded into $OUT:" >&2
ls "$OUT" >&2
