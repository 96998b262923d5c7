// The idiomatic Kotlin layer over the UniFFI-generated bindings (tinystore.kt, same package):
// lambdas as listeners, native values for cells, `transaction { }`, `Flow`s of changes, and
// factory defaults. Everything generated stays usable directly (e.g. `store.setCell(t, r, c,
// CellValue.Num(1.0))`, `persister.loadAsync(null)` as a `suspend` call).
//
// Store and MergeableStore are two generated classes with the same Store methods (UniFFI has
// no object inheritance), so each extension below exists for both; the listener adapters are
// shared.
@file:Suppress("TooManyFunctions")

package dev.tinystore

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow

// ------------------------------------------------------------------------------ values

/** A Kotlin value as a cell: `String`, any `Number`, `Boolean`, `null`, or a [CellValue]. */
fun cellOf(value: Any?): CellValue = when (value) {
    null -> CellValue.Null
    is CellValue -> value
    is String -> CellValue.Str(value)
    is Boolean -> CellValue.Bool(value)
    is Number -> CellValue.Num(value.toDouble())
    is Map<*, *>, is List<*> -> CellValue.Json(Json.write(value))
    else -> throw TinystoreException.InvalidValue("a cell must be a String, Number, Boolean, null, Map or List, not ${value::class.simpleName}")
}

/**
 * The cell as a plain Kotlin value: `String`, `Long` (an integral number below 2^53), `Double`,
 * `Boolean`, `null`, or for objects and arrays their JSON text (see [CellValue.Json]).
 */
val CellValue?.value: Any?
    get() = when (this) {
        null, CellValue.Null -> null
        is CellValue.Str -> value
        is CellValue.Bool -> value
        is CellValue.Num -> if (value % 1.0 == 0.0 && kotlin.math.abs(value) < 9.007199254740992E15) value.toLong() else value
        is CellValue.Json -> json
    }

/** Minimal JSON writer for Map/List cells (the store re-serialises them as JavaScript does). */
internal object Json {
    fun write(v: Any?): String = StringBuilder().also { write(it, v) }.toString()

    private fun write(out: StringBuilder, v: Any?) {
        when (v) {
            null -> out.append("null")
            is String -> {
                out.append('"')
                for (c in v) {
                    when {
                        c == '"' -> out.append("\\\"")
                        c == '\\' -> out.append("\\\\")
                        c < ' ' -> out.append(String.format("\\u%04x", c.code))
                        else -> out.append(c)
                    }
                }
                out.append('"')
            }
            is Boolean -> out.append(v)
            is Number -> {
                val d = v.toDouble()
                if (!d.isFinite()) throw TinystoreException.InvalidValue("non-finite number in a JSON cell")
                out.append(if (v is Double || v is Float) d.toString() else v.toString())
            }
            is Map<*, *> -> {
                out.append('{')
                v.entries.forEachIndexed { i, (k, x) ->
                    if (i > 0) out.append(',')
                    write(out, k.toString())
                    out.append(':')
                    write(out, x)
                }
                out.append('}')
            }
            is List<*> -> {
                out.append('[')
                v.forEachIndexed { i, x ->
                    if (i > 0) out.append(',')
                    write(out, x)
                }
                out.append(']')
            }
            else -> throw TinystoreException.InvalidValue("cannot write ${v::class.simpleName} as JSON")
        }
    }
}

// ------------------------------------------------------------------------------ callbacks

/**
 * Where exceptions thrown by listeners and other callbacks go (they never reach the writer).
 * Default: printed to stderr.
 */
@Volatile
var onListenerError: (Throwable) -> Unit = { e ->
    System.err.println("tinystore: exception in a listener (ignored): $e")
    e.printStackTrace()
}

private inline fun guarded(block: () -> Unit) {
    try {
        block()
    } catch (e: Throwable) {
        try {
            onListenerError(e)
        } catch (_: Throwable) {
        }
    }
}

/** A [StoreListener] from a lambda; an exception it throws goes to [onListenerError]. */
fun storeListener(block: (StoreEvent) -> Unit): StoreListener = object : StoreListener {
    override fun onEvent(event: StoreEvent) = guarded { block(event) }
}

/** A [StatusListener] from a lambda. */
fun statusListener(block: (Status) -> Unit): StatusListener = object : StatusListener {
    override fun onStatus(status: Status) = guarded { block(status) }
}

