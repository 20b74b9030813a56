import Foundation
import TestSupport

/// The ground truth tools/scenario/driver.py records inside the oslo.messaging processes (every publish with its
/// final body, every delivery with its queue, and what each handler was handling when it sent).
struct ScenarioTruth {
    struct Delivery {
        var service: String
        var host: String
        var queue: String
    }

    struct Operation {
        var kind: String
        var service: String
        var uniqueID: String
        var traceParent: String?
        var causedBy: String?
        var outcome: String
        var requestID: String
        var exchange: String
        var deliveries: [Delivery]
        /// A call's `_reply_q`.
        var replyQueue: String? = nil
    }

    var operations: [Operation] = []
    var publishes = 0
    var deliveries = 0
    /// Requests run under an admin context without a user (a periodic task): their first sender is not on the wire.
    var userlessRequests: Set<String> = []

    init(_ data: Data) throws {
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let counts = json["counts"] as? [String: Any], let operations = json["operations"] as? [[String: Any]]
        else { throw TestSetupError("the scenario truth has no counts or operations") }
        publishes = counts["publishes"] as? Int ?? 0
        deliveries = counts["deliveries"] as? Int ?? 0
        for flow in json["flows"] as? [[String: Any]] ?? [] where flow["name"] as? String == "periodic" {
            if let request = flow["request_id"] as? String { userlessRequests.insert(request) }
        }
        self.operations = operations.map { op in
            Operation(
                kind: op["kind"] as? String ?? "", service: (op["from"] as? [String: Any])?["service"] as? String ?? "",
                uniqueID: op["unique_id"] as? String ?? "", traceParent: op["traceparent"] as? String,
                causedBy: op["caused_by"] as? String, outcome: op["outcome"] as? String ?? "",
                requestID: op["request_id"] as? String ?? "", exchange: op["exchange"] as? String ?? "",
                deliveries: (op["deliveries"] as? [[String: Any]] ?? []).map {
                    Delivery(service: $0["service"] as? String ?? "", host: $0["host"] as? String ?? "",
                             queue: $0["queue"] as? String ?? "")
                }, replyQueue: op["reply_q"] as? String)
        }
    }

    /// Compares live spans with the truth, as the replay ground-truth tests do for the shipped captures (default
    /// synthesis options: a sender that traces itself gets no PRODUCER of ours). A call is CLIENT + SERVER: its
    /// CLIENT is its send span, its SERVER the receive span of its delivery.
    func check(_ spans: [DecodedSpan]) -> (problems: [String], summary: String) {
        var problems: [String] = []
        var producersRight = 0, producers = 0, unknownSenders = 0, consumersRight = 0, consumers = 0, callsRight = 0,
            calls = 0, causesRight = 0, causes = 0
        let byID = Dictionary(spans.map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
        for op in operations {
            let mine = spans.filter { $0.messageID == op.uniqueID }
            let isCall = op.kind == "call"
            let producer = mine.filter { $0.kind == (isCall ? 3 : 4) }
            if op.traceParent != nil, !isCall {
                if !producer.isEmpty { problems.append("\(op.uniqueID): the sender traces itself, yet we emitted a PRODUCER") }
            } else {
                producers += 1
                if producer.count != 1 {
                    problems.append("\(op.uniqueID) \(op.kind): \(producer.count) PRODUCER spans")
                } else if producer[0].service == op.service {
                    producersRight += 1
                } else if producer[0].service == "unknown", userlessRequests.contains(op.requestID), op.causedBy == nil {
                    unknownSenders += 1
                } else {
                    problems.append("\(op.uniqueID) \(op.kind): sender \(producer[0].service), truth \(op.service)")
                }
                if let cause = op.causedBy, op.traceParent == nil, let parent = producer.first?.parentSpanID {
                    causes += 1
                    if let parentSpan = byID[parent], [2, 5].contains(parentSpan.kind), parentSpan.messageID == cause {
                        causesRight += 1
                    } else {
                        problems.append("\(op.uniqueID): PRODUCER is not parented on a receive span of its cause \(cause)")
                    }
                }
            }
            let consumerSpans = mine.filter { $0.kind == (isCall ? 2 : 5) }
            consumers += op.deliveries.count
            if consumerSpans.count != op.deliveries.count {
                problems.append("\(op.uniqueID) \(op.kind): \(consumerSpans.count) CONSUMER spans for \(op.deliveries.count) deliveries")
            }
            for delivery in op.deliveries {
                guard let consumer = consumerSpans.first(where: { $0.queue == delivery.queue }) else {
                    problems.append("\(op.uniqueID): no CONSUMER span for queue \(delivery.queue)")
                    continue
                }
                let hostNamed = delivery.queue.contains(".") && !delivery.queue.hasPrefix("notifications")
                if consumer.service == delivery.service, !hostNamed || consumer.host == delivery.host {
                    consumersRight += 1
                } else {
                    problems.append("\(op.uniqueID): CONSUMER on \(delivery.queue) is \(consumer.service)@\(consumer.host ?? "-"), truth \(delivery.service)@\(delivery.host)")
                }
                if op.traceParent == nil || isCall, let producerID = producer.first?.spanID, consumer.parentSpanID != producerID {
                    problems.append("\(op.uniqueID): CONSUMER on \(delivery.queue) is not a child of the PRODUCER")
                }
            }
            if op.kind == "call" {
                calls += 1
                let client = mine.filter { $0.kind == 3 }, server = mine.filter { $0.kind == 2 }
                let failed = op.outcome != "ok"
                if client.count == 1, server.count == 1, (client[0].statusCode == 2) == failed,
                    (server[0].statusCode == 2) == failed, client[0].service == op.service,
                    server[0].service == op.deliveries.first?.service
                {
                    callsRight += 1
                } else {
                    problems.append("\(op.uniqueID) call: CLIENT \(client.map { "\($0.service) \($0.statusCode)" }), SERVER \(server.map { "\($0.service) \($0.statusCode)" }), truth \(op.service) \(op.outcome)")
                }
            } else if mine.contains(where: { $0.kind == 2 || $0.kind == 3 }) {
                problems.append("\(op.uniqueID): a \(op.kind) has CLIENT/SERVER spans")
            }
        }
        let summary = "\(operations.count) operations; senders \(producersRight)/\(producers) right, \(unknownSenders) unknown (periodic); consumers \(consumersRight)/\(consumers); calls \(callsRight)/\(calls); causes \(causesRight)/\(causes)"
        return (problems, summary)
    }
}
