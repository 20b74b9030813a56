/// A map bounded by entry count and by age, for correlation state that must never grow without limit.
///
/// Entries leave oldest-first (by insertion time) when the map is over `capacity` or older than `maximumAge`; the
/// caller gets them back to finalize (an evicted call becomes a timeout) and to count.
struct ExpiringCache<Key: Hashable, Value> {
    private struct Entry {
        var value: Value
        var insertedAt: Int64
        var generation: UInt64
    }

    let capacity: Int
    let maximumAge: Int64
    private var entries: [Key: Entry] = [:]
    private var order: [(key: Key, generation: UInt64, insertedAt: Int64)] = []
    private var head = 0
    private var nextGeneration: UInt64 = 0
    /// Slots in `order[head...]` whose entry was removed or replaced since. They used to stay until eviction reached
    /// them, and eviction stops at the oldest live entry: under a 15-minute age bound `order` held a slot for every
    /// insert of the last 15 minutes (every answered call, every re-inserted request), however few entries were
    /// live. Compacted once they outnumber the live entries (amortized O(1) per insert).
    private var staleSlots = 0
    /// The generation of the head slot once a lookup found it live: until that entry is removed or replaced, `evict`
    /// knows it without a lookup. The synthesizer evicts its seven tables on every message, and nearly always finds
    /// a live head too young to leave: that was seven string hashes and compares per message for nothing (eviction
    /// was 2.9 % of a replay's CPU, Benchmarks/RESULTS.md 2026-12-07 21:30).
    private var liveHeadGeneration: UInt64 = 0

    init(capacity: Int, maximumAge: Int64) {
        precondition(capacity > 0 && maximumAge > 0)
        self.capacity = capacity
        self.maximumAge = maximumAge
    }

    var count: Int { entries.count }

    subscript(key: Key) -> Value? {
        get { entries[key]?.value }
        _modify {
            var value = entries[key]?.value
            yield &value
            if let value {
                if entries[key] != nil {
                    entries[key]!.value = value
                } else {
                    fatalError("ExpiringCache: insert with insert(_:for:at:) so the entry gets an age")
                }
            } else if let removed = entries.removeValue(forKey: key) {
                forget(removed)
            }
        }
    }

    /// Runs `body` on the value stored for `key`, in place: unlike `self[key]` (whose setter pattern holds a second
    /// copy while it runs), a value's arrays are not copied when `body` changes them. Nil when there is no entry;
    /// the entry's age is unchanged.
    @discardableResult
    mutating func withValue<R>(for key: Key, _ body: (inout Value) throws -> R) rethrows -> R? {
        guard let index = entries.index(forKey: key) else { return nil }
        return try body(&entries.values[index].value)
    }

    /// Inserts or replaces; a replaced entry counts as new for its age.
    mutating func insert(_ value: Value, for key: Key, at time: Int64) {
        nextGeneration += 1
        if let replaced = entries.updateValue(Entry(value: value, insertedAt: time, generation: nextGeneration), forKey: key) {
            forget(replaced)  // its slot goes stale
        }
        order.append((key, nextGeneration, time))
    }

    @discardableResult
    mutating func removeValue(for key: Key) -> Value? {
        guard let removed = entries.removeValue(forKey: key) else { return nil }
        forget(removed)
        return removed.value
    }

    /// An entry left other than by eviction: its order slot is stale now, and no longer a known live head.
    private mutating func forget(_ entry: Entry) {
        staleSlots += 1
        if entry.generation == liveHeadGeneration { liveHeadGeneration = 0 }
    }

    /// Removes what is over capacity or older than `maximumAge` at `now`, oldest first.
    mutating func evict(now: Int64) -> [(key: Key, value: Value)] {
        var evicted: [(key: Key, value: Value)] = []
        while head < order.count {
            let oldest = order[head]
            if oldest.generation != liveHeadGeneration {
                guard let entry = entries[oldest.key], entry.generation == oldest.generation else {
                    head += 1  // removed or replaced since: a stale order slot
                    staleSlots -= 1
                    continue
                }
                liveHeadGeneration = entry.generation
            }
            // Live, so its entry was inserted with this slot, at this time.
            guard entries.count > capacity || now - oldest.insertedAt > maximumAge else { break }
            let entry = entries.removeValue(forKey: oldest.key)!
            evicted.append((oldest.key, entry.value))
            head += 1
        }
        if staleSlots > 1024, staleSlots > entries.count {
            order = order[head...].filter { entries[$0.key]?.generation == $0.generation }
            head = 0
            staleSlots = 0
        } else if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return evicted
    }

    var keys: some Collection<Key> { entries.keys }

    /// Insertion-order slots held, live and stale (for the test that bounds them).
    var slotCount: Int { order.count - head }

    mutating func removeAll() -> [(key: Key, value: Value)] {
        let all = entries.map { ($0.key, $0.value.value) }
        entries.removeAll()
        order.removeAll()
        head = 0
        staleSlots = 0
        liveHeadGeneration = 0
        return all
    }
}
