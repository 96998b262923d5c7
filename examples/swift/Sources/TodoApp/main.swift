// A todo list kept in SQLite on this device and synced through a sync server
// (`tinystore serve --db server.sqlite`). Usage:
//   TodoApp [--db todo.sqlite] [--url ws://127.0.0.1:8043/todos] add|done|undo|remove|list [arg]
import Foundation
import TinyStore

var db = "todo.sqlite"
var url = "ws://127.0.0.1:8043/todos"
var rest: [String] = []
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let arg = arguments.next() {
    switch arg {
    case "--db": db = arguments.next() ?? db
    case "--url": url = arguments.next() ?? url
    default: rest.append(arg)
    }
}
let command = rest.first ?? "list"
let argument = rest.count > 1 ? rest[1] : nil

let store = createMergeableStore()
try store.setTablesSchemaJson(json: #"{"todos":{"text":{"type":"string"},"done":{"type":"boolean","default":false},"created":{"type":"number","default":0}}}"#)

// Local first: load what this device has, then save every change as it happens.
let persister = try createSqlitePersister(store, db)
try await persister.startAutoPersistingAsync(initial: nil, intervalMs: nil, saveFirst: false)

var sync: WsSynchronizer? = nil
do {
    sync = try await createWsSynchronizerAsync(
        store: store, url: url, options: WsSynchronizerOptions(connectTimeoutMs: 3000), onIgnoredError: nil)
    try await sync?.startSyncAsync(initial: nil)
} catch {
    FileHandle.standardError.write(Data("offline (\(error)); using the local copy\n".utf8))
}

switch command {
case "add":
    let created = store.getRowIds(tableId: "todos").compactMap { id -> Double? in
        if case .num(let n) = store.cell("todos", id, "created") { return n }
        return nil
    }.max() ?? 0
    // Random ids: two devices adding offline must not pick the same one.
    let id = String(UUID().uuidString.prefix(6)).lowercased()
    try store.transaction {
        try store.setCell("todos", id, "text", .str(value: argument ?? ""))
        try store.setCell("todos", id, "created", .num(value: created + 1))
    }
    print("added \(id)")
case "done", "undo":
    guard let id = argument, store.hasRow(tableId: "todos", rowId: id) else {
        FileHandle.standardError.write(Data("no todo \(argument ?? "")\n".utf8))
        exit(1)
    }
    try store.setCell("todos", id, "done", .bool(value: command == "done"))
case "remove":
    try store.delRow(tableId: "todos", rowId: argument ?? "")
default:
    break
}

let args = SortedRowIdsArgs(tableId: "todos", cellId: "created")
for id in store.getSortedRowIds(args: args, sorter: nil) {
    let done = store.cell("todos", id, "done") == .bool(value: true)
    var text = ""
    if case .str(let t) = store.cell("todos", id, "text") { text = t }
    print("[\(done ? "x" : " ")] \(id): \(text)")
}
sync?.shutdown()  // waits for the close handshake: the changes went out
persister.shutdown()
