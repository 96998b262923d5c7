#!/usr/bin/env bash
# The clean-room install test (`make dist-test`): what `make dist` put in dist/ installs and
# runs with no Rust toolchain, as a user installs it:
#   - Python: a fresh venv, `pip install dist/tinystore-*.whl`, the todo example synced through
#     `tinystore serve` between two devices;
#   - Kotlin: a Maven project outside the repository depending on dev.tinystore:tinystore from
#     the Maven repository in dist/ (the native library comes inside the JAR: no
#     jna.library.path), running the todo example against the same room;
#   - C: the SDK tarball unpacked elsewhere, the C example built with pkg-config and with CMake's
#     find_package, linked shared (it must load libtinystore.so.0 by its SONAME) and static.
# cargo and rustc are taken off PATH first; the test fails if they are still reachable.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
dist=$root/dist
PYTHON=${PYTHON:-python3}
MVN=${MVN:-mvn}
room=$target/clean-room
rm -rf "$room"
mkdir -p "$room"

version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$root/Cargo.toml" | head -1)
wheel=$(ls "$dist"/tinystore-"$version"-py3-none-*.whl 2>/dev/null | head -1)
sdk=$dist/tinystore-c-$version-linux-x86_64.tar.gz
[ -n "$wheel" ] && [ -f "$sdk" ] && [ -f "$dist/maven/dev/tinystore/tinystore/$version/tinystore-$version.jar" ] \
  || { echo "clean-room: dist/ is incomplete: run make dist" >&2; exit 1; }
server_bin=$target/release/tinystore
[ -x "$server_bin" ] || { echo "clean-room: $server_bin is missing (cargo build --release -p tinystore-cli)" >&2; exit 1; }
# Resolved before PATH loses them: the tools a user has (Python, a JDK and Maven, a C compiler).
PYTHON=$(command -v "$PYTHON")
MVN=$(command -v "$MVN")

# ---- no Rust toolchain -------------------------------------------------------------------
clean_path=
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ] || clean_path=${clean_path:+$clean_path:}$d
done
export PATH=$clean_path
unset CARGO RUSTC RUSTUP_HOME CARGO_HOME RUSTUP_TOOLCHAIN CARGO_TARGET_DIR
if command -v cargo >/dev/null || command -v rustc >/dev/null; then
  echo "clean-room: cargo or rustc is still on PATH" >&2
  exit 1
fi
echo "clean-room: no cargo, no rustc on PATH"

