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
}
