/// An AMQP 0-9-1 field value (RabbitMQ's dialect of the field-table types), with the type tag it came with.
///
/// The firehose puts its facts in header tables (`routed_queues` is an array, `redelivered` a signed int, the original
/// properties a nested table), so values keep their wire tag and a capture can write them back exactly.
public enum AMQPValue: Equatable, Sendable {
    /// `t`
    case boolean(Bool)
    /// `b B s u U I i l L`: the tag says which width and signedness it had.
    case integer(Int64, tag: UInt8)
    /// `f` (32-bit) or `d` (64-bit).
    case float(Double, tag: UInt8)
    /// `D`: decimal kept as its digits.
    case decimal(String)
    /// `S` long string that is valid UTF-8.
    case string(String)
    /// `x` byte array, or an `S` long string that is not valid UTF-8 (`tag` tells which).
    case bytes([UInt8], tag: UInt8)
    /// `T`: seconds since the epoch.
    case timestamp(Int64)
    /// `F`
    case table(AMQPTable)
    /// `A`
    case array([AMQPValue])
    /// `V`
    case void

    /// The one-letter wire tag.
    public var tag: UInt8 {
        switch self {
        case .boolean: UInt8(ascii: "t")
        case .integer(_, let tag), .float(_, let tag), .bytes(_, let tag): tag
        case .decimal: UInt8(ascii: "D")
        case .string: UInt8(ascii: "S")
        case .timestamp: UInt8(ascii: "T")
        case .table: UInt8(ascii: "F")
        case .array: UInt8(ascii: "A")
        case .void: UInt8(ascii: "V")
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// Integers of any width, and booleans as 0/1 (RabbitMQ's `redelivered` is an int; other brokers may send `t`).
    public var integerValue: Int64? {
        switch self {
        case .integer(let value, _): value
        case .boolean(let flag): flag ? 1 : 0
        default: nil
        }
    }

    public var tableValue: AMQPTable? {
        if case .table(let table) = self { return table }
        return nil
    }

    public var arrayValue: [AMQPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

/// An AMQP field table: ordered key/value pairs (order is kept so a capture writes back what it read).
public struct AMQPTable: Equatable, Sendable {
    public var entries: [(key: String, value: AMQPValue)]

    /// A key given twice keeps its first value, as the broker's own lookups do (`rabbit_misc:table_lookup`): the
    /// table can then always be captured as a JSON object and read back (found by fuzzing the wire decoder).
    public init(_ entries: [(key: String, value: AMQPValue)] = []) {
        self.entries = Self.hasDuplicateKeys(entries) ? Self.firstOfEachKey(entries) : entries
    }

    /// Entries whose keys the caller has already checked to be distinct (`BusMessage.fastLine`).
    init(distinctEntries entries: [(key: String, value: AMQPValue)]) {
        self.entries = entries
    }

    /// Real header tables have a dozen keys and no duplicates: comparing pairs beats hashing every key into a set.
    private static func hasDuplicateKeys(_ entries: [(key: String, value: AMQPValue)]) -> Bool {
        guard entries.count > 1 else { return false }
        guard entries.count <= 32 else { return Set(entries.map(\.key)).count != entries.count }
        for later in 1..<entries.count {
            for earlier in 0..<later where entries[earlier].key == entries[later].key { return true }
        }
        return false
    }

    private static func firstOfEachKey(_ entries: [(key: String, value: AMQPValue)]) -> [(key: String, value: AMQPValue)] {
        var seen = Set<String>()
        return entries.filter { seen.insert($0.key).inserted }
    }

    public subscript(key: String) -> AMQPValue? {
        entries.first { $0.key == key }?.value
    }

    public var isEmpty: Bool { entries.isEmpty }

    public static func == (lhs: AMQPTable, rhs: AMQPTable) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
