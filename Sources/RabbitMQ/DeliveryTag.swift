/// Identifies a delivery across reconnects: tags are per channel, so an ack for an older connection is dropped
/// (the broker redelivers what that connection left unacknowledged).
public struct DeliveryTag: Sendable, Hashable, Comparable {
    public var generation: UInt64
    public var tag: UInt64

    public init(generation: UInt64, tag: UInt64) {
        self.generation = generation
        self.tag = tag
    }

    public static func < (lhs: DeliveryTag, rhs: DeliveryTag) -> Bool {
        (lhs.generation, lhs.tag) < (rhs.generation, rhs.tag)
    }
}