/** An [ErrorListener] from a lambda. */
fun errorListener(block: (String) -> Unit): ErrorListener = object : ErrorListener {
    override fun onError(message: String) = guarded { block(message) }
}

/** A [ServerListener] from a lambda. */
fun serverListener(block: (ServerEvent) -> Unit): ServerListener = object : ServerListener {
    override fun onEvent(event: ServerEvent) = guarded { block(event) }
}

/** A [RowSorter] from a comparison of two cells (negative: `a` first). */
fun rowSorter(compare: (Any?, Any?) -> Int): RowSorter = object : RowSorter {
    override fun compare(a: CellValue?, b: CellValue?): Int = try {
        compare(a.value, b.value)
    } catch (e: Throwable) {
        onListenerError(e)
        0
    }
}

/** An [UpdateListener] from a lambda over a Yjs or Automerge document's update bytes. */
fun updateListener(block: (ByteArray) -> Unit): UpdateListener = object : UpdateListener {
    override fun onUpdate(update: ByteArray) = guarded { block(update) }
}

/** [PersisterStorage] from two lambdas over TinyBase's JSON document. */
fun persisterStorage(read: () -> String?, write: (String) -> Unit): PersisterStorage = object : PersisterStorage {
    override fun read(): String? = try {
        read()
    } catch (e: TinystoreException) {
        throw e
    } catch (e: Throwable) {
        throw TinystoreException.Persist("read failed: $e")
    }

    override fun write(document: String) = try {
        write(document)
    } catch (e: TinystoreException) {
        throw e
    } catch (e: Throwable) {
        throw TinystoreException.Persist("write failed: $e")
    }
}

/** A [SyncTransport] from lambdas: `send` must queue (see [SyncTransport]). */
fun syncTransport(close: () -> Unit = {}, send: (to: String?, message: String) -> Unit): SyncTransport =
    object : SyncTransport {
        override fun send(to: String?, message: String) = guarded { send(to, message) }
        override fun disconnect() = guarded { close() }
    }

private class Actions(val block: () -> Unit) : TransactionActions {
    var error: Throwable? = null
    override fun run() {
        try {
            block()
        } catch (e: Throwable) {
            error = e
            throw TinystoreException.Callback(e.toString())
        }
    }
}

private fun rollbackCheck(check: (() -> Boolean)?): RollbackCheck? = check?.let {
    object : RollbackCheck {
        override fun doRollback(): Boolean = try {
            it()
        } catch (e: Throwable) {
            onListenerError(e)
            true
        }
    }
}

private inline fun runTransaction(run: (TransactionActions, RollbackCheck?) -> Unit, noinline doRollback: (() -> Boolean)?, noinline block: () -> Unit) {
    val actions = Actions(block)
    try {
        run(actions, rollbackCheck(doRollback))
    } catch (e: TinystoreException.Callback) {
        throw actions.error ?: e
    }
}

private fun ids(changes: List<IdChange>): Map<String, Int> = changes.associate { it.id to it.change.toInt() }


// ------------------------------------------------------------------------------ listener adapters

private fun cellAdapter(l: (String, String, String, Any?, Any?) -> Unit) = storeListener { e ->
    if (e is StoreEvent.Cell) l(e.tableId, e.rowId, e.cellId, e.newCell.value, e.oldCell.value)
}

private fun rowAdapter(l: (String, String) -> Unit) = storeListener { e ->
    if (e is StoreEvent.Row) l(e.tableId, e.rowId)
}

private fun tableAdapter(l: (String) -> Unit) = storeListener { e ->
    if (e is StoreEvent.Table) l(e.tableId)
}

private fun rowIdsAdapter(l: (String, Map<String, Int>) -> Unit) = storeListener { e ->
    if (e is StoreEvent.RowIds) l(e.tableId, ids(e.changes))
}

private fun valueAdapter(l: (String, Any?, Any?) -> Unit) = storeListener { e ->
    if (e is StoreEvent.Value) l(e.valueId, e.newValue.value, e.oldValue.value)
}

private fun plainAdapter(l: () -> Unit) = storeListener { l() }

// ------------------------------------------------------------------------------ StoreInterface

