package dev.tinystore

import java.io.File
import java.nio.file.Files
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking

class MergeableTest {
    @Test
    fun mergeConvergesContentAndHashes() {
        val a = createMergeableStore("a")
        val b = createMergeableStore("b")
        a.setCell("pets", "fido", "species", "dog")
        b.setValue("open", true)
        val seen = mutableListOf<String>()
        b.addCellListener(null, null, null) { _, r, _, _, _ -> seen.add(r) }
        a.merge(b)
        assertEquals(a.getJson(), b.getJson())
        assertEquals(a.getMergeableContentHashes(), b.getMergeableContentHashes())
        assertNotEquals(0u, a.getMergeableContentHashes().tablesHash)
        assertEquals(a.getMergeableTableHashes(), b.getMergeableTableHashes())
        assertEquals(setOf("open"), a.getMergeableValueHashes().keys)
        assertEquals(listOf("fido"), seen)
        assertTrue(a.isMergeable())
        assertEquals(5, a.getClientId().length)
    }

    @Test
    fun contentAndChangesRoundTrip() {
        val a = createMergeableStore("a")
        a.setCell("t", "r", "c", mapOf("x" to listOf(1, 2)))
        val b = createMergeableStore("b")
        b.setMergeableContentJson(a.getMergeableContentJson())
        assertEquals("""{"x":[1,2]}""", b.cell("t", "r", "c"))
        var changes = ""
        a.addDidFinishTransactionListener { changes = a.getTransactionMergeableChangesJson(false) }
        a.setCell("t", "r", "d", 5)
        val c = createMergeableStore()
        c.applyMergeableChangesJson(changes)
        assertEquals(5L, c.cell("t", "r", "d"))
        val d = createMergeableStore()
        d.setDefaultContentJson("""[{"t":{"r":{"d":0,"e":1}}},{}]""")
        d.applyMergeableChangesJson(changes)
        assertEquals(5L, d.cell("t", "r", "d"))
        assertEquals(1L, d.cell("t", "r", "e"))
        assertEquals(a.getJson(), a.asStore().getJson())
    }

    @Test
    fun invalidPayloadsChangeNothing() {
        val m = createMergeableStore()
        m.setCell("t", "r", "c", 1)
        val before = m.getMergeableContentJson()
        assertFailsWith<TinystoreException.Mergeable> { m.applyMergeableChangesJson("[1,2") }
        assertFailsWith<TinystoreException.Mergeable> { m.setMergeableContentJson("""{"not":"content"}""") }
        assertEquals(before, m.getMergeableContentJson())
    }
}

class PersistTest {
    private val dir: File = Files.createTempDirectory("tinystore-kt").toFile()

    @AfterTest
    fun cleanup() {
        dir.deleteRecursively()
    }

    private fun fill(s: StoreInterface) {
        s.setRow("pets", "fido", mapOf("species" to "dog"))
        s.setValue("open", "yes")
    }

    @Test
    fun sqliteJsonRoundTrip() {
        val db = File(dir, "app.sqlite").path
        val s = createStore().also(::fill)
        createSqlitePersister(s, db).use { p ->
            p.save()
            assertEquals(PersistStats(0u, 1u), p.getStats())
            assertEquals(db, p.getPath())
        }
        val again = createStore()
        createSqlitePersister(again, db).load(null)
        assertEquals(s.getJson(), again.getJson())
    }

    @Test
    fun sqliteMergeableAndTabular() {
        val m = createMergeableStore()
        m.setCell("t", "r", "c", "x")
        createSqlitePersister(m, File(dir, "m.sqlite").path).save()
        val m2 = createMergeableStore()
        createSqlitePersister(m2, File(dir, "m.sqlite").path).load(null)
        assertEquals(m.getMergeableContentHashes(), m2.getMergeableContentHashes())

        val s = createStore().also(::fill)
        createSqlitePersister(s, File(dir, "t.sqlite").path, sqliteTabularConfig(listOf("pets"))).save()
        val s2 = createStore()
        createSqlitePersister(s2, File(dir, "t.sqlite").path, sqliteTabularConfig(listOf("pets"))).load(null)
        assertEquals(s.getJson(), s2.getJson())
        assertFailsWith<TinystoreException.Persist> {
            createSqlitePersister(m, File(dir, "x.sqlite").path, sqliteTabularConfig(listOf("t")))
        }
    }

    @Test
    fun fileAutoSaveStatusAndAutoLoad() {
        val path = File(dir, "store.json")
        val s = createStore()
        val p = createFilePersister(s, path.path)
        val statuses = mutableListOf<Status>()
        p.addStatusListener { statuses.add(it) }
        p.startAutoSave()
        s.setValue("open", true)
        assertEquals("""[{},{"open":true}]""", path.readText())
        assertEquals(listOf(Status.SAVING, Status.IDLE, Status.SAVING, Status.IDLE), statuses)
        p.shutdown()
        assertTrue(!p.isAutoSaving())

        val reader = createStore()
        val rp = createFilePersister(reader, path.path)
        rp.startAutoLoad(null, 50uL)
        assertEquals(true, reader.value("open"))
        val writer = createStore()
        writer.setValue("open", false)
        createFilePersister(writer, path.path).save()
        waitUntil { reader.value("open") == false }
        rp.stopAutoLoad()
    }

    @Test
    fun customPersisterAndErrors() {
        var doc: String? = null
        val s = createStore().also(::fill)
        val p = createCustomPersister(s, { doc }, { doc = it })
        p.save()
        assertEquals(s.getJson(), doc)
        val s2 = createStore()
        createCustomPersister(s2, { doc }, { }).load(null)
        assertEquals(s.getJson(), s2.getJson())

        val broken = createCustomPersister(createStore(), { throw java.io.IOException("no disk") }, { throw java.io.IOException("read-only") })
        assertFailsWith<TinystoreException.Persist> { broken.load(null) }
        val bad = createCustomPersister(createStore(), { "not json" }, { })
        assertFailsWith<TinystoreException.Persist> { bad.load(null) }
        assertFailsWith<TinystoreException.Persist> { bad.save() }
        bad.allowOverwrite()
        bad.save()
    }

    @Test
    fun suspendLoadAndSave() = runBlocking {
        val db = File(dir, "async.sqlite").path
        val s = createStore().also(::fill)
        createSqlitePersister(s, db).saveAsync()
        val s2 = createStore()
        createSqlitePersister(s2, db).loadAsync(null)
        assertEquals(s.getJson(), s2.getJson())
    }
}
