// swift-tools-version:5.10
// The TinyStore Swift package: the UniFFI-generated bindings of libtinystore
// (Sources/TinyStore/TinyStore.swift, Sources/TinyStoreFFI/include) plus an idiomatic layer
// (Sources/TinyStore/TinyStore+Idioms.swift). See README.md.
//
// On Apple platforms the native library comes from TinyStoreFFI.xcframework, built by
// build-xcframework.sh (iOS device, iOS simulator, macOS). Elsewhere (Linux) the FFI module is
// a system library: build libtinystore with cargo and pass its folder to the linker, e.g.
//   swift test -Xlinker -L../../target/release
import PackageDescription

#if canImport(Darwin)
let ffiTarget: Target = .binaryTarget(name: "TinyStoreFFI", path: "TinyStoreFFI.xcframework")
#else
let ffiTarget: Target = .systemLibrary(name: "TinyStoreFFI", path: "Sources/TinyStoreFFI")
#endif

let package = Package(
    name: "TinyStore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "TinyStore", targets: ["TinyStore"]),
    ],
    targets: [
        ffiTarget,
        .target(name: "TinyStore", dependencies: ["TinyStoreFFI"], path: "Sources/TinyStore"),
        .testTarget(name: "TinyStoreTests", dependencies: ["TinyStore"], path: "Tests/TinyStoreTests"),
    ]
)
