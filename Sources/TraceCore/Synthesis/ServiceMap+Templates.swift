/// Destinations without hosts or IDs: span names and metric labels must have low, bounded cardinality (span
/// metrics and service graphs make one series per name), so `compute.compute-1` is `compute.{server}` and
/// `scheduler_fanout_<uuid>` is `scheduler_fanout_{id}`. The convention's `messaging.destination.template`.
extension ServiceMap {
    /// Where a publish goes: `<exchange>:<topic>[.{server}]`, `<exchange>` alone for a fanout exchange, the routing
    /// key itself for a notification topic (`nova:versioned_notifications.info`: the priority is not an ID), and
    /// `amq.default:<queue template>` for a publish to the default exchange.
    public func destinationTemplate(exchange: String, routingKey: String) -> String {
        if exchange.isEmpty { return "amq.default:\(queueTemplate(routingKey))" }
        let target = target(exchange: exchange, routingKey: routingKey)
        if target.isFanoutQueue { return exchange }
        if entry(ofTopic: target.topic)?.isNotificationTopic ?? false { return "\(exchange):\(routingKey)" }
        return target.server == nil ? "\(exchange):\(target.topic)" : "\(exchange):\(target.topic).{server}"
    }

    /// A queue name without hosts or IDs: `compute.compute-1` → `compute.{server}`, `reply_…` → `reply_{id}`,
    /// `scheduler_fanout_<uuid>` → `scheduler_fanout_{id}`; a stream fanout (`scheduler_fanout`) and notification
    /// queues (`versioned_notifications.info`) are kept as they are.
    public func queueTemplate(_ queue: String) -> String {
        let target = target(ofQueue: queue)
        if target.isReplyQueue { return "reply_{id}" }
        if target.isStreamQueue { return queue }
        if target.isFanoutQueue { return "\(target.topic)_fanout_{id}" }
        if target.server != nil, !(entry(ofTopic: target.topic)?.isNotificationTopic ?? false) {
            return "\(target.topic).{server}"
        }
        return queue
    }

    /// Where a delivery came from and went: the publish's destination, then the queue (`nova:compute.{server}:
    /// compute.{server}`), so that a fanout's listeners and a topic's shared and per-server queues are told apart.
    public func deliveryTemplate(exchange: String, routingKey: String, queue: String) -> String {
        "\(destinationTemplate(exchange: exchange, routingKey: routingKey)):\(queueTemplate(queue))"
    }
}
