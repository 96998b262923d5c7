// The idiomatic Swift layer of the derived views (Indexes, Relationships, Metrics, Queries,
// Checkpoints): closures as definition functions and listeners. A definition closure that
// throws makes the write that ran it throw `TinystoreError.Callback`; a listener that throws
// goes to `onListenerError`.

import Foundation

/// `getCell(cellId)` as a plain value.
public typealias GetCell = (String) -> CellValue?

private func failing<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as TinystoreError { throw error } catch {
        throw TinystoreError.Callback(reason: "\(error)")
    }
}

/// A `ViewListener` from a closure.
public final class ClosureViewListener: ViewListener, @unchecked Sendable {
    private let body: (ViewEvent) throws -> Void
    public init(_ body: @escaping (ViewEvent) throws -> Void) { self.body = body }
    public func onEvent(event: ViewEvent) throws {
        do { try body(event) } catch { onListenerError(error) }
    }
}

/// Slice ids of a row from `(getCell, rowId)`.
public final class ClosureSliceIds: SliceIdsFunction, @unchecked Sendable {
    private let body: (GetCell, String) throws -> [String]
    public init(_ body: @escaping (GetCell, String) throws -> [String]) { self.body = body }
    public func call(getCell: CellGetter, rowId: String) throws -> [String] {
        try failing { try body({ getCell.get(cellId: $0) }, rowId) }
    }
}

/// A value of a row (sort key, number) from `(getCell, rowId)`.
public final class ClosureCellFunction: CellFunction, @unchecked Sendable {
    private let body: (GetCell, String) throws -> CellValue?
    public init(_ body: @escaping (GetCell, String) throws -> CellValue?) { self.body = body }
    public func call(getCell: CellGetter, rowId: String) throws -> CellValue? {
        try failing { try body({ getCell.get(cellId: $0) }, rowId) }
    }
}

/// A remote row id from `(getCell, rowId)`.
public final class ClosureRowIdFunction: RowIdFunction, @unchecked Sendable {
    private let body: (GetCell, String) throws -> String?
    public init(_ body: @escaping (GetCell, String) throws -> String?) { self.body = body }
    public func call(getCell: CellGetter, rowId: String) throws -> String? {
        try failing { try body({ getCell.get(cellId: $0) }, rowId) }
    }
}

/// A query definition from a closure over the TinyQL builder.
public final class ClosureQueryDefinition: QueryDefinition, @unchecked Sendable {
    private let body: (QueryBuilder) throws -> Void
    public init(_ body: @escaping (QueryBuilder) throws -> Void) { self.body = body }
    public func build(builder: QueryBuilder) throws {
        try failing { try body(builder) }
    }
}

/// A calculated where or having from a closure.
public final class ClosureCondition: ConditionFunction, @unchecked Sendable {
    private let body: (GetCell) throws -> Bool
    public init(_ body: @escaping (GetCell) throws -> Bool) { self.body = body }
    public func call(getCell: CellGetter) throws -> Bool {
        try failing { try body({ getCell.get(cellId: $0) }) }
    }
}

extension Indexes {
    /// Defines an index by cell ids (`nil` slice cell: one slice `""`).
    public func setIndexDefinition(_ indexId: String, _ tableId: String, sliceCellId: String?, sortCellId: String? = nil) throws {
        try setIndexDefinition(indexId: indexId, tableId: tableId, sliceCellId: sliceCellId, sliceFunction: nil,
                               sortCellId: sortCellId, sortFunction: nil, sliceIdSorter: nil, rowIdSorter: nil)
    }

    /// Defines an index whose slice ids a closure gives.
    public func setIndexDefinition(_ indexId: String, _ tableId: String, getSliceIds: @escaping (GetCell, String) throws -> [String]) throws {
        try setIndexDefinition(indexId: indexId, tableId: tableId, sliceCellId: nil, sliceFunction: ClosureSliceIds(getSliceIds),
                               sortCellId: nil, sortFunction: nil, sliceIdSorter: nil, rowIdSorter: nil)
    }

    /// `listener(indexId, sliceId)` when a slice's row ids change.
    @discardableResult
    public func addSliceRowIdsListener(_ indexId: String?, _ sliceId: String?, _ listener: @escaping (String, String) -> Void) -> UInt64 {
        addSliceRowIdsListener(indexId: indexId, sliceId: sliceId, listener: ClosureViewListener { event in
            if case let .sliceRowIds(i, s) = event { listener(i, s) }
        })
    }
}

extension Queries {
    /// Defines a query with a closure over the TinyQL builder.
    public func setQueryDefinition(_ queryId: String, _ tableId: String, params: [String: CellValue] = [:],
                                   _ build: @escaping (QueryBuilder) throws -> Void) throws {
        try setQueryDefinition(queryId: queryId, tableId: tableId, definition: ClosureQueryDefinition(build),
                               params: params, onQuery: false)
    }
}

extension Checkpoints {
    /// `listener()` when the checkpoint ids change.
    @discardableResult
    public func addCheckpointIdsListener(_ listener: @escaping () -> Void) -> UInt64 {
        addCheckpointIdsListener(listener: ClosureViewListener { _ in listener() })
    }
}
