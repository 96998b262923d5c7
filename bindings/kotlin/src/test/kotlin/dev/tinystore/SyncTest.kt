package dev.tinystore

import java.io.File
import java.net.ServerSocket
import java.nio.file.Files
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.test.fail
import kotlinx.coroutines.runBlocking

class SyncTest {
    private fun converge(a: MergeableStore, b: MergeableStore) {
        waitUntil { a.getJson() == b.getJson() && a.getMergeableContentHashes() == b.getMergeableContentHashes() }
    }

    @Test
    fun localBusAndListenersFromSync() {
        val bus = LocalBus()
        val a = createMergeableStore("a")
        val b = createMergeableStore("b")
        val seen = mutableListOf<String>()
        b.addCellListener(null, null, null) { t, r, c, _, _ -> seen.add("$t/$r/$c") }
        val sa = bus.createSynchronizer(a)
        val sb = bus.createSynchronizer(b)
        sa.startSync(null)
        sb.startSync(null)
        a.setCell("pets", "fido", "species", "dog")
        bus.flush()
        assertEquals("dog", b.cell("pets", "fido", "species"))
        assertEquals(listOf("pets/fido/species"), seen)
        assertTrue(sa.getSynchronizerStats().sends > 0u)
        sa.shutdown()
        sb.shutdown()
        assertTrue(sa.isDestroyed())
    }

    @Test
    fun customTransportWrittenInKotlin() {
        val queue = LinkedBlockingQueue<Triple<String, String?, String>>()
        val peers = java.util.concurrent.ConcurrentHashMap<String, Synchronizer>()
        val courier = thread(isDaemon = true) {
            while (true) {
                val (from, to, msg) = queue.take()
                if (from.isEmpty()) break
                peers.filterKeys { it != from && (to == null || it == to) }.values.forEach { it.receive(from, msg) }
            }
        }
        fun join(id: String, store: MergeableStore) =
            createCustomSynchronizer(store, syncTransport(close = { peers.remove(id) }) { to, msg -> queue.put(Triple(id, to, msg)) })
                .also { peers[id] = it }
        val a = createMergeableStore("a")
        val b = createMergeableStore("b")
        a.setRow("t", "r", mapOf("from" to "a"))
        val sa = join("A", a)
        val sb = join("B", b)
        sa.startSync(null)
        sb.startSync(null)
        b.setValue("fromB", 1)
        converge(a, b)
        sa.shutdown()
        assertTrue(!peers.containsKey("A"))
        sb.shutdown()
        queue.put(Triple("", null, ""))
        courier.join(5000)
    }

    @Test
    fun inProcessServerRelayAndRooms() {
        val dir = Files.createTempDirectory("tinystore-kt-sync").toFile()
        try {
            val db = File(dir, "rooms.sqlite").path
            createWsServer(0, db).use { server ->
                val rooms = mutableListOf<ServerEvent>()
                server.addPathIdsListener(serverListener { rooms.add(it) })
                val a = createMergeableStore()
                val b = createMergeableStore()
                createWsSynchronizer(a, "ws://127.0.0.1:${server.port}/room").use { sa ->
                    createWsSynchronizer(b, "ws://127.0.0.1:${server.port}/room").use { sb ->
                        assertEquals(ConnectionStatus.CONNECTED, sa.getConnectionStatus())
                        sa.startSync(null)
                        sb.startSync(null)
                        a.setCell("t", "r", "c", "hello")
                        converge(a, b)
                        assertEquals(listOf("room"), server.getPathIds())
                        assertEquals(ServerStats(1u, 2u), server.getStats())
                    }
                }
                assertTrue(ServerEvent.PathIds("room", true) in rooms)
                server.stop()
                assertTrue(!server.isRunning())
                assertFailsWith<TinystoreException.Destroyed> { server.getPathIds() }
            }
            createWsServer(0, db).use { server ->
                val late = createMergeableStore()
                createWsSynchronizer(late, "ws://127.0.0.1:${server.port}/room").use { s ->
                    s.startSync(null)
                    waitUntil { late.cell("t", "r", "c") == "hello" }
                }
            }
        } finally {
            dir.deleteRecursively()
        }
    }

    @Test
    fun aDeadFirstUrlFallsBackToTheNext() = ServerProcess.tinystore("--relay-only").use { server ->
        val a = createMergeableStore()
        val b = createMergeableStore()
        val options = WsSynchronizerOptions(fallbackUrls = listOf(server.url("todo")))
        createWsSynchronizer(a, "ws://127.0.0.1:1/todo", options).use { sa ->
            createWsSynchronizer(b, server.url("todo")).use { sb ->
                sa.startSync(null)
                sb.startSync(null)
                a.setRow("todos", "1", mapOf("text" to "via the fallback"))
                converge(a, b)
                assertEquals("via the fallback", b.cell("todos", "1", "text"))
            }
        }
    }

