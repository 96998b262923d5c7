// The idiomatic Kotlin layer of the derived views (Indexes, Relationships, Metrics, Queries,
// Checkpoints): lambdas as definition functions and listeners, plain values for cells. A
// definition function that throws makes the write that ran it throw
// `TinystoreException.Callback`; a listener that throws goes to `onListenerError`.
@file:Suppress("TooManyFunctions")

package dev.tinystore

/** `getCell(cellId)` as a plain value (see [CellValue.value]). */
typealias GetCell = (String) -> Any?

private inline fun <T> failing(block: () -> T): T = try {
    block()
} catch (e: TinystoreException) {
    throw e
} catch (e: Throwable) {
    throw TinystoreException.Callback("${e::class.simpleName}: ${e.message}")
}

private fun CellGetter.plain(): GetCell = { cellId -> get(cellId).value }

/** A [ViewListener] from a lambda; an exception it throws goes to [onListenerError]. */
fun viewListener(block: (ViewEvent) -> Unit): ViewListener = object : ViewListener {
    override fun onEvent(event: ViewEvent) {
        try {
            block(event)
        } catch (e: Throwable) {
            try {
                onListenerError(e)
            } catch (_: Throwable) {
            }
        }
    }
}

/** Slice ids of a row from `(getCell, rowId)`. */
fun sliceIdsFunction(f: (GetCell, String) -> List<String>): SliceIdsFunction = object : SliceIdsFunction {
    override fun call(getCell: CellGetter, rowId: String): List<String> = failing { f(getCell.plain(), rowId) }
}

/** A value (sort key, number) of a row from `(getCell, rowId)`; `null`: none. */
fun cellFunction(f: (GetCell, String) -> Any?): CellFunction = object : CellFunction {
    override fun call(getCell: CellGetter, rowId: String): CellValue? = failing { f(getCell.plain(), rowId)?.let(::cellOf) }
}

/** A remote row id from `(getCell, rowId)`. */
fun rowIdFunction(f: (GetCell, String) -> String?): RowIdFunction = object : RowIdFunction {
    override fun call(getCell: CellGetter, rowId: String): String? = failing { f(getCell.plain(), rowId) }
}

/** A custom metric aggregate `(numbers, length)`, with optional incremental hooks. */
fun metricAggregate(
    onAdd: ((Double, Double, ULong) -> Double?)? = null,
    onRemove: ((Double, Double, ULong) -> Double?)? = null,
    onReplace: ((Double, Double, Double, ULong) -> Double?)? = null,
    full: (List<Double>, ULong) -> Double?,
): MetricAggregate = object : MetricAggregate {
    override fun hooks() = AggregateHooks(onAdd != null, onRemove != null, onReplace != null)
    override fun aggregate(numbers: List<Double>, length: ULong): Double? = failing { full(numbers, length) }
    override fun add(metric: Double, add: Double, length: ULong): Double? = failing { onAdd!!(metric, add, length) }
    override fun remove(metric: Double, remove: Double, length: ULong): Double? = failing { onRemove!!(metric, remove, length) }
    override fun replace(metric: Double, add: Double, remove: Double, length: ULong): Double? =
        failing { onReplace!!(metric, add, remove, length) }
}

// ------------------------------------------------------------------------------ Indexes

/** Defines an index by cell ids (`null` slice cell: one slice `""`). */
fun Indexes.setIndexDefinition(indexId: String, tableId: String, sliceCellId: String? = null, sortCellId: String? = null) =
    setIndexDefinition(indexId, tableId, sliceCellId, null, sortCellId, null, null, null)

/** Defines an index whose slice ids a function gives. */
fun Indexes.setIndexDefinition(indexId: String, tableId: String, sortCellId: String? = null, getSliceIds: (GetCell, String) -> List<String>) =
    setIndexDefinition(indexId, tableId, null, sliceIdsFunction(getSliceIds), sortCellId, null, null, null)

/** `listener(indexId, sliceId)` when a slice's row ids change. */
fun Indexes.addSliceRowIdsListener(indexId: String?, sliceId: String?, listener: (String, String) -> Unit): ULong =
    addSliceRowIdsListener(indexId, sliceId, viewListener { e -> if (e is ViewEvent.SliceRowIds) listener(e.indexId, e.sliceId) })

/** `listener(indexId)` when an index's slice ids change. */
fun Indexes.addSliceIdsListener(indexId: String?, listener: (String) -> Unit): ULong =
    addSliceIdsListener(indexId, viewListener { e -> if (e is ViewEvent.SliceIds) listener(e.indexId) })

// ------------------------------------------------------------------------------ Relationships

/** Defines a relationship whose remote row id is a cell of the local row. */
fun Relationships.setRelationshipDefinition(relationshipId: String, localTableId: String, remoteTableId: String, remoteRowIdCellId: String) =
    setRelationshipDefinition(relationshipId, localTableId, remoteTableId, remoteRowIdCellId, null)

/** Defines a relationship whose remote row id a function gives. */
fun Relationships.setRelationshipDefinition(relationshipId: String, localTableId: String, remoteTableId: String, getRemoteRowId: (GetCell, String) -> String?) =
    setRelationshipDefinition(relationshipId, localTableId, remoteTableId, null, rowIdFunction(getRemoteRowId))

