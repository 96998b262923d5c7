import XCTest
@testable import TinyStore

final class TinyStoreTests: XCTestCase {
    func testCellsValuesAndJson() throws {
        let store = createStore()
        try store.setCell("pets", "fido", "species", "dog")
        try store.setCell("pets", "fido", "legs", 4)
        try store.setValue("open", true)
        XCTAssertEqual(store.cell("pets", "fido", "species"), .str(value: "dog"))
        XCTAssertEqual(store.cell("pets", "fido", "legs"), .num(value: 4))
        XCTAssertEqual(store.getJson(), #"[{"pets":{"fido":{"species":"dog","legs":4}}},{"open":true}]"#)
        XCTAssertEqual(store.getRowIds(tableId: "pets"), ["fido"])
    }

    func testListenersAndTransactions() throws {
        let store = createStore()
        var seen: [String] = []
        store.addCellListener("pets", nil, nil) { t, r, c, new, _ in seen.append("\(t)/\(r)/\(c)=\(String(describing: new))") }
        try store.transaction {
            try store.setCell("pets", "fido", "legs", 4)
            XCTAssertTrue(seen.isEmpty)
        }
        XCTAssertEqual(seen.count, 1)
        struct Boom: Error {}
        XCTAssertThrowsError(try store.transaction {
            try store.setCell("pets", "fido", "legs", 5)
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(store.cell("pets", "fido", "legs"), .num(value: 4))
    }

    func testMergeAndHashes() throws {
        let a = createMergeableStore(uniqueId: "a")
        let b = createMergeableStore(uniqueId: "b")
        try a.setCell("t", "r", "c", 1)
        try b.setValue("v", "x")
        try a.merge(other: b)
        XCTAssertEqual(a.getJson(), b.getJson())
        XCTAssertEqual(a.getMergeableContentHashes(), b.getMergeableContentHashes())
    }

    func testPersisterRoundTrip() async throws {
        let path = NSTemporaryDirectory() + "/tinystore-swift-\(UUID().uuidString).sqlite"
        let store = createStore()
        try store.setCell("t", "r", "c", "x")
        try await createSqlitePersister(store, path).saveAsync()
        let again = createStore()
        try await createSqlitePersister(again, path).loadAsync(initial: nil)
        XCTAssertEqual(again.getJson(), store.getJson())
    }

    func testLocalSync() throws {
        let bus = LocalBus()
        let a = createMergeableStore()
        let b = createMergeableStore()
        let sa = bus.createSynchronizer(store: a)
        let sb = bus.createSynchronizer(store: b)
        try sa.startSync(initial: nil)
        try sb.startSync(initial: nil)
        try a.setCell("t", "r", "c", "synced")
        bus.flush()
        XCTAssertEqual(b.cell("t", "r", "c"), .str(value: "synced"))
        sa.shutdown()
        sb.shutdown()
    }

    func testErrors() {
        let store = createStore()
        XCTAssertThrowsError(try store.setJson(json: "[{")) { error in
            guard case TinystoreError.InvalidJson = error else { return XCTFail("\(error)") }
        }
    }

    func testViewsWithClosuresAndFailingFunctions() throws {
        let store = createStore()
        try store.setCell("pets", "fido", "species", "dog")
        let indexes = createIndexes(store: store)
        try indexes.setIndexDefinition("bySpecies", "pets", sliceCellId: "species")
        var seen: [String] = []
        indexes.addSliceRowIdsListener("bySpecies", nil) { _, slice in seen.append(slice) }
        try store.setCell("pets", "felix", "species", "cat")
        XCTAssertEqual(indexes.getSliceRowIds(indexId: "bySpecies", sliceId: "cat"), ["felix"])
        XCTAssertEqual(seen, ["cat"])
        struct Boom: Error {}
        try indexes.setIndexDefinition("failing", "pets") { getCell, _ in
            if getCell("species") == .str(value: "boom") { throw Boom() }
            return []
        }
        XCTAssertThrowsError(try store.setCell("pets", "fido", "species", "boom")) { error in
            guard case TinystoreError.Callback = error else { return XCTFail("\(error)") }
        }
        let queries = createQueries(store: store)
        try queries.setQueryDefinition("q", "pets") { b in
            b.select(cellId: "species")
            b.group(selectedCellId: "species", aggregate: "count").asAlias(alias: "n")
        }
        XCTAssertEqual(queries.getResultRowCount(queryId: "q"), 1)
        let checkpoints = createCheckpoints(store: store)
        try store.setCell("pets", "rex", "species", "dog")
        XCTAssertEqual(checkpoints.addCheckpoint(label: "rex"), "1")
        try checkpoints.goBackward()
        XCTAssertFalse(store.hasRow(tableId: "pets", rowId: "rex"))
    }
}
