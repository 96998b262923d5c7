// swift-tools-version:5.10
// Swift example: a todo list persisted to SQLite and synced through `tinystore serve`.
// Build TinyStoreFFI.xcframework first (bindings/swift/build-xcframework.sh), then:
//   swift run TodoApp --db phone.sqlite add "buy milk"
import PackageDescription

let package = Package(
    name: "TodoApp",
    platforms: [.macOS(.v12)],
    dependencies: [.package(path: "../../bindings/swift")],
    targets: [
        .executableTarget(name: "TodoApp", dependencies: [.product(name: "TinyStore", package: "swift")]),
    ]
)
