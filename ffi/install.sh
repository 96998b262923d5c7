#!/bin/sh
# Installs libtinystore for C and C++ users under a prefix:
#   <prefix>/include/tinystore.h
#   <prefix>/lib/libtinystore.so (.dylib) and libtinystore.a
#   <prefix>/lib/pkgconfig/tinystore.pc           pkg-config --cflags --libs tinystore
#   <prefix>/lib/cmake/tinystore/*.cmake          find_package(tinystore) in CMake
#
# usage: ffi/install.sh [--prefix DIR] [--profile release|debug] [--no-build]
#   --prefix DIR   where to install (default /usr/local)
#   --profile P    the cargo profile to install from (default release)
#   --no-build     install what target/<profile> already holds (no cargo build)
# CARGO_TARGET_DIR is honoured.
set -eu

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; }

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
prefix=/usr/local
profile=release
build=1
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --profile) profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

case $profile in
  release) cargo_flags=--release ;;
  debug) cargo_flags= ;;
  *) echo "install.sh: unknown profile $profile (release or debug)" >&2; exit 2 ;;
esac
if [ "$build" = 1 ]; then
  # shellcheck disable=SC2086
  cargo build $cargo_flags -p tinystore-ffi --manifest-path "$root/Cargo.toml"
fi

target=${CARGO_TARGET_DIR:-$root/target}
libs=$target/$profile
case $(uname -s) in
  Darwin)
    shared=libtinystore.dylib
    private_libs="-lpthread -lm"
    ;;
  *)
    shared=libtinystore.so
    private_libs="-lpthread -ldl -lm -lrt -lutil -lgcc_s"
    ;;
esac
for f in "$libs/$shared" "$libs/libtinystore.a"; do
  [ -f "$f" ] || { echo "install.sh: $f is missing (build the library, or drop --no-build)" >&2; exit 1; }
done

header=$root/include/tinystore.h
part() { sed -n "s/^#define TINYSTORE_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$header"; }
major=$(part MAJOR)
minor=$(part MINOR)
patch=$(part PATCH)
version=$major.$minor.$patch

mkdir -p "$prefix"
prefix=$(CDPATH= cd -- "$prefix" && pwd)
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/tinystore"
install -m 644 "$header" "$prefix/include/tinystore.h"
install -m 755 "$libs/$shared" "$prefix/lib/$shared"
install -m 644 "$libs/libtinystore.a" "$prefix/lib/libtinystore.a"

subst() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    -e "s|@MINOR@|$minor|g" -e "s|@PRIVATE_LIBS@|$private_libs|g" "$1" >"$2"
}
subst "$root/ffi/tinystore.pc.in" "$prefix/lib/pkgconfig/tinystore.pc"
subst "$root/ffi/cmake/tinystoreConfig.cmake.in" "$prefix/lib/cmake/tinystore/tinystoreConfig.cmake"
subst "$root/ffi/cmake/tinystoreConfigVersion.cmake.in" \
  "$prefix/lib/cmake/tinystore/tinystoreConfigVersion.cmake"
echo "installed libtinystore $version to $prefix"
