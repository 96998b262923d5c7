#!/usr/bin/env bash
# Builds the prebuilt artefacts users install without a Rust toolchain, into dist/ (used by
# `make dist`; the generated Kotlin sources must exist: `make bindings`):
#
#   ffi/dist.sh          everything below
#   ffi/dist.sh wheel    only the wheel, into target/wheels (what `make py-install` installs:
#                        the Python tests run on the very wheel that ships)
#
#   dist/tinystore-<v>-py3-none-manylinux_2_17_x86_64...whl   one wheel for every CPython >= 3.9
#   dist/tinystore-<v>.tar.gz                                  the sdist (builds from source)
#   dist/tinystore-c-<v>-linux-x86_64.tar.gz                   the C SDK
#   dist/maven/dev/tinystore/tinystore/<v>/                    JAR (native library inside),
#                                                              sources and javadoc JARs, POM
#
# One release build of libtinystore serves them all: maturin builds it for the wheel with zig
# as the linker against glibc 2.17 (so that the library loads on any Linux of the last ten
# years), and the C SDK and the JAR take that same library out of the wheel (the C SDK's
# static library is cargo's release build, which the tests use: maturin builds no staticlib). Then checks: the SONAME, the exported symbols, the wheel's tags
# (auditwheel), and what each archive holds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
dist=$root/dist
venv=$target/dist-venv
triple=x86_64-unknown-linux-gnu
PYTHON=${PYTHON:-python3}
MVN=${MVN:-mvn}

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "dist.sh: builds on x86_64 Linux only" >&2; exit 1; }
header=include/tinystore.h
part() { sed -n "s/^#define TINYSTORE_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$header"; }
version=$(part MAJOR).$(part MINOR).$(part PATCH)
major=$(part MAJOR)
crate_version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' Cargo.toml | head -1)
[ "$version" = "$crate_version" ] || { echo "dist.sh: header $version, crate $crate_version" >&2; exit 1; }

phase=${1:-all}
case $phase in wheel | all) ;; *) echo "usage: ffi/dist.sh [wheel|all]" >&2; exit 2 ;; esac
wheels=$target/wheels

# ---- the tools, pinned, in their own venv ------------------------------------------------
# (maturin runs zig as `python -m ziglang`.)
if ! [ -x "$venv/bin/maturin" ] || ! [ -x "$venv/bin/auditwheel" ] || ! [ -x "$venv/bin/wheel" ] \
  || ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    maturin==1.16.0 ziglang==0.13.0.post1 auditwheel==6.8.2 wheel==0.45.1
fi
export PATH=$venv/bin:$PATH

# ---- the wheel (and with it, the one build of libtinystore) ---------------------------------
# (From the package's directory: maturin reads pyproject.toml there, which names ffi/Cargo.toml.)
# strip=none: cargo's release default (strip debuginfo) becomes zig's strip-everything, which
# drops the symbol table UniFFI's bindgen reads the metadata from.
rm -rf "$wheels"
(cd bindings/python \
  && CARGO_PROFILE_RELEASE_STRIP=none \
    maturin build --release --zig --compatibility manylinux2014 --target "$triple" --out "$wheels")
wheel=$(ls "$wheels"/tinystore-"$version"-*.whl)
# The library as built keeps Rust std's debug sections (strip=none); UniFFI's bindgen has read
# the symbol table by now, so the wheel ships it without them (a third of its size): unpack,
# strip, pack again (`wheel pack` rewrites RECORD's hashes).
unpacked=$target/wheel-unpacked
rm -rf "$unpacked"
wheel unpack -d "$unpacked" "$wheel" >/dev/null
strip --strip-debug "$unpacked/tinystore-$version/tinystore/tinystore/libtinystore.so"
rm "$wheel"
wheel pack -d "$wheels" "$unpacked/tinystore-$version" >/dev/null
wheel=$(ls "$wheels"/tinystore-"$version"-*.whl)
# The library exactly as the wheel ships it; the C SDK and the JAR take it from there.
libdir=$target/dist-lib
rm -rf "$libdir"
mkdir -p "$libdir"
(cd "$libdir" && unzip -q -j "$wheel" 'tinystore/tinystore/libtinystore.so')
lib=$libdir/libtinystore.so
[ -f "$lib" ] || { echo "dist.sh: the wheel holds no tinystore/tinystore/libtinystore.so" >&2; exit 1; }
if readelf -S "$lib" | grep '\.debug_' >/dev/null; then
  echo "dist.sh: the wheel's libtinystore.so still has debug sections" >&2; exit 1