/** Sets a cell from a Kotlin value (`String`, `Number`, `Boolean`, `null`, `Map`, `List`). */
fun StoreInterface.setCell(tableId: String, rowId: String, cellId: String, value: Any?) = setCell(tableId, rowId, cellId, cellOf(value))

/** Sets a value from a Kotlin value. */
fun StoreInterface.setValue(valueId: String, value: Any?) = setValue(valueId, cellOf(value))

/** A cell as a Kotlin value (see [CellValue.value]); `null` if absent. */
fun StoreInterface.cell(tableId: String, rowId: String, cellId: String): Any? = getCell(tableId, rowId, cellId).value

/** A value as a Kotlin value; `null` if absent. */
fun StoreInterface.value(valueId: String): Any? = getValue(valueId).value

/** Sets a row from Kotlin values (keeps the map's order). */
fun StoreInterface.setRow(tableId: String, rowId: String, row: Map<String, Any?>) = setRowJson(tableId, rowId, Json.write(row))

/** Adds a row with a generated id; `null` if it was invalid. */
fun StoreInterface.addRow(tableId: String, row: Map<String, Any?>, reuseRowIds: Boolean = true): String? = addRowJson(tableId, Json.write(row), reuseRowIds)

/** Sorted row ids (TinyBase's `getSortedRowIds`). */
fun StoreInterface.getSortedRowIds(tableId: String, cellId: String? = null, descending: Boolean = false, offset: Int = 0, limit: Int? = null): List<String> =
    getSortedRowIds(SortedRowIdsArgs(tableId, cellId, descending, offset.toULong(), limit?.toULong()), null)

/**
 * Runs [block] in one transaction: listeners fire once, at the end. If [block] throws (the
 * exception is rethrown) or [doRollback] returns true, every change is rolled back.
 */
fun StoreInterface.transaction(doRollback: (() -> Boolean)? = null, block: () -> Unit) =
    runTransaction({ a, r -> transaction(a, r) }, doRollback, block)

/** `listener(tableId, rowId, cellId, newCell, oldCell)`; a `null` id matches any. */
fun StoreInterface.addCellListener(tableId: String?, rowId: String?, cellId: String?, mutator: Boolean = false, listener: (String, String, String, Any?, Any?) -> Unit): ULong =
    addCellListener(tableId, rowId, cellId, cellAdapter(listener), mutator)

/** `listener(tableId, rowId)` after a cell of the row changed. */
fun StoreInterface.addRowListener(tableId: String?, rowId: String?, mutator: Boolean = false, listener: (String, String) -> Unit): ULong =
    addRowListener(tableId, rowId, rowAdapter(listener), mutator)

/** `listener(tableId)` after a cell of the table changed. */
fun StoreInterface.addTableListener(tableId: String?, mutator: Boolean = false, listener: (String) -> Unit): ULong =
    addTableListener(tableId, tableAdapter(listener), mutator)

/** `listener(tableId, changes)` when rows are added (1) or removed (-1). */
fun StoreInterface.addRowIdsListener(tableId: String?, mutator: Boolean = false, listener: (String, Map<String, Int>) -> Unit): ULong =
    addRowIdsListener(tableId, rowIdsAdapter(listener), mutator)

/** `listener(valueId, newValue, oldValue)`. */
fun StoreInterface.addValueListener(valueId: String?, mutator: Boolean = false, listener: (String, Any?, Any?) -> Unit): ULong =
    addValueListener(valueId, valueAdapter(listener), mutator)

/** `listener()` after any cell changed. */
fun StoreInterface.addTablesListener(mutator: Boolean = false, listener: () -> Unit): ULong = addTablesListener(plainAdapter(listener), mutator)

/** `listener()` at the end of every transaction. */
fun StoreInterface.addDidFinishTransactionListener(listener: () -> Unit): ULong = addDidFinishTransactionListener(plainAdapter(listener))

/** The changes of matching cells as a cold [Flow] (the listener lives while it is collected). */
fun StoreInterface.cellChanges(tableId: String? = null, rowId: String? = null, cellId: String? = null): Flow<StoreEvent.Cell> = callbackFlow {
    val id = addCellListener(tableId, rowId, cellId, storeListener { e -> if (e is StoreEvent.Cell) trySend(e) }, false)
    awaitClose { delListener(id) }
}

// ------------------------------------------------------------------------------ MergeableStoreInterface

