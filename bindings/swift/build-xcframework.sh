#!/usr/bin/env bash
# Builds TinyStoreFFI.xcframework (static libtinystore for iOS devices, the iOS simulator
# and macOS, with the UniFFI header and module map), which Package.swift uses on Apple
# platforms. Run on a Mac with Xcode and rustup:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin
#   bindings/swift/build-xcframework.sh
# Not run in CI (no Apple toolchain on the project's machines); see README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
for t in "${targets[@]}"; do
    cargo build --release -p tinystore-ffi --target "$t"
done

out="$root/target/xcframework"
rm -rf "$out" "$here/TinyStoreFFI.xcframework"
mkdir -p "$out/headers" "$out/ios-sim" "$out/macos"
cp "$here/Sources/TinyStoreFFI/include/tinystoreFFI.h" "$out/headers/"
cp "$here/Sources/TinyStoreFFI/include/tinystoreFFI.modulemap" "$out/headers/module.modulemap"

# One library per platform: fat (lipo) for the simulator's and the Mac's two architectures.
lipo -create target/aarch64-apple-ios-sim/release/libtinystore.a target/x86_64-apple-ios/release/libtinystore.a \
    -output "$out/ios-sim/libtinystore.a"
lipo -create target/aarch64-apple-darwin/release/libtinystore.a target/x86_64-apple-darwin/release/libtinystore.a \
    -output "$out/macos/libtinystore.a"

xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libtinystore.a -headers "$out/headers" \
    -library "$out/ios-sim/libtinystore.a" -headers "$out/headers" \
    -library "$out/macos/libtinystore.a" -headers "$out/headers" \
    -output "$here/TinyStoreFFI.xcframework"
echo "built $here/TinyStoreFFI.xcframework; now: cd bindings/swift && swift test"
