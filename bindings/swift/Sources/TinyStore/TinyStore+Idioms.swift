// The idiomatic Swift layer over the UniFFI-generated API (TinyStore.swift, same module):
// closures as listeners, literals as cells, `transaction { }`, `AsyncStream`s of changes.
// The generated `async` methods (`loadAsync`, `startSyncAsync`, `createWsServerAsync`, ...)
// are used as they are.

import Foundation

// MARK: - Values

extension CellValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .str(value: value) }
    public init(integerLiteral value: Int) { self = .num(value: Double(value)) }
    public init(floatLiteral value: Double) { self = .num(value: value) }
    public init(booleanLiteral value: Bool) { self = .bool(value: value) }

    /// A cell from a JSON-compatible value (`[String: Any]` or `[Any]` become `.json`).
    public init(any value: Any?) throws {
        switch value {
        case nil: self = .null
        case let v as CellValue: self = v
        case let v as String: self = .str(value: v)
        case let v as Bool: self = .bool(value: v)
        case let v as Int: self = .num(value: Double(v))
        case let v as Double: self = .num(value: v)
        case let v as [String: Any]: self = .json(json: try CellValue.jsonText(v))
        case let v as [Any]: self = .json(json: try CellValue.jsonText(v))
        default:
            throw TinystoreError.InvalidValue(reason: "unsupported cell type \(type(of: value!))")
        }
    }

    private static func jsonText(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// The cell as a plain Swift value: `String`, `Double`, `Bool`, `nil`, or the parsed JSON
    /// of an object or array.
    public var anyValue: Any? {
        switch self {
        case .str(let v): return v
        case .num(let v): return v
        case .bool(let v): return v
        case .null: return nil
        case .json(let text): return try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        }
    }
}

// MARK: - Callbacks

/// Where errors thrown by closure listeners go (they never reach the writer).
nonisolated(unsafe) public var onListenerError: (Error) -> Void = { error in
    FileHandle.standardError.write(Data("tinystore: error in a listener (ignored): \(error)\n".utf8))
}

/// A `StoreListener` from a closure.
public final class ClosureStoreListener: StoreListener, @unchecked Sendable {
    private let body: (StoreEvent) throws -> Void
    public init(_ body: @escaping (StoreEvent) throws -> Void) { self.body = body }
    public func onEvent(event: StoreEvent) throws {
        do { try body(event) } catch { onListenerError(error) }
    }
}

/// A `StatusListener` from a closure.
public final class ClosureStatusListener: StatusListener, @unchecked Sendable {
    private let body: (Status) -> Void
    public init(_ body: @escaping (Status) -> Void) { self.body = body }
    public func onStatus(status: Status) throws { body(status) }
}

/// `PersisterStorage` from two closures over TinyBase's JSON document.
public final class ClosureStorage: PersisterStorage, @unchecked Sendable {
    private let readBody: () throws -> String?
    private let writeBody: (String) throws -> Void
    public init(read: @escaping () throws -> String?, write: @escaping (String) throws -> Void) {
        readBody = read
        writeBody = write
    }
    public func read() throws -> String? {
        do { return try readBody() } catch let e as TinystoreError { throw e } catch {
            throw TinystoreError.Persist(reason: "read failed: \(error)")
        }
    }
    public func write(document: String) throws {
        do { try writeBody(document) } catch let e as TinystoreError { throw e } catch {
            throw TinystoreError.Persist(reason: "write failed: \(error)")
        }
    }
}

/// A `SyncTransport` from closures; `send` must queue (see `SyncTransport`).
public final class ClosureTransport: SyncTransport, @unchecked Sendable {
    private let sendBody: (String?, String) -> Void
    private let closeBody: () -> Void
    public init(send: @escaping (String?, String) -> Void, close: @escaping () -> Void = {}) {
        sendBody = send
        closeBody = close
    }
    public func send(to: String?, message: String) throws { sendBody(to, message) }
    public func disconnect() throws { closeBody() }
}

private final class Actions: TransactionActions, @unchecked Sendable {
    let body: () throws -> Void
    var error: Error?
    init(_ body: @escaping () throws -> Void) { self.body = body }
    func run() throws {
        do { try body() } catch {
            self.error = error
            throw TinystoreError.Callback(reason: "\(error)")
        }
    }
}

private final class Rollback: RollbackCheck, @unchecked Sendable {
    let body: () -> Bool
    init(_ body: @escaping () -> Bool) { self.body = body }
    func doRollback() throws -> Bool { body() }
}

// MARK: - Store and MergeableStore

/// The Store methods both `Store` and `MergeableStore` have (the generated classes already
/// implement them), so the conveniences below serve both.
public protocol StoreAPI: AnyObject {
    func setCell(tableId: String, rowId: String, cellId: String, cell: CellValue) throws
    func getCell(tableId: String, rowId: String, cellId: String) -> CellValue?
    func setValue(valueId: String, value: CellValue) throws
    func getValue(valueId: String) -> CellValue?
    func transaction(actions: TransactionActions, doRollback: RollbackCheck?) throws
    func addCellListener(tableId: String?, rowId: String?, cellId: String?, listener: StoreListener, mutator: Bool) -> UInt64
    func addRowListener(tableId: String?, rowId: String?, listener: StoreListener, mutator: Bool) -> UInt64
    func addValueListener(valueId: String?, listener: StoreListener, mutator: Bool) -> UInt64
    func addTablesListener(listener: StoreListener, mutator: Bool) -> UInt64
    func addDidFinishTransactionListener(listener: StoreListener) -> UInt64
    func delListener(listenerId: UInt64)
}