/** Sets a cell from a Kotlin value (`String`, `Number`, `Boolean`, `null`, `Map`, `List`). */
fun MergeableStoreInterface.setCell(tableId: String, rowId: String, cellId: String, value: Any?) = setCell(tableId, rowId, cellId, cellOf(value))

/** Sets a value from a Kotlin value. */
fun MergeableStoreInterface.setValue(valueId: String, value: Any?) = setValue(valueId, cellOf(value))

/** A cell as a Kotlin value (see [CellValue.value]); `null` if absent. */
fun MergeableStoreInterface.cell(tableId: String, rowId: String, cellId: String): Any? = getCell(tableId, rowId, cellId).value

/** A value as a Kotlin value; `null` if absent. */
fun MergeableStoreInterface.value(valueId: String): Any? = getValue(valueId).value

/** Sets a row from Kotlin values (keeps the map's order). */
fun MergeableStoreInterface.setRow(tableId: String, rowId: String, row: Map<String, Any?>) = setRowJson(tableId, rowId, Json.write(row))

/** Adds a row with a generated id; `null` if it was invalid. */
fun MergeableStoreInterface.addRow(tableId: String, row: Map<String, Any?>, reuseRowIds: Boolean = true): String? = addRowJson(tableId, Json.write(row), reuseRowIds)

/** Sorted row ids (TinyBase's `getSortedRowIds`). */
fun MergeableStoreInterface.getSortedRowIds(tableId: String, cellId: String? = null, descending: Boolean = false, offset: Int = 0, limit: Int? = null): List<String> =
    getSortedRowIds(SortedRowIdsArgs(tableId, cellId, descending, offset.toULong(), limit?.toULong()), null)

/**
 * Runs [block] in one transaction: listeners fire once, at the end. If [block] throws (the
 * exception is rethrown) or [doRollback] returns true, every change is rolled back.
 */
fun MergeableStoreInterface.transaction(doRollback: (() -> Boolean)? = null, block: () -> Unit) =
    runTransaction({ a, r -> transaction(a, r) }, doRollback, block)

/** `listener(tableId, rowId, cellId, newCell, oldCell)`; a `null` id matches any. */
fun MergeableStoreInterface.addCellListener(tableId: String?, rowId: String?, cellId: String?, mutator: Boolean = false, listener: (String, String, String, Any?, Any?) -> Unit): ULong =
    addCellListener(tableId, rowId, cellId, cellAdapter(listener), mutator)

/** `listener(tableId, rowId)` after a cell of the row changed. */
fun MergeableStoreInterface.addRowListener(tableId: String?, rowId: String?, mutator: Boolean = false, listener: (String, String) -> Unit): ULong =
    addRowListener(tableId, rowId, rowAdapter(listener), mutator)

/** `listener(tableId)` after a cell of the table changed. */
fun MergeableStoreInterface.addTableListener(tableId: String?, mutator: Boolean = false, listener: (String) -> Unit): ULong =
    addTableListener(tableId, tableAdapter(listener), mutator)

/** `listener(tableId, changes)` when rows are added (1) or removed (-1). */
fun MergeableStoreInterface.addRowIdsListener(tableId: String?, mutator: Boolean = false, listener: (String, Map<String, Int>) -> Unit): ULong =
    addRowIdsListener(tableId, rowIdsAdapter(listener), mutator)

/** `listener(valueId, newValue, oldValue)`. */
fun MergeableStoreInterface.addValueListener(valueId: String?, mutator: Boolean = false, listener: (String, Any?, Any?) -> Unit): ULong =
    addValueListener(valueId, valueAdapter(listener), mutator)

/** `listener()` after any cell changed. */
fun MergeableStoreInterface.addTablesListener(mutator: Boolean = false, listener: () -> Unit): ULong = addTablesListener(plainAdapter(listener), mutator)

/** `listener()` at the end of every transaction. */
fun MergeableStoreInterface.addDidFinishTransactionListener(listener: () -> Unit): ULong = addDidFinishTransactionListener(plainAdapter(listener))

/** The changes of matching cells as a cold [Flow] (the listener lives while it is collected). */
fun MergeableStoreInterface.cellChanges(tableId: String? = null, rowId: String? = null, cellId: String? = null): Flow<StoreEvent.Cell> = callbackFlow {
    val id = addCellListener(tableId, rowId, cellId, storeListener { e -> if (e is StoreEvent.Cell) trySend(e) }, false)
    awaitClose { delListener(id) }
}

