package dev.tinystore

import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield

class StoreTest {
    @Test
    fun cellsAndValuesRoundTrip() = createStore().use { s ->
        s.setCell("t", "r", "str", "dog")
        s.setCell("t", "r", "int", 4)
        s.setCell("t", "r", "dbl", 4.5)
        s.setCell("t", "r", "bool", true)
        s.setCell("t", "r", "null", null)
        s.setCell("t", "r", "obj", mapOf("a" to 1, "b" to listOf(1, "x", null)))
        s.setCell("t", "r", "raw", CellValue.Num(2.0))
        assertEquals("dog", s.cell("t", "r", "str"))
        assertEquals(4L, s.cell("t", "r", "int"))
        assertEquals(4.5, s.cell("t", "r", "dbl"))
        assertEquals(true, s.cell("t", "r", "bool"))
        assertNull(s.cell("t", "r", "null"))
        assertTrue(s.hasCell("t", "r", "null"))
        assertEquals("""{"a":1,"b":[1,"x",null]}""", s.cell("t", "r", "obj"))
        assertEquals(CellValue.Num(2.0), s.getCell("t", "r", "raw"))
        s.setValue("open", true)
        assertEquals(true, s.value("open"))
        assertEquals(listOf("str", "int", "dbl", "bool", "null", "obj", "raw"), s.getCellIds("t", "r"))
    }

    @Test
    fun gettersSettersJsonAndSchemas() = createStore().use { s ->
        s.setRow("pets", "fido", mapOf("species" to "dog", "price" to 5))
        s.setRow("pets", "felix", mapOf("species" to "cat", "price" to 4))
        assertEquals("0", s.addRow("pets", mapOf("species" to "fish", "price" to 1)))
        assertEquals(listOf("fido", "felix", "0"), s.getRowIds("pets"))
        assertEquals(3uL, s.getRowCount("pets"))
        assertEquals(listOf("0", "felix", "fido"), s.getSortedRowIds("pets", "price"))
        assertEquals(listOf("felix"), s.getSortedRowIds("pets", "price", descending = true, offset = 1, limit = 1))
        assertEquals(mapOf("species" to CellValue.Str("dog"), "price" to CellValue.Num(5.0)), s.getRow("pets", "fido"))
        assertEquals(setOf("fido", "felix", "0"), s.getTable("pets").keys)
        assertTrue(s.hasTable("pets") && s.hasRow("pets", "fido") && s.hasTableCell("pets", "price"))
        // JavaScript object order: array-index keys ("0") first, as TinyBase prints it.
        assertEquals("""[{"pets":{"0":{"species":"fish","price":1},"fido":{"species":"dog","price":5},"felix":{"species":"cat","price":4}}},{}]""", s.getJson())
        s.delRow("pets", "0")
        s.delCell("pets", "felix", "price", false)
        assertEquals("""{"species":"cat"}""", s.getRowJson("pets", "felix"))
        s.setValues(mapOf("open" to CellValue.Bool(true)))
        s.setPartialValues(mapOf("owner" to CellValue.Str("alice")))
        assertEquals(listOf("open", "owner"), s.getValueIds())
        s.delValue("owner")
        assertFalse(s.hasValue("owner"))

        val other = createStore()
        other.setJson(s.getJson())
        assertEquals(s.getJson(), other.getJson())
        other.setContent(mapOf("t" to mapOf("r" to mapOf("c" to CellValue.Num(1.0)))), mapOf())
        assertEquals("""[{"t":{"r":{"c":1}}},{}]""", other.getJson())

        s.setTablesSchemaJson("""{"pets":{"species":{"type":"string"},"legs":{"type":"number","default":4}}}""")
        assertTrue(s.hasTablesSchema())
        s.setRow("pets", "polly", mapOf("species" to "bird"))
        assertEquals(4L, s.cell("pets", "polly", "legs"))
        s.setCell("pets", "polly", "legs", "two")
        assertEquals(4L, s.cell("pets", "polly", "legs"))
        s.delSchema()
        assertFalse(s.hasTablesSchema())
        s.delTables()
        assertFalse(s.hasTables())
    }

    @Test
    fun transactions() = createStore().use { s ->
        val rows = mutableListOf<String>()
        s.addRowListener("t", null) { _, r -> rows.add(r) }
        s.transaction {
            s.setCell("t", "r", "a", 1)
            s.setCell("t", "r", "b", 2)
            assertTrue(s.isInTransaction())
            assertEquals(0, rows.size)
        }
        assertEquals(listOf("r"), rows)
        assertFailsWith<IllegalStateException> {
            s.transaction {
                s.setCell("t", "r", "a", 99)
                error("boom")
            }
        }
        assertEquals(1L, s.cell("t", "r", "a"))
        s.transaction(doRollback = { true }) { s.setCell("t", "r", "a", 5) }
        assertEquals(1L, s.cell("t", "r", "a"))
        s.startTransaction()
        s.setCell("t", "r", "a", 7)
        assertEquals(ChangeInfo(true, CellValue.Num(1.0), CellValue.Num(7.0)), s.getCellChange("t", "r", "a"))
        assertEquals("""[{"t":{"r":{"a":7}}},{},1]""", s.getTransactionChangesJson())
        s.finishTransaction(true)
        assertEquals(1L, s.cell("t", "r", "a"))
    }