extension Store: StoreAPI {}
extension MergeableStore: StoreAPI {}

extension StoreAPI {
    /// Sets a cell: `try store.setCell("pets", "fido", "legs", 4)`.
    public func setCell(_ tableId: String, _ rowId: String, _ cellId: String, _ cell: CellValue) throws {
        try setCell(tableId: tableId, rowId: rowId, cellId: cellId, cell: cell)
    }

    /// A cell, `nil` if absent.
    public func cell(_ tableId: String, _ rowId: String, _ cellId: String) -> CellValue? {
        getCell(tableId: tableId, rowId: rowId, cellId: cellId)
    }

    /// Sets a value.
    public func setValue(_ valueId: String, _ value: CellValue) throws {
        try setValue(valueId: valueId, value: value)
    }

    /// A value, `nil` if absent.
    public func value(_ valueId: String) -> CellValue? { getValue(valueId: valueId) }

    /// Runs `body` in one transaction; if it throws (the error is rethrown) or `doRollback`
    /// returns true, every change is rolled back.
    public func transaction(doRollback: (() -> Bool)? = nil, _ body: @escaping () throws -> Void) throws {
        let actions = Actions(body)
        do {
            try transaction(actions: actions, doRollback: doRollback.map { Rollback($0) })
        } catch TinystoreError.Callback(let reason) {
            throw actions.error ?? TinystoreError.Callback(reason: reason)
        }
    }

    /// `listener(tableId, rowId, cellId, newCell, oldCell)`; a `nil` id matches any.
    @discardableResult
    public func addCellListener(
        _ tableId: String?, _ rowId: String?, _ cellId: String?, mutator: Bool = false,
        _ listener: @escaping (String, String, String, CellValue?, CellValue?) -> Void
    ) -> UInt64 {
        addCellListener(tableId: tableId, rowId: rowId, cellId: cellId, listener: ClosureStoreListener { event in
            if case let .cell(t, r, c, new, old) = event { listener(t, r, c, new, old) }
        }, mutator: mutator)
    }

    /// `listener(tableId, rowId)` after a cell of the row changed.
    @discardableResult
    public func addRowListener(
        _ tableId: String?, _ rowId: String?, mutator: Bool = false, _ listener: @escaping (String, String) -> Void
    ) -> UInt64 {
        addRowListener(tableId: tableId, rowId: rowId, listener: ClosureStoreListener { event in
            if case let .row(t, r) = event { listener(t, r) }
        }, mutator: mutator)
    }

    /// `listener(valueId, newValue, oldValue)`.
    @discardableResult
    public func addValueListener(
        _ valueId: String?, mutator: Bool = false, _ listener: @escaping (String, CellValue?, CellValue?) -> Void
    ) -> UInt64 {
        addValueListener(valueId: valueId, listener: ClosureStoreListener { event in
            if case let .value(v, new, old) = event { listener(v, new, old) }
        }, mutator: mutator)
    }

    /// `listener()` at the end of every transaction.
    @discardableResult
    public func addDidFinishTransactionListener(_ listener: @escaping () -> Void) -> UInt64 {
        addDidFinishTransactionListener(listener: ClosureStoreListener { _ in listener() })
    }

    /// The changes of matching cells as an `AsyncStream` (the listener lives while the stream
    /// is iterated).
    public func cellChanges(_ tableId: String? = nil, _ rowId: String? = nil, _ cellId: String? = nil) -> AsyncStream<StoreEvent> {
        AsyncStream { continuation in
            let id = addCellListener(tableId: tableId, rowId: rowId, cellId: cellId, listener: ClosureStoreListener { event in
                continuation.yield(event)
            }, mutator: false)
            continuation.onTermination = { [weak self] _ in self?.delListener(listenerId: id) }
        }
    }
}

// MARK: - Factories with defaults

/// A MergeableStore with a random client id.
public func createMergeableStore() -> MergeableStore { createMergeableStore(uniqueId: nil) }

/// An SQLite persister (JSON mode unless `config` says otherwise).
public func createSqlitePersister(_ store: Store, _ path: String, config: SqliteConfig? = nil) throws -> SqlitePersister {
    try createSqlitePersister(store: store, path: path, config: config)
}

/// An SQLite persister for a MergeableStore.
public func createSqlitePersister(_ store: MergeableStore, _ path: String, config: SqliteConfig? = nil) throws -> SqlitePersister {
    try createSqlitePersister(store: store.asStore(), path: path, config: config)
}

/// A persister over your storage, as two closures.
public func createCustomPersister(_ store: Store, read: @escaping () throws -> String?, write: @escaping (String) throws -> Void) -> CustomPersister {
    createCustomPersister(store: store, storage: ClosureStorage(read: read, write: write))
}

/// Connects to a sync server (blocks until the socket is open); see `createWsSynchronizerAsync`.
public func createWsSynchronizer(_ store: MergeableStore, _ url: String, options: WsSynchronizerOptions? = nil) throws -> WsSynchronizer {
    try createWsSynchronizer(store: store, url: url, options: options, onIgnoredError: nil)
}

/// Starts a sync server; `dbPath` persists each room to SQLite, else it relays.
public func createWsServer(port: UInt16 = 8043, dbPath: String? = nil) throws -> WsServer {
    try createWsServer(port: port, dbPath: dbPath, options: nil)
}
