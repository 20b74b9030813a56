import Foundation

@testable import TraceCore
import TestSupport

/// Turns a single-node capture into what the agent would receive from a three-node RabbitMQ cluster.
///
/// `trace_on` is node-local: a client connection lives on one node, and that node traces its publishes and its
/// deliveries. So every distinct firehose `connection` goes to one node (a seeded hash), and the record's `node`
/// header names it. Each node's link to the agent adds a delay that drifts between 0 and `maxDelay` (a seeded random
/// walk, one step per message of that node); a node's messages keep their order
/// (arrival = max(previous arrival on that node, captured_at + delay)). The records are merged by arrival and
/// `captured_at` becomes the arrival: the firehose has no timestamps, so the agent's receive time is the event time.
struct ClusterSimulation {
    static let nodeNames = ["rabbit@node-a", "rabbit@node-b", "rabbit@node-c"]

    /// With `timestamps`, every message also carries `timestamp_in_ms` (the publish time as the broker received
    /// it: RabbitMQ 3.12+ with `message_interceptors.incoming.set_header_timestamp`), on its publish and its
    /// deliveries alike.
    static func reorder(
        _ records: [BusMessage], seed: UInt64, maxDelay: Int64, nodes: Int = 3, timestamps: Bool = false
    ) -> [BusMessage] {
        var random = SplitMix64(seed: seed)
        var delay = (0..<nodes).map { _ in maxDelay == 0 ? 0 : Int64(random.next() % UInt64(maxDelay + 1)) }
        var lastArrival = [Int64](repeating: .min, count: nodes)
        var publishMillis: [[UInt8]: Int64] = [:]
        var arrived: [(arrival: Int64, node: Int, index: Int, record: BusMessage)] = []
        for (index, var record) in records.enumerated() {
            let connection = record.headers["connection"]?.stringValue ?? ""
            var hash = SplitMix64(seed: seed ^ fnv1a(connection))
            let node = Int(hash.next() % UInt64(nodes))
            if maxDelay > 0 {
                // A random walk of up to a third of the range per message, reflected at 0 and maxDelay.
                let step = Int64(random.next() % UInt64(2 * (maxDelay / 3) + 1)) - maxDelay / 3
                var next = delay[node] + step
                if next < 0 { next = -next }
                if next > maxDelay { next = 2 * maxDelay - next }
                delay[node] = min(max(next, 0), maxDelay)
            }
            let arrival = max(lastArrival[node], record.capturedAt + delay[node])
            lastArrival[node] = arrival
            record.headers = setting(record.headers, "node", .string(nodeNames[node % nodeNames.count]))
            if timestamps {
                let millis: Int64
                if record.routingKey.hasPrefix("publish.") {
                    millis = record.capturedAt / 1_000_000
                    publishMillis[record.body] = millis
                } else {
                    millis = publishMillis[record.body] ?? record.capturedAt / 1_000_000
                }
                var properties = record.headers["properties"]?.tableValue ?? AMQPTable()
                let inner = setting(properties["headers"]?.tableValue ?? AMQPTable(), "timestamp_in_ms",
                                    .integer(millis, tag: UInt8(ascii: "l")))
                properties = setting(properties, "headers", .table(inner))
                record.headers = setting(record.headers, "properties", .table(properties))
            }
            arrived.append((arrival, node, index, record))
        }
        arrived.sort { ($0.arrival, $0.index) < ($1.arrival, $1.index) }
        return arrived.enumerated().map { position, entry in
            var record = entry.record
            record.capturedAt = entry.arrival
            record.seq = Int64(position + 1)
            return record
        }
    }

    /// The capture's records as shipped.
    static func records(fixture: String) throws -> [BusMessage] {
        var records: [BusMessage] = []
        var splitter = LineSplitter()
        let bytes = try Repository.bytes(Repository.fixture("\(fixture).jsonl"))
        var failure: Error?
        let take: ([UInt8], Int) -> Void = { line, number in
            do { records.append(try BusMessage(line: line, lineNumber: number)) } catch { failure = error }
        }
        splitter.feed(bytes, take)
        splitter.finish(take)
        if let failure { throw failure }
        return records
    }

    /// How many records arrive after a record that was captured later (0: the order is the capture's).
    static func overtakes(_ records: [BusMessage], original: [BusMessage]) -> Int {
        var position: [[UInt8]: [Int]] = [:]
        for (index, record) in original.enumerated() { position[record.routingKey.utf8.map { $0 } + record.body, default: []].append(index) }
        var seen = 0, count = 0
        for record in records {
            let key = record.routingKey.utf8.map { $0 } + record.body
            guard let index = position[key]?.removeFirst() else { continue }
            if index < seen { count += 1 }
            seen = max(seen, index)
        }
        return count
    }

    private static func setting(_ table: AMQPTable, _ key: String, _ value: AMQPValue) -> AMQPTable {
        var entries = table.entries.filter { $0.key != key }
        entries.append((key, value))
        return AMQPTable(entries)
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same cluster order on every machine.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
