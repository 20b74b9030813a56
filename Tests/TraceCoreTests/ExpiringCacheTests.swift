import Testing

@testable import TraceCore

/// The correlation tables' bounds: what `ExpiringCache` holds besides its live entries.
@Suite struct ExpiringCacheTests {
    /// Answered calls and re-inserted requests leave stale insertion-order slots behind; eviction stops at the oldest
    /// live entry, so under a long age bound they used to pile up (a slot per insert of the last 15 minutes).
    @Test("removed and replaced entries do not keep their insertion-order slots: slots stay within twice the entries")
    func staleSlotsAreCompacted() {
        let minute: Int64 = 60 * 1_000_000_000
        var cache = ExpiringCache<String, Int>(capacity: 100_000, maximumAge: 15 * minute)
        cache.insert(0, for: "long-lived", at: 0)  // the oldest live entry: eviction never passes it
        var maximumSlots = 0
        for index in 1...20_000 {
            let time = Int64(index) * 1_000_000
            cache.insert(index, for: "call-\(index)", at: time)
            _ = cache.removeValue(for: "call-\(index)")  // answered
            cache.insert(index, for: "request-\(index % 10)", at: time)  // re-inserted: its old slot goes stale
            _ = cache.evict(now: time)
            maximumSlots = max(maximumSlots, cache.slotCount)
        }
        #expect(cache.count == 11)
        #expect(maximumSlots <= 2 * 11 + 1026, "\(maximumSlots) slots for 11 entries")
    }

    @Test("compaction keeps the eviction order: oldest first, by capacity and by age")
    func orderSurvivesCompaction() {
        var cache = ExpiringCache<String, Int>(capacity: 3, maximumAge: 1_000)
        cache.insert(1, for: "a", at: 1)
        cache.insert(2, for: "b", at: 2)
        for index in 0..<3_000 {  // enough stale slots to compact, none of them over capacity
            cache.insert(index, for: "x", at: 3)
            _ = cache.removeValue(for: "x")
            _ = cache.evict(now: 3)
        }
        #expect(cache.slotCount <= 2 + 1025, "compacted: \(cache.slotCount) slots")
        cache.insert(3, for: "c", at: 4)
        cache.insert(4, for: "d", at: 5)
        #expect(cache.evict(now: 5).map(\.key) == ["a"], "over capacity: the oldest leaves")
        #expect(cache.evict(now: 1_003).map(\.key) == ["b"], "too old: b (inserted at 2) leaves at 1,003")
        #expect(Set(cache.keys) == ["c", "d"])
    }

    @Test("withValue changes a stored value in place: its array is not copied, its age is unchanged")
    func withValueInPlace() {
        var cache = ExpiringCache<String, [Int]>(capacity: 10, maximumAge: 1_000)
        var array: [Int] = []
        array.reserveCapacity(64)
        array.append(contentsOf: [1, 2, 3])
        cache.insert(array, for: "r", at: 0)
        array = []  // the cache alone holds the buffer now
        func address(_ value: [Int]) -> UInt { value.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        let before = cache.withValue(for: "r") { address($0) }
        let after = cache.withValue(for: "r") { value -> UInt in
            value.append(4)
            return address(value)
        }
        #expect(before != nil && before == after, "appended in the stored buffer, not a copy of it")
        #expect(cache["r"] == [1, 2, 3, 4])
        #expect(cache.withValue(for: "missing") { $0.append(1) } == nil && cache["missing"] == nil && cache.count == 1)
        #expect(cache.evict(now: 1_001).map(\.key) == ["r"], "still aged from its insert at 0")
    }

    /// A key that counts how often the cache hashes it.
    final class Hashes: @unchecked Sendable { var count = 0 }
    struct CountedKey: Hashable {
        let name: String
        let hashes: Hashes
        static func == (a: CountedKey, b: CountedKey) -> Bool { a.name == b.name }
        func hash(into hasher: inout Hasher) {
            hashes.count += 1
            hasher.combine(name)
        }
    }

    @Test("eviction that finds a live head too young to leave looks nothing up once it knows the head is live")
    func youngLiveHeadCostsNoLookup() {
        let hashes = Hashes()
        func key(_ name: String) -> CountedKey { CountedKey(name: name, hashes: hashes) }
        var cache = ExpiringCache<CountedKey, Int>(capacity: 10, maximumAge: 1_000)
        cache.insert(1, for: key("a"), at: 0)
        cache.insert(2, for: key("b"), at: 1)
        #expect(cache.evict(now: 10).isEmpty)
        let afterFirst = hashes.count
        for now in Int64(11)...1_000 { #expect(cache.evict(now: now).isEmpty) }
        #expect(hashes.count == afterFirst, "\(hashes.count - afterFirst) lookups in 990 evictions of a known live head")
        #expect(cache.evict(now: 1_001).map(\.key.name) == ["a"], "still leaves when it is too old")
        #expect(cache.count == 1)
    }

    @Test("a head known live and then replaced or removed is looked up again: its age is the new insert's")
    func replacedHeadIsNotTakenForLive() {
        var cache = ExpiringCache<String, Int>(capacity: 10, maximumAge: 1_000)
        cache.insert(1, for: "a", at: 0)
        #expect(cache.evict(now: 500).isEmpty)  // "a" is now the known live head
        cache.insert(2, for: "a", at: 600)  // replaced: aged from 600
        #expect(cache.evict(now: 1_001).isEmpty, "the replaced entry is not aged from its first insert")
        #expect(cache.evict(now: 1_601).map(\.value) == [2])
        cache.insert(3, for: "b", at: 2_000)
        #expect(cache.evict(now: 2_000).isEmpty)  // "b" known live
        _ = cache.removeValue(for: "b")
        cache.insert(4, for: "b", at: 2_500)
        #expect(cache.evict(now: 3_001).isEmpty, "removed and inserted again: aged from 2,500")
        #expect(cache.evict(now: 3_501).map(\.value) == [4])
        cache.insert(5, for: "c", at: 4_000)
        #expect(cache.evict(now: 4_000).isEmpty)  // "c" known live
        cache["c"] = nil
        cache.insert(6, for: "d", at: 4_100)
        #expect(cache.evict(now: 5_050).isEmpty, "c removed by subscript: d is the head, aged from 4,100")
        #expect(cache.evict(now: 5_101).map(\.key) == ["d"] && cache.count == 0)
    }
}