/** `listener(relationshipId, remoteRowId)` when a remote row's local row ids change. */
fun Relationships.addLocalRowIdsListener(relationshipId: String?, remoteRowId: String?, listener: (String, String) -> Unit): ULong =
    addLocalRowIdsListener(relationshipId, remoteRowId, viewListener { e -> if (e is ViewEvent.LocalRowIds) listener(e.relationshipId, e.remoteRowId) })

// ------------------------------------------------------------------------------ Metrics

/** Defines a metric: `sum` (default), `avg`, `min` or `max` of a cell (`null`: row count). */
fun Metrics.setMetricDefinition(metricId: String, tableId: String, aggregate: String = "sum", numberCellId: String? = null) =
    setMetricDefinition(metricId, tableId, aggregate, null, numberCellId, null)

/** Defines a metric with a custom aggregate and/or a number function. */
fun Metrics.setMetricDefinition(metricId: String, tableId: String, aggregate: MetricAggregate?, getNumber: ((GetCell, String) -> Any?)?) =
    setMetricDefinition(metricId, tableId, null, aggregate, null, getNumber?.let(::cellFunction))

/** `listener(metricId, newMetric, oldMetric)`. */
fun Metrics.addMetricListener(metricId: String?, listener: (String, Double?, Double?) -> Unit): ULong =
    addMetricListener(metricId, viewListener { e -> if (e is ViewEvent.Metric) listener(e.metricId, e.newMetric, e.oldMetric) })

// ------------------------------------------------------------------------------ Queries

/** TinyQL's builder with plain values and lambdas; `as` is [QueryClause.asAlias]. */
class Tinyql internal constructor(val raw: QueryBuilder) {
    /** `select(cellId)` or `select(joinedTableId, cellId)`. */
    fun select(cellId: String): QueryClause = raw.select(cellId)
    fun select(joinedTableId: String, cellId: String): QueryClause = raw.selectFrom(joinedTableId, cellId)
    /** A calculated select `(getTableCell, rowId)`; name it with `asAlias`. */
    fun select(f: (GetCell, String) -> Any?): QueryClause = raw.selectFunction(object : SelectFunction {
        override fun call(getTableCell: CellGetter, rowId: String): CellValue? = failing { f(getTableCell.plain(), rowId)?.let(::cellOf) }
    })
    fun selectAll(joinedTableId: String? = null, prefix: String = "") = raw.selectAll(joinedTableId, prefix)
    /** `join(tableId, onCellId)`. */
    fun join(tableId: String, onCellId: String, from: String? = null): QueryClause = raw.join(tableId, from, onCellId, null)
    /** `join(tableId, (getCell, rowId) -> remoteRowId)`. */
    fun join(tableId: String, from: String? = null, on: (GetCell, String) -> String?): QueryClause =
        raw.join(tableId, from, null, object : JoinFunction {
            override fun call(getCell: CellGetter, rowId: String): String? = failing { on(getCell.plain(), rowId) }
        })
    fun where(cellId: String, equals: Any?) = raw.whereEquals(null, cellId, cellOf(equals))
    fun where(joinedTableId: String, cellId: String, equals: Any?) = raw.whereEquals(joinedTableId, cellId, cellOf(equals))
    fun where(f: (GetCell) -> Boolean) = raw.whereFunction(condition(f))
    fun group(selectedCellId: String, aggregate: String): QueryClause = raw.group(selectedCellId, aggregate)
    fun having(cellId: String, equals: Any?) = raw.having(cellId, cellOf(equals))
    fun having(f: (GetCell) -> Boolean) = raw.havingFunction(condition(f))
    fun param(paramId: String): Any? = raw.param(paramId).value

    private fun condition(f: (GetCell) -> Boolean) = object : ConditionFunction {
        override fun call(getCell: CellGetter): Boolean = failing { f(getCell.plain()) }
    }
}

/** A [QueryDefinition] from a lambda over [Tinyql]. */
fun queryDefinition(body: Tinyql.() -> Unit): QueryDefinition = object : QueryDefinition {
    override fun build(builder: QueryBuilder) = failing { Tinyql(builder).body() }
}

/** Defines a query over `tableId` with a TinyQL lambda and initial params. */
fun Queries.setQueryDefinition(queryId: String, tableId: String, params: Map<String, Any?> = emptyMap(), build: Tinyql.() -> Unit) =
    setQueryDefinition(queryId, tableId, queryDefinition(build), params.mapValues { cellOf(it.value) }, false)

/** One result cell as a plain value. */
fun Queries.resultCell(queryId: String, rowId: String, cellId: String): Any? = getResultCell(queryId, rowId, cellId).value

/** Sets one param value from a plain value. */
fun Queries.setParamValue(queryId: String, paramId: String, value: Any?) = setParamValue(queryId, paramId, cellOf(value))

/** `listener(queryId, rowId, cellId, newCell, oldCell)` as plain values. */
fun Queries.addResultCellListener(queryId: String?, rowId: String?, cellId: String?, listener: (String, String, String, Any?, Any?) -> Unit): ULong =
    addResultCellListener(queryId, rowId, cellId, viewListener { e ->
        if (e is ViewEvent.ResultCell) listener(e.queryId, e.rowId, e.cellId, e.newCell.value, e.oldCell.value)
    })

// ------------------------------------------------------------------------------ Checkpoints

/** `listener()` when the checkpoint ids change. */
fun Checkpoints.addCheckpointIdsListener(listener: () -> Unit): ULong = addCheckpointIdsListener(viewListener { listener() })
