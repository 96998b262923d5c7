#!/usr/bin/env bash
# Builds the Android library (AAR) of tinystore: libtinystore.so for the NDK ABIs, the Kotlin
# bindings generated with Android's cleaner, and the idiomatic layer, as a Gradle module.
#
# Needs (none of them are on the project's CI machines, so this is documented, not run in CI):
#   - the Android SDK + NDK (ANDROID_NDK_HOME), e.g. through Android Studio's SDK manager
#   - rustup targets:  rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android
#   - cargo-ndk:       cargo install cargo-ndk --locked
#   - Gradle 8.7+ (or a wrapper: `gradle wrapper` in this folder) with the Android Gradle plugin
#
# Usage: bindings/kotlin/android/build-aar.sh [--abis "arm64-v8a armeabi-v7a x86_64"]
# Output: bindings/kotlin/android/build/outputs/aar/tinystore-release.aar
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
abis="arm64-v8a armeabi-v7a x86_64 x86"
if [[ "${1:-}" == "--abis" ]]; then abis=$2; fi

cd "$root"
# 1. libtinystore.so per ABI into src/main/jniLibs/<abi>/ (cargo-ndk picks the NDK linker and
#    sets the API level; 24 = Android 7.0).
args=()
for abi in $abis; do args+=(-t "$abi"); done
cargo ndk "${args[@]}" --platform 24 -o "$here/src/main/jniLibs" build --release -p tinystore-ffi

# 2. The Kotlin bindings, from the host build of the same sources (the metadata is the same on
#    every target), with Android's cleaner.
cargo build --release -p tinystore-ffi
cargo build -p uniffi-bindgen
rm -rf "$here/src/main/kotlin/dev/tinystore/tinystore.kt"
target/debug/uniffi-bindgen generate target/release/libtinystore.so -l kotlin --no-format \
    --config "$here/uniffi-android.toml" -o "$here/src/main/kotlin"

# 3. The idiomatic layer is shared with the JVM build.
cp "$root/bindings/kotlin/src/main/kotlin/dev/tinystore/Extensions.kt" "$here/src/main/kotlin/dev/tinystore/"

# 4. The AAR.
cd "$here"
gradle --no-daemon assembleRelease
echo "built $here/build/outputs/aar/tinystore-release.aar"