    @Test
    fun twoKotlinStoresThroughTinystoreServe() = ServerProcess.tinystore("--relay-only").use { server ->
        val a = createMergeableStore()
        val b = createMergeableStore()
        val fromSync = mutableListOf<String>()
        b.addRowListener("todos", null) { _, r -> fromSync.add(r) }
        createWsSynchronizer(a, server.url("todo")).use { sa ->
            createWsSynchronizer(b, server.url("todo")).use { sb ->
                sa.startSync(null)
                sb.startSync(null)
                a.setRow("todos", "1", mapOf("text" to "buy milk", "done" to false))
                b.setRow("todos", "2", mapOf("text" to "walk dog", "done" to false))
                a.transaction { a.setCell("todos", "1", "done", true) }
                converge(a, b)
                assertEquals(true, b.cell("todos", "1", "done"))
                assertTrue("1" in fromSync)
            }
        }
    }

    @Test
    fun twoKotlinStoresThroughTinybaseServer() = ServerProcess.tinybase().use { server ->
        val a = createMergeableStore()
        val b = createMergeableStore()
        createWsSynchronizer(a, server.url("kit")).use { sa ->
            createWsSynchronizer(b, server.url("kit")).use { sb ->
                sa.startSync(null)
                sb.startSync(null)
                a.setValue("greeting", "hello from kotlin")
                a.setCell("t", "r", "obj", mapOf("nested" to listOf(1, 2)))
                converge(a, b)
                assertEquals("hello from kotlin", b.value("greeting"))
            }
        }
    }

    /** A Python store and a Kotlin store converge through one `tinystore serve`. */
    @Test
    fun pythonAndKotlinConvergeThroughTinystoreServe() = ServerProcess.tinystore("--relay-only").use { server ->
        val python = System.getProperty("tinystore.python") ?: fail("system property tinystore.python is not set")
        val script = """
            import json, sys, time, tinystore
            s = tinystore.create_mergeable_store()
            sync = tinystore.create_ws_synchronizer(s, sys.argv[1])
            sync.start_sync()
            s.set_row("todos", "py", {"text": "from python", "done": False})
            deadline = time.time() + 30
            while time.time() < deadline and not s.has_row("todos", "kt"):
                time.sleep(0.02)
            s.set_cell("todos", "kt", "seen_by_python", True)
            deadline = time.time() + 30
            while time.time() < deadline and sys.stdin.readline().strip() != "done":
                pass
            print(json.dumps({"json": s.get_json(), "hashes": list(s.get_mergeable_content_hashes())}), flush=True)
            sync.destroy()
        """.trimIndent()
        val proc = ProcessBuilder(python, "-c", script, server.url("todo"))
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        try {
            val k = createMergeableStore()
            createWsSynchronizer(k, server.url("todo")).use { sync ->
                sync.startSync(null)
                k.setRow("todos", "kt", mapOf("text" to "from kotlin", "done" to false))
                waitUntil(30_000) { k.hasRow("todos", "py") && k.cell("todos", "kt", "seen_by_python") == true }
                proc.outputStream.write("done\n".toByteArray())
                proc.outputStream.flush()
                val line = proc.inputStream.bufferedReader().readLine() ?: fail("python printed nothing")
                assertTrue(proc.waitFor(30, TimeUnit.SECONDS))
                assertEquals(0, proc.exitValue())
                waitUntil { line.contains(Regex("\"json\": " + Regex.escape(quote(k.getJson())))) }
                val h = k.getMergeableContentHashes()
                assertTrue(line.contains("\"hashes\": [${h.tablesHash}, ${h.valuesHash}]"), "python: $line; kotlin: $h")
                assertEquals("from python", k.cell("todos", "py", "text"))
            }
        } finally {
            proc.destroy()
        }
    }

    private fun quote(s: String): String = buildString {
        append('"')
        for (c in s) when (c) {
            '"' -> append("\\\"")
            '\\' -> append("\\\\")
            else -> if (c.code > 126) append("\\u%04x".format(c.code)) else append(c)
        }
        append('"')
    }

    @Test
    fun connectAndServerErrors() {
        val port = ServerSocket(0).use { it.localPort }
        assertFailsWith<TinystoreException.Sync> {
            createWsSynchronizer(createMergeableStore(), "ws://127.0.0.1:$port/room", WsSynchronizerOptions(connectTimeoutMs = 2000uL))
        }
        assertFailsWith<TinystoreException.Sync> { createWsSynchronizer(createMergeableStore(), "http://nope/") }
        createWsServer(0).use { server ->
            assertFailsWith<TinystoreException.Server> { createWsServer(server.port) }
        }
    }

    @Test
    fun suspendVariants() = runBlocking {
        val server = createWsServerSuspending(0)
        val a = createMergeableStore()
        val b = createMergeableStore()
        val sa = createWsSynchronizerSuspending(a, "ws://127.0.0.1:${server.port}/r")
        val sb = createWsSynchronizerSuspending(b, "ws://127.0.0.1:${server.port}/r")
        sa.startSyncAsync(null)
        sb.startSyncAsync(null)
        a.setValue("v", 1)
        waitUntil { b.value("v") == 1L }
        sb.loadAsync(null)
        sa.shutdown()
        sb.shutdown()
        server.stopAsync()
        assertTrue(!server.isRunning())
    }
}
