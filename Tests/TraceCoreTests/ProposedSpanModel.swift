import Foundation

@testable import TraceCore

/// The span model proposed for issue 14 (issue 14; the model is this file: no other write-up survived), applied after the fact to today's spans.
///
/// Test-only and not the implementation: it exists so that `ServiceGraphOracleSelfTests` can show the acceptance
/// suite is satisfiable (every check passes on spans shaped this way) and fails for today's shape, i.e. that the
/// expectations test the model and not the oracle. When SpanSynthesizer emits this model itself, delete this file
/// and the self-tests.
enum ProposedSpanModel {
    static func apply(_ spans: [Span], options: SynthesisOptions) -> [Span] {
        func string(_ span: Span, _ key: String) -> String? {
            if case .string(let value)? = span[attribute: key] { return value }
            return nil
        }
        let callIDs = Set(spans.filter { $0.kind == .client }.compactMap { string($0, "messaging.message.id") })
        var clientByMessage: [String: SpanID] = [:]
        for span in spans where span.kind == .client {
            if let id = string(span, "messaging.message.id") { clientByMessage[id] = span.spanID }
        }
        let map = options.serviceMap
        var result: [Span] = []
        for var span in spans {
            let messageID = string(span, "messaging.message.id") ?? ""
            let isCall = string(span, "openstack.message.kind") == "call"
            // A call is CLIENT + SERVER only; the SERVER is the CLIENT's child.
            if isCall, callIDs.contains(messageID), [.producer, .consumer].contains(span.kind) { continue }
            if span.kind == .server, let client = clientByMessage[messageID] { span.parentSpanID = client }

            let exchange = string(span, "messaging.destination.name") ?? ""
            let routingKey = string(span, "messaging.rabbitmq.destination.routing_key") ?? ""
            let target = map.target(exchange: exchange == "amq.default" ? "" : exchange, routingKey: routingKey)
            let peer = map.service(of: target).flatMap { $0.isUnknown ? nil : $0.service }
            let server = target.server != nil ? ".{server}" : ""
            let routingTemplate = target.isFanoutQueue ? "" : (map.topics[target.topic]?.isNotificationTopic ?? false ? routingKey : "\(target.topic)\(server)")
            let sendTemplate = [exchange, routingTemplate].filter { !$0.isEmpty }.joined(separator: ":")
            let method = string(span, "rpc.method")
            let service = string(span, "rpc.service")

            var attributes: [Attribute] = []
            for attribute in span.attributes {
                switch attribute.key {
                case "rpc.system": attributes.append(Attribute("rpc.system.name", attribute.value))
                case "rpc.service": continue
                case "rpc.method": attributes.append(Attribute("rpc.method", .string("\(service ?? target.topic)/\(method ?? "")")))
                case "messaging.rabbitmq.redelivered": attributes.append(Attribute("trace_bridge.redelivered", attribute.value))
                case "messaging.rabbitmq.unroutable": attributes.append(Attribute("trace_bridge.unroutable", attribute.value))
                case "messaging.operation.type" where span.kind == .consumer,
                    "messaging.operation.name" where span.kind == .consumer:
                    attributes.append(Attribute(attribute.key, .string("process")))
                default: attributes.append(attribute)
                }
            }
            if [.client, .producer].contains(span.kind), let peer {
                attributes.append(Attribute("peer.service", .string(peer)))
                attributes.append(Attribute("service.peer.name", .string(peer)))
            }
            switch span.kind {
            case .producer:
                attributes.append(Attribute("messaging.destination.template", .string(sendTemplate)))
                span.name = "publish \(sendTemplate)"
                // The publish of an ERROR-priority notification succeeded: not an ERROR span.
                if span[attribute: "messaging.rabbitmq.unroutable"] == nil { span.status = .unset }
                if span.status.code == .error { attributes.append(Attribute("error.type", .string("unroutable"))) }
            case .consumer:
                let queue = string(span, "messaging.destination.subscription.name") ?? ""
                let queueTarget = map.target(ofQueue: queue)
                let queueTemplate = queueTarget.isFanoutQueue && queue != "\(queueTarget.topic)_fanout"
                    ? "\(queueTarget.topic)_fanout_{id}" : (queueTarget.server != nil && !(map.topics[queueTarget.topic]?.isNotificationTopic ?? false) ? "\(queueTarget.topic).{server}" : queue)
                let template = [sendTemplate, queueTemplate].filter { !$0.isEmpty }.joined(separator: ":")
                attributes.append(Attribute("messaging.destination.template", .string(template)))
                span.name = "process \(template)"
                span.startTime = span.endTime  // starts at the delivery
            case .client, .server:
                span.name = "\(service ?? target.topic)/\(method ?? "")"
                if span.status.code == .error, !attributes.contains(where: { $0.key == "error.type" }) {
                    let type = span.events.first?.attributes.first { $0.key == "exception.type" }?.value
                    attributes.append(Attribute("error.type", type ?? .string("_OTHER")))
                }
            case .internal:
                break
            }
            span.attributes = attributes
            result.append(span)
        }
        return result
    }
}
