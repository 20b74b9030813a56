/// Trace messages counted per RabbitMQ node (the firehose's `node` header), for `/metrics`.
///
/// `trace_on` is node-local and off after a node restarts, so in a cluster one node's firehose can go quiet while the
/// others keep publishing: only a per-node count shows it. Node names come from the broker, but the label's
/// cardinality is still bounded (a misconfigured or replayed source must not grow the metrics without limit): the
/// first `maximumNodes` distinct names get their own count, later ones share `other`.
public struct NodeMessageCounts: Sendable, Equatable {
    /// Far above any real cluster (RabbitMQ recommends 3, 5 or 7 nodes).
    public static let maximumNodes = 32
    public static let overflowLabel = "other"
    /// Firehose messages without a `node` header (a broker or relay that strips it).
    public static let unknownLabel = "unknown"

    public private(set) var counts: [String: Int] = [:]
    /// Names with a count of their own (at most `maximumNodes`).
    private var named = 0

    public init() {}

    /// Counts one firehose record under its node; tapped messages have no node and are not counted.
    public mutating func count(_ record: BusMessage) {
        guard record.mode == .firehose else { return }
        count(node: record.headers["node"]?.stringValue)
    }

    public mutating func count(node: String?) {
        let name = node ?? Self.unknownLabel
        if let current = counts[name] {  // (RabbitMQ node names are NAME@HOST: never `other` or `unknown`)
            counts[name] = current + 1
        } else if named < Self.maximumNodes {
            named += 1
            counts[name] = 1
        } else {
            counts[Self.overflowLabel, default: 0] += 1
        }
    }
}
