package dev.tinystore

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** The remote persister against the JDK's HTTP server; Yjs and Automerge persisters
 * exchanging their documents' bytes. */
class DocPersistTest {
    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
    private var doc: ByteArray? = null
    private var version = 0
    private val requests = mutableListOf<String>()

    init {
        server.createContext("/doc") { ex ->
            synchronized(requests) { requests.add("${ex.requestMethod} ${ex.requestHeaders.getFirst("If-None-Match")}") }
            when (ex.requestMethod) {
                "POST" -> {
                    doc = ex.requestBody.readBytes()
                    version++
                    ex.sendResponseHeaders(200, -1)
                }
                else -> {
                    val body = doc
                    val etag = "\"$version\""
                    if (body == null) {
                        ex.sendResponseHeaders(404, -1)
                    } else if (ex.requestHeaders.getFirst("If-None-Match") == etag) {
                        ex.responseHeaders.add("ETag", etag)
                        ex.sendResponseHeaders(304, -1)
                    } else {
                        ex.responseHeaders.add("ETag", etag)
                        if (ex.requestMethod == "HEAD") {
                            ex.sendResponseHeaders(200, -1)
                        } else {
                            ex.sendResponseHeaders(200, body.size.toLong())
                            ex.responseBody.write(body)
                        }
                    }
                }
            }
            ex.close()
        }
        server.start()
    }

    private val url = "http://127.0.0.1:${server.address.port}/doc"

    @AfterTest
    fun stop() = server.stop(0)

    @Test
    fun remotePersisterSavesLoadsAndPolls() {
        val s = createStore()
        s.setValue("open", true)
        val writer = createRemotePersister(s, url, url)
        assertEquals(listOf(url, url), writer.getUrls())
        writer.save()
        assertEquals("""[{},{"open":true}]""", doc!!.decodeToString())

        val reader = createStore()
        val p = createRemotePersister(reader, url, null, 0.1)
        p.startAutoLoad(null, null)
        assertEquals(true, reader.value("open"))
        waitUntil { synchronized(requests) { requests.contains("HEAD \"1\"") } }
        s.setValue("open", false)
        writer.save()
        waitUntil { reader.value("open") == false }
        p.shutdown()
        assertFailsWith<TinystoreException.Persist> { p.save() }
        assertFailsWith<TinystoreException.Persist> {
            createRemotePersister(createStore(), "http://127.0.0.1:${server.address.port}/missing").load(null)
        }
    }

    @Test
    fun yjsAndAutomergePersistersExchangeUpdates() {
        for (kind in listOf("yjs", "automerge")) {
            val a = createStore()
            val b = createStore()
            val (pa, pb) = if (kind == "yjs") {
                val ya = createYjsPersister(a)
                val yb = createYjsPersister(b)
                ya.addUpdateListener { yb.applyUpdate(it) }
                yb.addUpdateListener { ya.applyUpdate(it) }
                Pair(ya as Any, yb as Any)
            } else {
                val ma = createAutomergePersister(a)
                val mb = createAutomergePersister(b)
                ma.addUpdateListener { mb.applyUpdate(it) }
                mb.addUpdateListener { ma.applyUpdate(it) }
                Pair(ma as Any, mb as Any)
            }
            fun start(p: Any) = when (p) {
                is YjsPersister -> p.startAutoPersisting(null, 50uL, false)
                is AutomergePersister -> p.startAutoPersisting(null, 50uL, false)
                else -> error("unknown persister")
            }
            start(pa)
            start(pb)
            a.setCell("pets", "fido", "species", "dog")
            waitUntil { b.cell("pets", "fido", "species") == "dog" }
            b.setValue("open", true)
            waitUntil { a.value("open") == true }
            val bytes = when (pa) {
                is YjsPersister -> pa.encodeUpdate()
                is AutomergePersister -> pa.encodeUpdate()
                else -> error("unknown persister")
            }
            assertTrue(bytes.isNotEmpty(), kind)
            val c = createStore()
            if (kind == "yjs") {
                val pc = createYjsPersister(c)
                pc.applyUpdate(bytes)
                pc.load(null)
                assertFailsWith<TinystoreException.Persist> { pc.applyUpdate(byteArrayOf(1, 2, 3)) }
            } else {
                val pc = createAutomergePersister(c)
                pc.applyUpdate(bytes)
                pc.load(null)
                assertFailsWith<TinystoreException.Persist> { pc.applyUpdate(byteArrayOf(1, 2, 3)) }
            }
            assertEquals(a.getJson(), c.getJson(), kind)
        }
    }
}
