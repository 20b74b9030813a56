/// Every span and resource attribute key the core writes, in one place.
///
/// The keys are a contract with dashboards, queries and docs/synthesis.md "Attributes": a typo or a rename here is a
/// visible change, so the synthesizer uses these constants, never a literal, and `AttributeKeyTests` pins the set of
/// keys each span kind carries on the shipped captures.
public enum AttributeKey {
    // MARK: Messaging (OpenTelemetry semantic conventions, messaging and RabbitMQ)
    public static let messagingSystem = "messaging.system"
    public static let messagingDestinationName = "messaging.destination.name"
    public static let messagingDestinationSubscriptionName = "messaging.destination.subscription.name"
    public static let messagingRabbitmqDestinationRoutingKey = "messaging.rabbitmq.destination.routing_key"
    public static let messagingMessageID = "messaging.message.id"
    public static let messagingMessageConversationID = "messaging.message.conversation_id"
    public static let messagingMessageBodySize = "messaging.message.body.size"
    public static let messagingOperationType = "messaging.operation.type"
    public static let messagingOperationName = "messaging.operation.name"
    /// The destination without hosts or IDs (`nova:compute.{server}`): the low-cardinality part of a span name.
    public static let messagingDestinationTemplate = "messaging.destination.template"

    /// The broker node the sending or receiving client is connected to (the host of the firehose's `node` header,
    /// `rabbit@ctl-1` → `ctl-1`): where the trace event was recorded. Set only when seen, never for inferred
    /// deliveries.
    public static let serverAddress = "server.address"

    // MARK: RPC (semantic conventions v1.44.0: `rpc.system.name`, and `rpc.method` fully qualified)
    public static let rpcSystemName = "rpc.system.name"
    /// `<namespace or topic>/<method>`: `compute/build_and_run_instance`; equal to the CLIENT and SERVER span names.
    public static let rpcMethod = "rpc.method"

    // MARK: The service a CLIENT or PRODUCER talks to (service graphs' virtual nodes when nothing answered)
    /// The current convention's key.
    public static let servicePeerName = "service.peer.name"
    /// Deprecated by the conventions but the key the collector's `servicegraph` connector and Tempo read by default
    /// (`virtual_node_peer_attributes`, `peer_attributes`): both are written.
    public static let peerService = "peer.service"

    // MARK: OpenStack: what oslo.messaging and the request context say (docs/synthesis.md "Attributes")
    public static let openstackMessageKind = "openstack.message.kind"
    public static let openstackRpcVersion = "openstack.rpc.version"
    public static let openstackRpcTimeoutMS = "openstack.rpc.timeout_ms"
    public static let openstackRequestID = "openstack.request_id"
    public static let openstackGlobalRequestID = "openstack.global_request_id"
    public static let openstackProjectID = "openstack.project_id"
    public static let openstackUserID = "openstack.user_id"
    public static let openstackNotificationEventType = "openstack.notification.event_type"
    public static let openstackNotificationPriority = "openstack.notification.priority"
    public static let openstackNotificationPublisherID = "openstack.notification.publisher_id"
    /// The instance a message is about (`OsloMessage.subject`): find every message of one server.
    public static let openstackInstanceID = "openstack.instance.id"

    // MARK: Errors (semantic conventions: `error.type` on the span, `exception.*` on its exception event)
    public static let errorType = "error.type"
    public static let exceptionType = "exception.type"
    public static let exceptionMessage = "exception.message"

    // MARK: The agent's own: what it inferred or could not see
    public static let traceBridgeDeliveryObserved = "trace_bridge.delivery_observed"
    public static let traceBridgeQueueWaitKnown = "trace_bridge.queue_wait_known"
    /// Publish to delivery, in nanoseconds, on CONSUMER and SERVER spans (which start at the delivery).
    public static let traceBridgeQueueWaitNS = "trace_bridge.queue_wait_ns"
    public static let traceBridgeUnknownQueue = "trace_bridge.unknown_queue"
    public static let traceBridgeCallEnd = "trace_bridge.call_end"
    /// `ambiguous`: equally good handlers about different instances could have caused it; parented on what is certain.
    public static let traceBridgeCause = "trace_bridge.cause"
    /// The broker delivered the message before (`redelivered`, or a quorum queue's `x-delivery-count`). Not
    /// `messaging.rabbitmq.*`: the convention defines no such key in its namespace.
    public static let traceBridgeRedelivered = "trace_bridge.redelivered"
    /// The broker routed the publish to no queue (the firehose's `routed_queues` was empty).
    public static let traceBridgeUnroutable = "trace_bridge.unroutable"

    // MARK: Resource (semantic conventions)
    public static let serviceName = "service.name"
    public static let serviceNamespace = "service.namespace"
    public static let hostName = "host.name"
}
