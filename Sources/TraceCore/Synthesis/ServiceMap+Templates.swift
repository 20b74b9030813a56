/// Destinations without hosts or IDs: span names and metric labels must have low, bounded cardinality (span
/// metrics and service graphs make one series per name), so `compute.compute-1` is `compute.{server}` and
/// `scheduler_fanout_<uuid>` is `scheduler_fanout_{id}`. The convention's `messaging.destination.template`.
extension ServiceMap {
    /// Where a publish goes: `<exchange>:<topic>[.{server}]`, `<exchange>` alone for a fanout exchange, the routing
    /// key itself for a notification topic (`nova:versioned_notifications.info`: the priority is not an ID), and
    /// `amq.default:<queue template>` for a publish to the default exchange.
    /// `target` is `target(exchange:routingKey:)`, when the caller has it already; `interner`, the caller's (see `join`).
    public func destinationTemplate(
        exchange: String, routingKey: String, target: Target? = nil, interner: StringInterner? = nil
    ) -> String {
        if exchange.isEmpty {
            return Self.join(interner, "amq.default:", queueTemplate(routingKey, target: target, interner: interner))
        }
        let target = target ?? self.target(exchange: exchange, routingKey: routingKey)
        if target.isFanoutQueue { return exchange }
        if entry(ofTopic: target.topic)?.isNotificationTopic ?? false { return Self.join(interner, exchange, ":", routingKey) }
        return target.server == nil
            ? Self.join(interner, exchange, ":", target.topic) : Self.join(interner, exchange, ":", target.topic, ".{server}")
    }

    /// A queue name without hosts or IDs: `compute.compute-1` → `compute.{server}`, `reply_…` → `reply_{id}`,
    /// `scheduler_fanout_<uuid>` → `scheduler_fanout_{id}`; a stream fanout (`scheduler_fanout`) and notification
    /// queues (`versioned_notifications.info`) are kept as they are.
    /// `target` is `target(ofQueue:)`, when the caller has it already.
    public func queueTemplate(_ queue: String, target: Target? = nil, interner: StringInterner? = nil) -> String {
        let target = target ?? self.target(ofQueue: queue)
        if target.isReplyQueue { return "reply_{id}" }
        if target.isStreamQueue { return queue }
        if target.isFanoutQueue { return Self.join(interner, target.topic, "_fanout_{id}") }
        if target.server != nil, !(entry(ofTopic: target.topic)?.isNotificationTopic ?? false) {
            return Self.join(interner, target.topic, ".{server}")
        }
        return queue
    }

    /// Templates are built per span from a few dozen distinct parts: through the synthesizer's interner a repeated
    /// one is not allocated again.
    static func join(_ interner: StringInterner?, _ a: String, _ b: String, _ c: String = "", _ d: String = "") -> String {
        interner?.concatenated(a, b, c, d) ?? a + b + c + d
    }
}