# ---- a sync server for the examples ----------------------------------------------------------
coproc SERVER { exec "$server_bin" serve --port 0 --db "$room/server.sqlite"; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID" 2>/dev/null || true' EXIT
port=
while read -r line <&"${SERVER[0]}"; do
  case $line in PORT\ *) port=${line#PORT };; READY) break;; esac
done
[ -n "$port" ] || { echo "clean-room: tinystore serve did not start" >&2; exit 1; }
url=ws://127.0.0.1:$port/todos

# ---- Python: the wheel in a fresh venv --------------------------------------------------------
"$PYTHON" -m venv "$room/venv"
"$room/venv/bin/python" -m pip install -q --disable-pip-version-check --no-index "$wheel"
(cd "$room" && "$room/venv/bin/python" -c 'import tinystore, sys; print("python: tinystore", tinystore.__version__, "from", tinystore.__file__)')
todo_py() { (cd "$room" && "$room/venv/bin/python" "$root/examples/python/todo.py" --url "$url" "$@"); }
id=$(todo_py --db "$room/phone.sqlite" add "buy milk" | sed -n 's/^added //p')
[ -n "$id" ] || { echo "clean-room: the Python example did not add a todo" >&2; exit 1; }
todo_py --db "$room/laptop.sqlite" list | grep -x "\[ \] $id: buy milk" >/dev/null \
  || { echo "clean-room: the todo did not reach the other Python device" >&2; exit 1; }
echo "python: the wheel installs and syncs (todo $id)"

# ---- Kotlin: a Maven project outside the repository --------------------------------------------
app=$room/kotlin-app
mkdir -p "$app/src/main/kotlin"
cp "$root/examples/kotlin/src/main/kotlin/TodoApp.kt" "$app/src/main/kotlin/"
kotlin_version=$(sed -n 's:.*<kotlin.version>\(.*\)</kotlin.version>.*:\1:p' "$root/bindings/kotlin/pom.xml")
cat >"$app/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>todo</artifactId>
  <version>1</version>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <kotlin.compiler.jvmTarget>17</kotlin.compiler.jvmTarget>
  </properties>
  <repositories>
    <repository><id>tinystore-dist</id><url>file://$dist/maven</url></repository>
  </repositories>
  <dependencies>
    <dependency><groupId>dev.tinystore</groupId><artifactId>tinystore</artifactId><version>$version</version></dependency>
  </dependencies>
  <build>
    <sourceDirectory>src/main/kotlin</sourceDirectory>
    <plugins>
      <plugin>
        <groupId>org.jetbrains.kotlin</groupId>
        <artifactId>kotlin-maven-plugin</artifactId>
        <version>$kotlin_version</version>
        <executions><execution><id>compile</id><goals><goal>compile</goal></goals></execution></executions>
      </plugin>
      <plugin>
        <groupId>org.codehaus.mojo</groupId>
        <artifactId>exec-maven-plugin</artifactId>
        <version>3.5.0</version>
        <configuration><mainClass>TodoAppKt</mainClass></configuration>
      </plugin>
    </plugins>
  </build>
</project>
EOF
# A local repository of its own, seeded with what Maven already downloaded but without any
# dev.tinystore artefact, so that the JAR can only come from dist/.
m2=$room/m2
if [ -d "$HOME/.m2/repository" ]; then cp -a "$HOME/.m2/repository" "$m2"; else mkdir -p "$m2"; fi
rm -rf "$m2/dev/tinystore"
kt() {
  "$MVN" -B -q --no-transfer-progress -Dstyle.color=never -Dmaven.repo.local="$m2" -f "$app/pom.xml" \
    compile exec:java -Dexec.args="--db $room/kotlin.sqlite --url $url $*" | sed 's/\x1b\[[0-9;]*m//g'
}
kt list | tee "$room/kt.txt"
grep -qx "\[ \] $id: buy milk" "$room/kt.txt" || { echo "clean-room: Kotlin did not get the todo" >&2; exit 1; }
[ -f "$m2/dev/tinystore/tinystore/$version/tinystore-$version.jar" ] \
  || { echo "clean-room: the JAR did not come from dist/maven" >&2; exit 1; }
echo "kotlin: the JAR from dist/maven loads its own libtinystore and syncs"

# ---- C: the SDK tarball --------------------------------------------------------------------
tar -C "$room" -xzf "$sdk"
prefix=$room/tinystore-c-$version-linux-x86_64
cc -o "$room/quickstart_pc" "$root/examples/c/quickstart.c" -std=c99 -D_POSIX_C_SOURCE=200809L \
  -Wall -Wextra -Werror $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs tinystore) \
  -Wl,-rpath,"$prefix/lib"
readelf -d "$room/quickstart_pc" | grep 'Shared library: \[libtinystore.so.0\]' >/dev/null \
  || { echo "clean-room: the program does not load libtinystore by its SONAME" >&2; exit 1; }
(cd "$room" && ./quickstart_pc "" "$room/c.sqlite" >/dev/null)
# tinystore_version() is the file's version, and its major the SONAME's.
printf '#include <stdio.h>\n#include "tinystore.h"\nint main(void) { puts(tinystore_version()); return 0; }\n' \
  >"$room/version.c"
cc -o "$room/version" "$room/version.c" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs tinystore) \
  -Wl,-rpath,"$prefix/lib"
loaded=$("$room/version")
[ "$loaded" = "$version" ] && [ -f "$prefix/lib/libtinystore.so.$loaded" ] \
  && readelf -d "$prefix/lib/libtinystore.so.$loaded" | grep "soname: \[libtinystore.so.${loaded%%.*}\]" >/dev/null \
  || { echo "clean-room: tinystore_version() $loaded does not match the library file or its SONAME" >&2; exit 1; }
cmake -S "$root/examples/c" -B "$room/c-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$room/c-build" >/dev/null
(cd "$room/c-build" && ./quickstart >/dev/null && ./quickstart_static "" "$room/c-static.sqlite" >/dev/null)
echo "c: the SDK builds with pkg-config and CMake, shared (libtinystore.so.0) and static"
echo "clean-room: passed"