// ------------------------------------------------------------------------------ factories

/** A MergeableStore with a random client id. */
fun createMergeableStore(): MergeableStore = createMergeableStore(null)

/** An SQLite persister in JSON mode (TinyBase's default). */
fun createSqlitePersister(store: Store, path: String): SqlitePersister = createSqlitePersister(store, path, null)

/** An SQLite persister for a MergeableStore (JSON mode, or [config]). */
fun createSqlitePersister(store: MergeableStore, path: String, config: SqliteConfig? = null): SqlitePersister =
    createSqlitePersister(store.asStore(), path, config)

/** A file persister for a MergeableStore. */
fun createFilePersister(store: MergeableStore, path: String): FilePersister = createFilePersister(store.asStore(), path)

/** A persister over your storage, as two lambdas. */
fun createCustomPersister(store: Store, read: () -> String?, write: (String) -> Unit): CustomPersister =
    createCustomPersister(store, persisterStorage(read, write))

/** A persister over your storage for a MergeableStore. */
fun createCustomPersister(store: MergeableStore, read: () -> String?, write: (String) -> Unit): CustomPersister =
    createCustomPersister(store.asStore(), persisterStorage(read, write))

/** A remote persister for a MergeableStore (its plain content, as TinyBase). */
fun createRemotePersister(
    store: MergeableStore,
    loadUrl: String,
    saveUrl: String? = null,
    autoLoadIntervalSeconds: Double? = null,
    timeoutSeconds: Double? = null,
): RemotePersister = createRemotePersister(store.asStore(), loadUrl, saveUrl, autoLoadIntervalSeconds, timeoutSeconds)

/** A Yjs persister for a MergeableStore (its plain content, as TinyBase). */
fun createYjsPersister(store: MergeableStore): YjsPersister = createYjsPersister(store.asStore())

/** An Automerge persister for a MergeableStore (its plain content, as TinyBase). */
fun createAutomergePersister(store: MergeableStore): AutomergePersister = createAutomergePersister(store.asStore())

/** `addUpdateListener` with a lambda: each local update of the Y.Doc, to forward. */
fun YjsPersister.addUpdateListener(block: (ByteArray) -> Unit): ULong = addUpdateListener(updateListener(block))
/** `addUpdateListener` with a lambda: each local change of the Automerge document, to forward. */
fun AutomergePersister.addUpdateListener(block: (ByteArray) -> Unit): ULong = addUpdateListener(updateListener(block))

/** Connects to a sync server at [url] (blocks until the socket is open). */
fun createWsSynchronizer(store: MergeableStore, url: String, options: WsSynchronizerOptions? = null): WsSynchronizer =
    createWsSynchronizer(store, url, options, null)

/** [createWsSynchronizer] as a `suspend` call. */
suspend fun createWsSynchronizerSuspending(store: MergeableStore, url: String, options: WsSynchronizerOptions? = null): WsSynchronizer =
    createWsSynchronizerAsync(store, url, options, null)

/** A sync server; [dbPath] persists each room to SQLite, else it relays. */
fun createWsServer(port: Int = 8043, dbPath: String? = null, options: WsServerOptions? = null): WsServer =
    createWsServer(port.toUShort(), dbPath, options)

/** [createWsServer] as a `suspend` call. */
suspend fun createWsServerSuspending(port: Int = 8043, dbPath: String? = null, options: WsServerOptions? = null): WsServer =
    createWsServerAsync(port.toUShort(), dbPath, options)

/** A synchronizer over a medium written in Kotlin (deliver with [Synchronizer.receive]). */
fun createCustomSynchronizer(store: MergeableStore, transport: SyncTransport): Synchronizer =
    createCustomSynchronizer(store, transport, null, null)

/** The bound port as an Int. */
val WsServer.port: Int get() = getPort().toInt()

/** `addStatusListener` with a lambda. */
fun SqlitePersister.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun FilePersister.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun CustomPersister.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun RemotePersister.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun YjsPersister.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun AutomergePersister.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun WsSynchronizer.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
/** `addStatusListener` with a lambda. */
fun Synchronizer.addStatusListener(block: (Status) -> Unit): ULong = addStatusListener(statusListener(block))
