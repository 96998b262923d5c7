// The seeds' "Mix it up" architecture (as examples/python/mix.py): one app, three stores —
// settings in a JSON file of this device, reference data loaded read-only from a URL (the
// remote persister; --catalog URL, else this app serves its own catalog with an ETag), and the
// user's notes in a MergeableStore kept in SQLite and synced through a sync server. Usage:
//   MixApp [--dir .] [--url ws://127.0.0.1:8043/notes] [--catalog URL] [--name NAME] note|list [text]

import com.sun.net.httpserver.HttpServer
import dev.tinystore.*
import java.io.File
import java.net.InetSocketAddress

const val CATALOG = """[{"species":{"dog":{"lifespan":13},"cat":{"lifespan":15},"parrot":{"lifespan":50}}},{"updated":"2026-12-01"}]"""

/** Serves [CATALOG] at /catalog.json with an ETag (304 when unchanged), as a CDN would. */
fun serveCatalog(): Pair<HttpServer, String> {
    val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
    server.createContext("/catalog.json") { ex ->
        val etag = "\"catalog-1\""
        ex.responseHeaders.add("ETag", etag)
        when {
            ex.requestHeaders.getFirst("If-None-Match") == etag -> ex.sendResponseHeaders(304, -1)
            ex.requestMethod == "HEAD" -> ex.sendResponseHeaders(200, -1)
            else -> {
                val body = CATALOG.toByteArray()
                ex.sendResponseHeaders(200, body.size.toLong())
                ex.responseBody.write(body)
            }
        }
        ex.close()
    }
    server.start()
    return server to "http://127.0.0.1:${server.address.port}/catalog.json"
}

fun main(args: Array<String>) {
    var dir = "."
    var url = "ws://127.0.0.1:8043/notes"
    var catalogUrl: String? = null
    var name: String? = null
    val rest = mutableListOf<String>()
    var i = 0
    while (i < args.size) {
        when (args[i]) {
            "--dir" -> dir = args[++i]
            "--url" -> url = args[++i]
            "--catalog" -> catalogUrl = args[++i]
            "--name" -> name = args[++i]
            else -> rest.add(args[i])
        }
        i++
    }
    File(dir).mkdirs()

    // 1. Settings: a plain Store in a JSON file, local to this device.
    val settings = createStore()
    createFilePersister(settings, File(dir, "settings.json").path).use { p ->
        p.load("""[{},{"theme":"light","name":"anonymous"}]""")
        p.startAutoSave()
        if (name != null) settings.setValue("name", name)
        p.shutdown()
    }

    // 2. Reference data: read-only from a URL.
    val catalog = createStore()
    val served = if (catalogUrl == null) serveCatalog() else null
    createRemotePersister(catalog, catalogUrl ?: served!!.second).use { it.load(null) }
    served?.first?.stop(0)

    // 3. The user's notes: a MergeableStore in SQLite, synced through the server.
    val notes = createMergeableStore()
    createSqlitePersister(notes, File(dir, "notes.sqlite").path).use { persister ->
        persister.startAutoPersisting(null, null, false)
        val sync = try {
            createWsSynchronizer(notes, url, WsSynchronizerOptions(connectTimeoutMs = 3000uL))
        } catch (e: TinystoreException.Sync) {
            System.err.println("offline (${e.reason}); using the local copy")
            null
        }
        sync?.startSync(null)
        if (rest.getOrNull(0) == "note") {
            val id = java.util.UUID.randomUUID().toString().take(6)
            notes.setRow("notes", id, mapOf("text" to (rest.getOrNull(1) ?: ""), "by" to settings.value("name")))
        }
        println("settings: theme=${settings.value("theme")} name=${settings.value("name")}")
        val species = catalog.getRowIds("species").joinToString(", ") {
            "$it (${catalog.cell("species", it, "lifespan")} years)"
        }
        println("catalog: $species")
        for (id in notes.getRowIds("notes")) {
            println("note $id: ${notes.cell("notes", id, "text")} (by ${notes.cell("notes", id, "by")})")
        }
        sync?.shutdown()
        persister.shutdown()
    }
}
