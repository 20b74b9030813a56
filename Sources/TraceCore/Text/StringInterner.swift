#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands back a `String` it already holds when the same bytes come again, instead of allocating a new one.
///
/// The oslo.messaging decoder reads about eight allow-listed strings per message past Swift's 15 inline bytes, and
/// most of them repeat from message to message: a request's ID and global request ID on every message of the request,
/// the user and project IDs of a tenant, a process's reply queue, method names and event types. Each used to be a new
/// heap allocation (Benchmarks/RESULTS.md, "the live path's allocations"); a hit here is a hash of a few words, one
/// comparison and a retain. IDs that are unique per message (`_unique_id`, `_msg_id`, `message_id`) are not offered.
///
/// Direct-mapped: each slot holds the last string whose hash landed there, so memory is bounded (`slots` strings of at
/// most `maximumLength` bytes) and a collision, hostile or not, only costs a miss. Equality is checked on the bytes, so
/// a hit is always the same string. Not thread-safe: one per pipeline, used by one task at a time.
public final class StringInterner {
    /// Shorter strings are stored inline by `String` itself: nothing to save, so they are not looked up.
    static let minimumLength = 16
    /// Longer ones are rare and would hold more memory per slot than they save.
    static let maximumLength = 64

    private var slots: [String?]
    private let mask: Int
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// `slots` is rounded up to a power of two.
    public init(slots: Int = 4096) {
        var size = 1
        while size < max(1, slots) { size <<= 1 }
        self.slots = Array(repeating: nil, count: size)
        mask = size - 1
    }

    /// The bytes as a `String` if they are valid UTF-8 (as `UTF8Text.string`), from the table when it holds them.
    public func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count >= Self.minimumLength, bytes.count <= Self.maximumLength, let base = bytes.baseAddress else {
            return UTF8Text.string(bytes)
        }
        let raw = UnsafeRawPointer(base)
        // The first and last eight bytes and the length: IDs differ in both, and a collision only costs a miss.
        let head = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        let tail = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
        var hash = (head ^ (tail &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(bytes.count)) &* 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 31
        let slot = Int(truncatingIfNeeded: hash) & mask
        if var held = slots[slot], held.utf8.count == bytes.count,
            held.withUTF8({ memcmp($0.baseAddress!, base, bytes.count) == 0 })
        {
            hits += 1
            return held
        }
        guard let string = UTF8Text.string(bytes) else { return nil }
        misses += 1
        slots[slot] = string
        return string
    }

    /// `a + b + c + d`, from the table when it holds the result: span names, destination templates and RPC methods
    /// are built from a few parts per span and take a few dozen distinct values, so a hit joins the parts on the
    /// stack and allocates nothing. Results outside the interned lengths are joined as usual.
    public func concatenated(_ a: String, _ b: String, _ c: String = "", _ d: String = "") -> String {
        let count = a.utf8.count + b.utf8.count + c.utf8.count + d.utf8.count
        guard count >= Self.minimumLength, count <= Self.maximumLength else { return a + b + c + d }
        let joined: String? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.maximumLength) { buffer in
            var offset = 0
            func copy(_ part: String) {
                let copied: Void? = part.utf8.withContiguousStorageIfAvailable { source in
                    guard let from = source.baseAddress else { return }
                    (buffer.baseAddress! + offset).initialize(from: from, count: source.count)
                    offset += source.count
                }
                guard copied == nil else { return }
                for byte in part.utf8 {
                    buffer[offset] = byte
                    offset += 1
                }
            }
            copy(a)
            copy(b)
            copy(c)
            copy(d)
            return string(UnsafeBufferPointer(rebasing: buffer[..<offset]))
        }
        // Valid UTF-8 parts join into valid UTF-8: the fallback is never taken, but costs nothing to keep.
        return joined ?? a + b + c + d
    }

    /// Strings held (tests: never more than the slots).
    var heldCount: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}
