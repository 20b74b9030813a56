import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Pins the attribute keys each span kind carries on the shipped captures, so a renamed, misspelt or lost attribute
/// (or a new one nobody documented) fails here rather than in someone's dashboard. The expected sets are written out
/// literally, not built from `AttributeKey`, so renaming a constant's value is caught too.
@Suite struct AttributeKeyTests {
    /// Span kind → every attribute key seen on spans of that kind, over all captures replayed as firehose (the
    /// `trace_bridge.*` keys need other modes or unmapped queues, which these captures do not show).
    static let expectedSpanKeys: [String: Set<String>] = [
        "PRODUCER": [
            "messaging.destination.name", "messaging.message.body.size", "messaging.message.conversation_id",
            "messaging.message.id", "messaging.operation.name", "messaging.operation.type",
            "messaging.rabbitmq.destination.routing_key", "messaging.rabbitmq.unroutable", "messaging.system",
            "openstack.global_request_id", "openstack.message.kind", "openstack.notification.event_type",
            "openstack.notification.priority", "openstack.notification.publisher_id", "openstack.project_id",
            "openstack.request_id", "openstack.rpc.version", "openstack.user_id", "rpc.method", "rpc.service",
            "rpc.system",
        ],
        "CONSUMER": [
            "messaging.destination.name", "messaging.destination.subscription.name", "messaging.message.body.size",
            "messaging.message.conversation_id", "messaging.message.id", "messaging.operation.name",
            "messaging.operation.type", "messaging.rabbitmq.destination.routing_key", "messaging.system",
            "openstack.global_request_id", "openstack.message.kind", "openstack.notification.event_type",
            "openstack.notification.priority", "openstack.notification.publisher_id", "openstack.project_id",
            "openstack.request_id", "openstack.rpc.version", "openstack.user_id", "rpc.method", "rpc.service",
            "rpc.system",
        ],
        "CLIENT": [
            "error.type", "messaging.destination.name", "messaging.message.body.size",
            "messaging.message.conversation_id", "messaging.message.id", "messaging.rabbitmq.destination.routing_key",
            "messaging.system", "openstack.global_request_id", "openstack.message.kind", "openstack.project_id",
            "openstack.request_id", "openstack.rpc.timeout_ms", "openstack.rpc.version", "openstack.user_id",
            "rpc.method", "rpc.service", "rpc.system",
        ],
        "SERVER": [
            "messaging.destination.name", "messaging.message.body.size", "messaging.message.conversation_id",
            "messaging.message.id", "messaging.operation.type", "messaging.rabbitmq.destination.routing_key",
            "messaging.system", "openstack.global_request_id", "openstack.message.kind", "openstack.project_id",
            "openstack.request_id", "openstack.rpc.timeout_ms", "openstack.rpc.version", "openstack.user_id",
            "rpc.method", "rpc.service", "rpc.system",
        ],
    ]

    /// "KIND event-name" → every attribute key seen on those span events.
    static let expectedEventKeys: [String: Set<String>] = [
        "CLIENT exception": [
            "exception.message", "exception.type",
        ],
        "SERVER exception": [
            "exception.message", "exception.type",
        ],
    ]

    static func observed() throws -> (spans: [String: Set<String>], events: [String: Set<String>]) {
        var spans: [String: Set<String>] = [:]
        var events: [String: Set<String>] = [:]
        for fixture in GroundTruthTests.fixtures {
            let replay = try Replay(fixture: fixture, options: GroundTruthTests.options(for: fixture))
            for span in replay.spans {
                spans[span.kind.name, default: []].formUnion(span.attributes.map(\.key))
                for event in span.events {
                    events["\(span.kind.name) \(event.name)", default: []].formUnion(event.attributes.map(\.key))
                }
            }
        }
        return (spans, events)
    }

    @Test("each span kind's attribute keys on the shipped captures are exactly the pinned set")
    func spanKeys() throws {
        let observed = try Self.observed()
        #expect(observed.spans == Self.expectedSpanKeys, "\(observed.spans.mapValues { $0.sorted() })")
        #expect(observed.events == Self.expectedEventKeys, "\(observed.events.mapValues { $0.sorted() })")
    }

    @Test("every key the captures show is an AttributeKey constant")
    func keysAreConstants() throws {
        let constants: Set<String> = [
            AttributeKey.messagingSystem, AttributeKey.messagingDestinationName,
            AttributeKey.messagingDestinationSubscriptionName, AttributeKey.messagingRabbitmqDestinationRoutingKey,
            AttributeKey.messagingMessageID, AttributeKey.messagingMessageConversationID,
            AttributeKey.messagingMessageBodySize, AttributeKey.messagingOperationType,
            AttributeKey.messagingOperationName, AttributeKey.messagingRabbitmqRedelivered,
            AttributeKey.messagingRabbitmqUnroutable, AttributeKey.rpcSystem, AttributeKey.rpcService,
            AttributeKey.rpcMethod, AttributeKey.openstackMessageKind, AttributeKey.openstackRpcVersion,
            AttributeKey.openstackRpcTimeoutMS, AttributeKey.openstackRequestID, AttributeKey.openstackGlobalRequestID,
            AttributeKey.openstackProjectID, AttributeKey.openstackUserID, AttributeKey.openstackNotificationEventType,
            AttributeKey.openstackNotificationPriority, AttributeKey.openstackNotificationPublisherID,
            AttributeKey.errorType, AttributeKey.exceptionType, AttributeKey.exceptionMessage,
            AttributeKey.traceBridgeDeliveryObserved, AttributeKey.traceBridgeQueueWaitKnown,
            AttributeKey.traceBridgeUnknownQueue, AttributeKey.traceBridgeCallEnd,
        ]
        let observed = try Self.observed()
        let seen = observed.spans.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            .union(observed.events.values.reduce(into: Set<String>()) { $0.formUnion($1) })
        #expect(seen.subtracting(constants).sorted() == [], "keys written without an AttributeKey constant")
    }
}
