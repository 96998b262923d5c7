package dev.tinystore

import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

class ViewsTest {
    private fun pets(): Store = createStore().also { s ->
        s.setRow("pets", "fido", mapOf("species" to "dog", "price" to 5, "name" to "Fido", "sold" to false, "next" to "felix"))
        s.setRow("pets", "felix", mapOf("species" to "cat", "price" to 4, "name" to "Felix", "sold" to true))
        s.setRow("pets", "cujo", mapOf("species" to "dog", "price" to 3, "name" to "Cujo", "sold" to false))
        s.setRow("species", "dog", mapOf("legs" to 4))
        s.setRow("species", "cat", mapOf("legs" to 4))
    }

    @Test
    fun indexesWithCellFunctionAndListener(): Unit = pets().use { s ->
        val ix = createIndexes(s)
        ix.setIndexDefinition("bySpecies", "pets", "species")
        ix.setIndexDefinition("byPrice", "pets", sortCellId = "price")
        ix.setIndexDefinition("byLen", "pets") { getCell, _ -> listOf(((getCell("name") as String?)?.length ?: 0).toString()) }
        assertEquals(listOf("dog", "cat"), ix.getSliceIds("bySpecies"))
        assertEquals(listOf("fido", "cujo"), ix.getSliceRowIds("bySpecies", "dog"))
        assertEquals(listOf("cujo", "felix", "fido"), ix.getSliceRowIds("byPrice", ""))
        assertEquals(listOf("4", "5"), ix.getSliceIds("byLen"))
        val seen = mutableListOf<Pair<String, String>>()
        val id = ix.addSliceRowIdsListener("bySpecies", "dog") { i, slice -> seen.add(i to slice) }
        s.setCell("pets", "rex", "species", "dog")
        assertEquals(listOf("bySpecies" to "dog"), seen)
        assertEquals(1uL, ix.getListenerStats()["slice_row_ids"])
        ix.delListener(id)
        ix.delIndexDefinition("byLen")
        assertFalse(ix.hasIndex("byLen"))
        ix.shutdown()
    }

    @Test
    fun aThrowingFunctionReachesTheWriter(): Unit = pets().use { s ->
        val ix = createIndexes(s)
        ix.setIndexDefinition("s", "pets") { getCell, _ ->
            val species = getCell("species") as String
            check(species != "boom") { "bad slice" }
            listOf(species)
        }
        val e = assertFailsWith<TinystoreException.Callback> { s.setCell("pets", "fido", "species", "boom") }
        assertTrue(e.reason.contains("bad slice"))
        assertEquals(listOf("fido", "cujo"), ix.getSliceRowIds("s", "dog"))
    }

    @Test
    fun relationships(): Unit = pets().use { s ->
        val rel = createRelationships(s)
        rel.setRelationshipDefinition("petSpecies", "pets", "species", "species")
        rel.setRelationshipDefinition("next", "pets", "pets", "next")
        rel.setRelationshipDefinition("cats", "pets", "species") { getCell, _ -> if (getCell("species") == "cat") "cat" else null }
        assertEquals("dog", rel.getRemoteRowId("petSpecies", "fido"))
        assertEquals(listOf("fido", "cujo"), rel.getLocalRowIds("petSpecies", "dog"))
        assertEquals(listOf("fido", "felix"), rel.getLinkedRowIds("next", "fido"))
        assertEquals(listOf("felix"), rel.getLocalRowIds("cats", "cat"))
        val seen = mutableListOf<String>()
        rel.addLocalRowIdsListener("petSpecies", "cat") { _, remote -> seen.add(remote) }
        s.setCell("pets", "cujo", "species", "cat")
        assertEquals(listOf("cat"), seen)
    }

    @Test
    fun metrics(): Unit = pets().use { s ->
        val m = createMetrics(s)
        m.setMetricDefinition("avgPrice", "pets", "avg", "price")
        m.setMetricDefinition("count", "pets")
        m.setMetricDefinition("product", "pets", metricAggregate { numbers, _ -> numbers.fold(1.0) { a, b -> a * b } }) { getCell, _ -> getCell("price") }
        assertEquals(4.0, m.getMetric("avgPrice"))
        assertEquals(3.0, m.getMetric("count"))
        assertEquals(60.0, m.getMetric("product"))
        val seen = mutableListOf<Triple<String, Double?, Double?>>()
        m.addMetricListener("avgPrice") { id, new, old -> seen.add(Triple(id, new, old)) }
        s.setRow("pets", "rex", mapOf("price" to 8))
        assertEquals(listOf<Triple<String, Double?, Double?>>(Triple("avgPrice", 5.0, 4.0)), seen)
        assertFailsWith<TinystoreException.InvalidValue> { m.setMetricDefinition("bad", "pets", "median", "price") }
    }

    @Test
    fun queries(): Unit = pets().use { s ->
        val q = createQueries(s)
        q.setQueryDefinition("byKind", "pets") {
            select("species")
            join("species", "species")
            select("species", "legs")
            where("sold", false)
            select("price")
            group("price", "sum").asAlias("total")
        }
        assertEquals(8L, q.resultCell("byKind", "0", "total"))
        q.setQueryDefinition("cheap", "pets", mapOf("max" to 4)) {
            select("name")
            select { getTableCell, _ -> (getTableCell("price") as Long) * 2 }.asAlias("double")
            where { getTableCell -> (getTableCell("price") as Long) <= (param("max") as Long) }
        }
        assertEquals(listOf("felix", "cujo"), q.getResultRowIds("cheap"))
        assertEquals(6L, q.resultCell("cheap", "cujo", "double"))
        val seen = mutableListOf<Any?>()
        q.addResultCellListener("cheap", null, "double") { _, row, _, new, _ -> seen.add(row to new) }
        q.setParamValue("cheap", "max", 5)
        assertEquals(listOf<Any?>("fido" to 10L), seen)
        assertEquals(listOf("fido", "felix", "cujo"), q.getResultSortedRowIds("cheap", "double", true, 0uL, null))
        assertFailsWith<TinystoreException.InvalidValue> { q.setQueryDefinition("bad", "pets") { group("price", "median") } }
    }

    @Test
    fun checkpoints(): Unit = pets().use { s ->
        val cp = createCheckpoints(s)
        var changes = 0
        cp.addCheckpointIdsListener { changes++ }
        s.setCell("pets", "fido", "price", 6)
        assertEquals("1", cp.addCheckpoint("price"))
        cp.goBackward()
        assertEquals(5L, s.cell("pets", "fido", "price"))
        assertEquals(CheckpointIds(listOf(), "0", listOf("1")), cp.getCheckpointIds())
        cp.goForward()
        assertEquals(6L, s.cell("pets", "fido", "price"))
        assertTrue(changes > 0)
    }
}