fi
echo "wheel: $(basename "$wheel"), $(($(stat -c %s "$wheel") / 1024)) KiB"
case $wheel in
  *-py3-none-*manylinux_2_17_x86_64*) ;;
  *) echo "dist.sh: the wheel is not py3-none-manylinux_2_17: $wheel" >&2; exit 1 ;;
esac
auditwheel show "$wheel" | tee "$target/dist-auditwheel.txt"
grep -q 'manylinux_2_17_x86_64' "$target/dist-auditwheel.txt" \
  || { echo "dist.sh: auditwheel does not find the wheel manylinux_2_17-compatible" >&2; exit 1; }

# ---- what the library exports, and its SONAME ----------------------------------------------
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libtinystore.so.$major" ] \
  || { echo "dist.sh: SONAME is '$soname', not libtinystore.so.$major" >&2; exit 1; }
others=$(nm -D --defined-only "$lib" | awk '{print $3}' \
  | grep -Ev '^(tinystore_|uniffi_tinystore_|ffi_tinystore_|UNIFFI_META_)' || true)
[ -z "$others" ] || { echo "dist.sh: libtinystore exports more than its API:" >&2; echo "$others" >&2; exit 1; }
newest_glibc=$(objdump -T "$lib" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "libtinystore.so: SONAME $soname, $(nm -D --defined-only "$lib" | grep -c ' T tinystore_') C functions, needs $newest_glibc"
[ "$phase" = all ] || exit 0

rm -rf "$dist"
mkdir -p "$dist"
cp "$wheel" "$dist/"
(cd bindings/python && maturin sdist --out "$dist")

# ---- the C SDK -----------------------------------------------------------------------------
c_name=tinystore-c-$version-linux-x86_64
stage=$target/dist-stage
rm -rf "$stage"
mkdir -p "$stage/lib"
# maturin builds only the cdylib: the static library is cargo's release build of the same
# sources (`make bindings`, which the tests use), object files the user's linker binds.
static=$target/release/libtinystore.a
[ -f "$static" ] || { echo "dist.sh: $static is missing (make bindings)" >&2; exit 1; }
cp "$lib" "$stage/lib/libtinystore.so"
cp "$static" "$stage/lib/"
sh ffi/install.sh --from "$stage/lib" --prefix "$stage/$c_name"
cp include/README.md "$stage/$c_name/README.md"
tar -C "$stage" -czf "$dist/$c_name.tar.gz" "$c_name"
tar -tzf "$dist/$c_name.tar.gz" | sort | sed 's/^/  /'

# ---- the JAR with the native library inside (JNA's resource layout), sources, javadoc ------
native=$target/dist-native
rm -rf "$native"
mkdir -p "$native/linux-x86-64"
cp "$stage/lib/libtinystore.so" "$native/linux-x86-64/libtinystore.so"
"$MVN" -B -q --no-transfer-progress -f bindings/kotlin/pom.xml -Pdist -DskipTests \
  -Dtinystore.native.dir="$native" package
jars=$target/kotlin
for f in "tinystore-$version.jar" "tinystore-$version-sources.jar" "tinystore-$version-javadoc.jar"; do
  [ -f "$jars/$f" ] || { echo "dist.sh: Maven built no $f" >&2; exit 1; }
done
unzip -l "$jars/tinystore-$version.jar" | grep ' linux-x86-64/libtinystore.so$' >/dev/null \
  || { echo "dist.sh: the JAR lacks linux-x86-64/libtinystore.so" >&2; exit 1; }
"$MVN" -B -q --no-transfer-progress deploy:deploy-file -DrepositoryId=dist \
  -Durl="file://$dist/maven" -DpomFile=bindings/kotlin/pom.xml \
  -Dfile="$jars/tinystore-$version.jar" -Dsources="$jars/tinystore-$version-sources.jar" \
  -Djavadoc="$jars/tinystore-$version-javadoc.jar"

echo "dist: $(cd "$dist" && find . -type f | sort | tr '\n' ' ')"
