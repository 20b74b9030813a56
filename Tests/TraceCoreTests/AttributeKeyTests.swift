import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Pins the attribute keys each span kind carries on the shipped captures, so a renamed, misspelt or lost attribute
/// (or a new one nobody documented) fails here rather than in someone's dashboard. The expected sets are written out
/// literally, not built from `AttributeKey`, so renaming a constant's value is caught too.
@Suite struct AttributeKeyTests {
    /// Span kind → every attribute key seen on spans of that kind, over all captures replayed as firehose.
    static let expectedSpanKeys: [String: Set<String>] = [
        "PRODUCER": [
            "messaging.destination.name", "messaging.message.body.size", "messaging.message.id", "messaging.operation.name", "messaging.operation.type",
            "messaging.rabbitmq.destination.routing_key", "trace_bridge.unroutable", "messaging.system",
            "openstack.global_request_id", "openstack.instance.id", "openstack.message.kind",
            "openstack.notification.event_type", "openstack.notification.priority",
            "openstack.notification.publisher_id", "openstack.project_id", "openstack.request_id",
            "openstack.rpc.version", "openstack.user_id", "rpc.method", "rpc.system.name",
            "messaging.destination.template", "error.type", "peer.service", "service.peer.name", "server.address",
        ],
        "CONSUMER": [
            "messaging.destination.name", "messaging.destination.subscription.name", "messaging.message.body.size",
            "messaging.message.id", "messaging.operation.name",
            "messaging.operation.type", "messaging.rabbitmq.destination.routing_key", "messaging.system",
            "openstack.global_request_id", "openstack.instance.id", "openstack.message.kind",
            "openstack.notification.event_type", "openstack.notification.priority",
            "openstack.notification.publisher_id", "openstack.project_id", "openstack.request_id",
            "openstack.rpc.version", "openstack.user_id", "rpc.method", "rpc.system.name",
            "messaging.destination.template", "server.address", "trace_bridge.queue_wait_ns",
        ],
        "CLIENT": [
            "error.type", "messaging.destination.name", "messaging.message.body.size",
            "messaging.message.conversation_id", "messaging.message.id", "messaging.rabbitmq.destination.routing_key",
            "messaging.system", "openstack.global_request_id", "openstack.instance.id", "openstack.message.kind",
            "openstack.project_id", "openstack.request_id", "openstack.rpc.timeout_ms", "openstack.rpc.version",
            "openstack.user_id", "rpc.method", "rpc.system.name", "peer.service", "service.peer.name",
            "trace_bridge.unroutable",
        ],
        "SERVER": [
            "error.type", "messaging.destination.name", "messaging.message.body.size", "messaging.message.conversation_id",
            "messaging.message.id", "messaging.rabbitmq.destination.routing_key",
            "messaging.system", "openstack.global_request_id", "openstack.instance.id", "openstack.message.kind",
            "openstack.project_id", "openstack.request_id", "openstack.rpc.timeout_ms", "openstack.rpc.version",
            "openstack.user_id", "rpc.method", "rpc.system.name", "messaging.destination.subscription.name",
            "server.address", "trace_bridge.queue_wait_ns",
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

    /// Span kind → the attribute keys of every mode's spans (`SourceMode.allCases`) that the firehose's spans never
    /// carry: what the agent adds when it infers what it could not see.
    static let expectedModeOnlyKeys: [String: Set<String>] = [
        "CONSUMER": ["trace_bridge.delivery_observed", "trace_bridge.queue_wait_known"],
        "CLIENT": ["trace_bridge.call_end"],
        "SERVER": ["trace_bridge.delivery_observed", "trace_bridge.queue_wait_known"],
    ]

    /// Replays every capture as the firehose (`mode` nil) or as `mode` would have received it.
    static func observed(mode: SourceMode? = nil) throws -> (spans: [String: Set<String>], events: [String: Set<String>]) {
        var spans: [String: Set<String>] = [:]
        var events: [String: Set<String>] = [:]
        for fixture in GroundTruthTests.fixtures {
            var options = GroundTruthTests.options(for: fixture)
            if let mode { options.visibility = ModeFidelityTests.visibility(mode, truth: try Truth(fixture: fixture)) }
            let replay = Replay(
                bytes: try Repository.bytes(Repository.fixture("\(fixture).jsonl")), options: options,
                reducesToVisibility: mode != nil)
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

    @Test("the keys spans carry only in other source modes are exactly the pinned set")
    func modeOnlyKeys() throws {
        let firehose = try Self.observed().spans
        var extra: [String: Set<String>] = [:]
        for mode in SourceMode.allCases {
            for (kind, keys) in try Self.observed(mode: mode).spans {
                let added = keys.subtracting(firehose[kind] ?? [])
                if !added.isEmpty { extra[kind, default: []].formUnion(added) }
            }
        }
        #expect(extra == Self.expectedModeOnlyKeys, "\(extra.mapValues { $0.sorted() })")
    }

    @Test("every key the captures show is an AttributeKey constant")
    func keysAreConstants() throws {
        let constants: Set<String> = [
            AttributeKey.messagingSystem, AttributeKey.messagingDestinationName,
            AttributeKey.messagingDestinationSubscriptionName, AttributeKey.messagingRabbitmqDestinationRoutingKey,
            AttributeKey.messagingMessageID, AttributeKey.messagingMessageConversationID,
            AttributeKey.messagingMessageBodySize, AttributeKey.messagingOperationType,
            AttributeKey.messagingOperationName, AttributeKey.messagingDestinationTemplate,
            AttributeKey.traceBridgeRedelivered, AttributeKey.traceBridgeUnroutable, AttributeKey.rpcSystemName,
            AttributeKey.rpcMethod, AttributeKey.servicePeerName, AttributeKey.peerService, AttributeKey.serverAddress, AttributeKey.openstackMessageKind, AttributeKey.openstackRpcVersion,
            AttributeKey.openstackRpcTimeoutMS, AttributeKey.openstackRequestID, AttributeKey.openstackGlobalRequestID,
            AttributeKey.openstackProjectID, AttributeKey.openstackUserID, AttributeKey.openstackNotificationEventType,
            AttributeKey.openstackNotificationPriority, AttributeKey.openstackNotificationPublisherID,
            AttributeKey.errorType, AttributeKey.exceptionType, AttributeKey.exceptionMessage,
            AttributeKey.traceBridgeDeliveryObserved, AttributeKey.traceBridgeQueueWaitKnown, AttributeKey.traceBridgeQueueWaitNS,
            AttributeKey.traceBridgeUnknownQueue, AttributeKey.traceBridgeCallEnd, AttributeKey.openstackInstanceID,
            AttributeKey.traceBridgeCause,
        ]
        var seen = Set<String>()
        for mode in [nil] + SourceMode.allCases.map(Optional.some) {
            let observed = try Self.observed(mode: mode)
            for keys in observed.spans.values { seen.formUnion(keys) }
            for keys in observed.events.values { seen.formUnion(keys) }
        }
        #expect(seen.subtracting(constants).sorted() == [], "keys written without an AttributeKey constant")
    }
}