    @Test
    fun everyListenerKind() = createStore().use { s ->
        val events = mutableListOf<StoreEvent>()
        val l = storeListener { events.add(it) }
        s.addHasTablesListener(l, false)
        s.addTablesListener(l, false)
        s.addTableIdsListener(l, false)
        s.addHasTableListener("t", l, false)
        s.addTableListener("t", l, false)
        s.addTableCellIdsListener("t", l, false)
        s.addHasTableCellListener("t", "c", l, false)
        s.addRowCountListener("t", l, false)
        s.addRowIdsListener("t", l, false)
        s.addSortedRowIdsListener(SortedRowIdsArgs("t", "c"), null, l, false)
        s.addHasRowListener("t", "r", l, false)
        s.addRowListener("t", "r", l, false)
        s.addCellIdsListener("t", "r", l, false)
        s.addHasCellListener("t", "r", "c", l, false)
        s.addCellListener("t", "r", "c", l, false)
        s.addInvalidCellListener(null, null, null, l, false)
        s.addHasValuesListener(l, false)
        s.addValuesListener(l, false)
        s.addValueIdsListener(l, false)
        s.addHasValueListener("v", l, false)
        s.addValueListener("v", l, false)
        s.addInvalidValueListener(null, l, false)
        s.addStartTransactionListener(l)
        s.addWillFinishTransactionListener(l)
        s.addDidFinishTransactionListener(l)
        assertEquals(1uL, s.getListenerStats().cell)
        s.transaction {
            s.setCell("t", "r", "c", 1)
            s.setValue("v", "x")
            s.setCell("t", "r", "bad", CellValue.Num(Double.NaN))
            s.setValue("bad", CellValue.Num(Double.POSITIVE_INFINITY))
        }
        assertEquals(StoreEvent.StartTransaction, events.first())
        assertEquals(StoreEvent.DidFinishTransaction, events.last())
        val kinds = events.map { it::class.simpleName }.toSet()
        assertEquals(25, kinds.size, "kinds seen: $kinds")
        assertTrue(StoreEvent.Cell("t", "r", "c", CellValue.Num(1.0), null) in events)
        assertTrue(StoreEvent.RowIds("t", listOf(IdChange("r", 1))) in events)
        assertTrue(StoreEvent.SortedRowIds("t", "c", false, 0uL, null, listOf("r")) in events)
        assertTrue(StoreEvent.Value("v", CellValue.Str("x"), null) in events)
        assertTrue(events.any { it is StoreEvent.InvalidCell && it.cellId == "bad" })
    }

    @Test
    fun lambdaListenersWildcardsAndDel() = createStore().use { s ->
        val seen = mutableListOf<Any?>()
        val id = s.addCellListener(null, null, "c") { t, r, _, new, old -> seen.add(listOf(t, r, new, old)) }
        s.setCell("a", "1", "c", "x")
        s.setCell("b", "2", "other", 1)
        assertEquals(listOf<Any?>(listOf("a", "1", "x", null)), seen)
        s.callListener(id)
        assertTrue(listOf("a", "1", "x", "x") in seen)
        val size = seen.size
        s.delListener(id)
        s.setCell("a", "1", "c", "y")
        assertEquals(size, seen.size)
        val values = mutableListOf<Any?>()
        s.addValueListener(null) { v, new, _ -> values.add(v to new) }
        s.setValue("open", false)
        assertEquals(listOf<Any?>("open" to false), values)
    }

    @Test
    fun mutatorListenerWrites() = createStore().use { s ->
        s.addCellListener("t", null, "price", mutator = true) { t, r, _, new, _ ->
            s.setCell(t, r, "tax", (new as Long) / 5)
        }
        s.setCell("t", "fido", "price", 10)
        assertEquals(2L, s.cell("t", "fido", "tax"))
    }

    @Test
    fun throwingListenerDoesNotBreakTheWrite() = createStore().use { s ->
        val errors = mutableListOf<Throwable>()
        val saved = onListenerError
        onListenerError = { errors.add(it) }
        try {
            s.addCellListener(null, null, null) { _, _, _, _, _ -> throw IllegalStateException("listener broke") }
            val after = mutableListOf<Any?>()
            s.addCellListener(null, null, null) { _, _, _, new, _ -> after.add(new) }
            s.setCell("t", "r", "c", 5)
            assertEquals(5L, s.cell("t", "r", "c"))
            assertEquals(listOf<Any?>(5L), after)
            assertEquals("listener broke", errors.single().message)
        } finally {
            onListenerError = saved
        }
        // A raw listener that throws: reported by the library, the write still happens.
        s.addValueListener(null, object : StoreListener {
            override fun onEvent(event: StoreEvent) = throw RuntimeException("raw listener broke")
        }, false)
        s.setValue("v", 1)
        assertEquals(1L, s.value("v"))
    }

    @Test
    fun flowOfChanges() = runBlocking {
        val s = createStore()
        val job = launch {
            val got = s.cellChanges("t").take(2).toList()
            assertEquals(listOf(CellValue.Num(1.0), CellValue.Num(2.0)), got.map { it.newCell })
        }
        while (s.getListenerStats().cell == 0uL) yield()
        s.setCell("t", "r", "c", 1)
        s.setCell("t", "r", "c", 2)
        job.join()
        assertEquals(0uL, s.getListenerStats().cell)
    }

    @Test
    fun errors() = createStore().use { s ->
        assertFailsWith<TinystoreException.InvalidJson> { s.setJson("[{") }
        assertFailsWith<TinystoreException.InvalidValue> { s.setCell("t", "r", "c", CellValue.Json("not json")) }
        assertFailsWith<TinystoreException.InvalidValue> { s.setCell("t", "r", "c", CellValue.Json("42")) }
        assertFailsWith<TinystoreException.InvalidValue> { s.setCell("t", "r", "c", Any()) }
        assertFailsWith<TinystoreException.Schema> { s.setTablesSchemaJson("""{"t":{"c":{"type":"nope"}}}""") }
        assertEquals("[{},{}]", s.getJson())
        assertEquals("0.1.0", libraryVersion())
    }
}
