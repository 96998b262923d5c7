#!/bin/sh
# Installs libtinystore for C and C++ users under a prefix:
#   <prefix>/include/tinystore.h
#   <prefix>/lib/libtinystore.so.<version>, its SONAME link libtinystore.so.<major> and
#     libtinystore.so (on macOS: libtinystore.dylib), and libtinystore.a
#   <prefix>/lib/pkgconfig/tinystore.pc           pkg-config --cflags --libs tinystore
#   <prefix>/lib/cmake/tinystore/*.cmake          find_package(tinystore) in CMake
#
# usage: ffi/install.sh [--prefix DIR] [--profile release|debug] [--no-build] [--from DIR]
#   --prefix DIR   where to install (default /usr/local)
#   --profile P    the cargo profile to install from (default release)
#   --no-build     install what target/<profile> already holds (no cargo build)
#   --from DIR     install the libraries DIR holds (implies --no-build; make dist)
# CARGO_TARGET_DIR is honoured.
set -eu

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
prefix=/usr/local
profile=release
build=1
from=
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --profile) profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    --from) from=$2; build=0; shift 2 ;;
    --from=*) from=${1#*=}; build=0; shift ;;
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
libs=${from:-$target/$profile}
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
case $shared in
  *.so)
    # The real file carries the full version, the SONAME link the ABI major (what programs
    # load), the plain name is for the linker's -ltinystore.
    install -m 755 "$libs/$shared" "$prefix/lib/$shared.$version"
    ln -sf "$shared.$version" "$prefix/lib/$shared.$major"
    ln -sf "$shared.$major" "$prefix/lib/$shared"
    shared_file=$shared.$version
    soname=$shared.$major
    ;;
  *)
    install -m 755 "$libs/$shared" "$prefix/lib/$shared"
    shared_file=$shared
    soname=
    ;;
esac
install -m 644 "$libs/libtinystore.a" "$prefix/lib/libtinystore.a"

subst() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    -e "s|@MINOR@|$minor|g" -e "s|@PRIVATE_LIBS@|$private_libs|g" \
    -e "s|@SHARED_FILE@|$shared_file|g" -e "s|@SONAME@|$soname|g" "$1" >"$2"
}
subst "$root/ffi/tinystore.pc.in" "$prefix/lib/pkgconfig/tinystore.pc"
subst "$root/ffi/cmake/tinystoreConfig.cmake.in" "$prefix/lib/cmake/tinystore/tinystoreConfig.cmake"
subst "$root/ffi/cmake/tinystoreConfigVersion.cmake.in" \
  "$prefix/lib/cmake/tinystore/tinystoreConfigVersion.cmake"
echo "installed libtinystore $version to $prefix"
