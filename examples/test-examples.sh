#!/usr/bin/env bash
# Runs the Python and Kotlin todo examples, and the Python "Mix it up" example, against one
# `tinystore serve` (used by
# `make examples-test`): Python adds a todo, Kotlin sees it and ticks it off, Python sees that,
# each with its own local SQLite database. Needs: target/release/tinystore, the Python package
# in $PYTHON's environment, and the tinystore JAR in the local Maven repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
MVN=${MVN:-mvn}
work=$(mktemp -d)
coproc SERVER { exec "$root/target/release/tinystore" serve --port 0 --db "$work/server.sqlite"; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$work"' EXIT
port=
while read -r line <&"${SERVER[0]}"; do
    case $line in PORT\ *) port=${line#PORT };; READY) break;; esac
done
[[ -n $port ]] || { echo "tinystore serve did not start"; exit 1; }
url="ws://127.0.0.1:$port/todos"

py() { "$PYTHON" "$root/examples/python/todo.py" --db "$work/py.sqlite" --url "$url" "$@"; }
kt() {
    "$MVN" -B -q -Dstyle.color=never -f "$root/examples/kotlin/pom.xml" exec:java \
        -Dexec.args="--db $work/kt.sqlite --url $url $*" | sed 's/\x1b\[[0-9;]*m//g'
}

"$MVN" -B -q -f "$root/examples/kotlin/pom.xml" compile
id=$(py add "buy milk" | sed -n 's/^added //p')
[[ -n $id ]] || { echo "the Python example did not add a todo"; exit 1; }
kt list | tee "$work/kt1.txt"
grep -qx "\[ \] $id: buy milk" "$work/kt1.txt" || { echo "Kotlin did not get the todo from Python"; exit 1; }
kt done "$id" >/dev/null
py list | tee "$work/py2.txt"
grep -qx "\[x\] $id: buy milk" "$work/py2.txt" || { echo "Python did not get Kotlin's change"; exit 1; }
# Offline: the local copy is still there.
"$PYTHON" "$root/examples/python/todo.py" --db "$work/py.sqlite" --url "ws://127.0.0.1:1/todos" list 2>/dev/null \
    | grep -qx "\[x\] $id: buy milk" || { echo "the local SQLite copy was not kept"; exit 1; }
# "Mix it up": settings in a file, reference data from a URL, notes synced through the server.
mix() { "$PYTHON" "$root/examples/python/mix.py" --url "ws://127.0.0.1:$port/notes" "$@"; }
mix --dir "$work/mix-a" --name ada note "call the vet" | tee "$work/mix-a.txt"
grep -q "^catalog: dog (13 years), cat (15 years), parrot (50 years)$" "$work/mix-a.txt" \
    || { echo "the mix example did not load the catalog from its URL"; exit 1; }
mix --dir "$work/mix-b" list | tee "$work/mix-b.txt"
grep -q "^note [0-9a-f]*: call the vet (by ada)$" "$work/mix-b.txt" \
    || { echo "the mix example's note did not reach another device"; exit 1; }
grep -q "^settings: theme=light name=anonymous$" "$work/mix-b.txt" \
    || { echo "device b's settings are not its own"; exit 1; }
grep -q '"name":"ada"' "$work/mix-a/settings.json" \
    || { echo "device a's settings file does not hold its name"; exit 1; }
"$MVN" -B -q -Dstyle.color=never -f "$root/examples/kotlin/pom.xml" exec:java -Dexec.mainClass=MixAppKt \
    -Dexec.args="--dir $work/mix-c --url ws://127.0.0.1:$port/notes --name grace note feed-the-cat" \
    | sed 's/\x1b\[[0-9;]*m//g' | tee "$work/mix-c.txt"
grep -q "^catalog: dog (13 years), cat (15 years), parrot (50 years)$" "$work/mix-c.txt" \
    || { echo "the Kotlin mix example did not load the catalog from its URL"; exit 1; }
grep -q "^note [0-9a-f]*: call the vet (by ada)$" "$work/mix-c.txt" \
    || { echo "the Kotlin mix example did not get Python's note"; exit 1; }
mix --dir "$work/mix-a" list | grep -q "^note [0-9a-f-]*: feed-the-cat (by grace)$" \
    || { echo "Python did not get the Kotlin mix example's note"; exit 1; }
echo "examples: 5 passed, 0 failed"
