// A todo list kept in SQLite on this device and synced through a sync server
// (`tinystore serve --db server.sqlite`). Usage:
//   TodoApp [--db todo.sqlite] [--url ws://127.0.0.1:8043/todos] add|done|undo|remove|list [arg]
// Each run loads the local database, syncs with the room, applies the command, prints the
// list and leaves; offline, it works on the local copy and merges on the next sync.

import dev.tinystore.*
import kotlin.system.exitProcess

fun printTodos(store: MergeableStore) {
    for (id in store.getSortedRowIds("todos", "created")) {
        val done = store.cell("todos", id, "done") == true
        println("[${if (done) "x" else " "}] $id: ${store.cell("todos", id, "text")}")
    }
}

fun main(args: Array<String>) {
    var db = "todo.sqlite"
    var url = "ws://127.0.0.1:8043/todos"
    val rest = mutableListOf<String>()
    var i = 0
    while (i < args.size) {
        when (args[i]) {
            "--db" -> db = args[++i]
            "--url" -> url = args[++i]
            else -> rest.add(args[i])
        }
        i++
    }
    val command = rest.getOrNull(0) ?: "list"
    val arg = rest.getOrNull(1)

    val store = createMergeableStore()
    store.setTablesSchemaJson(
        """{"todos":{"text":{"type":"string"},"done":{"type":"boolean","default":false},"created":{"type":"number","default":0}}}""",
    )
    createSqlitePersister(store, db).use { persister ->
        persister.startAutoPersisting(null, null, false)
        val sync = try {
            createWsSynchronizer(store, url, WsSynchronizerOptions(connectTimeoutMs = 3000uL))
        } catch (e: TinystoreException.Sync) {
            System.err.println("offline (${e.reason}); using the local copy")
            null
        }
        sync?.startSync(null)
        when (command) {
            "add" -> {
                val created = store.getRowIds("todos").maxOfOrNull { (store.cell("todos", it, "created") as? Long) ?: 0L } ?: 0L
                // Random ids: two devices adding offline must not pick the same one.
                val id = java.util.UUID.randomUUID().toString().take(6)
                store.setRow("todos", id, mapOf("text" to (arg ?: ""), "created" to created + 1))
                println("added $id")
            }
            "done", "undo" -> {
                if (arg == null || !store.hasRow("todos", arg)) {
                    System.err.println("no todo $arg")
                    exitProcess(1)
                }
                store.setCell("todos", arg, "done", command == "done")
            }
            "remove" -> store.delRow("todos", arg ?: "")
        }
        printTodos(store)
        sync?.shutdown() // waits for the close handshake: the changes went out
        persister.shutdown()
    }
}
