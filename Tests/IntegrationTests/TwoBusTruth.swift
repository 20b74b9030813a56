import Foundation
import TestSupport

/// The ground truth of tools/scenario/cells_flow.py (nova cells v2 on two buses; driver.py's format, where every
/// publish and delivery also says its `bus`, `api` or `cell1`, and `vhost`), and the rules live spans of such a run
/// must meet: those of `ScenarioTruth.check` for every operation, and on top every cross-bus publish (`cross_bus`:
/// sent on one bus by a handler of a message delivered on the other, the super-conductor's `build_and_run_instance`)
/// attributed and parented like a same-bus one, and every request one tree.
struct TwoBusTruth {
    struct Operation {
        var uniqueID: String
        var method: String
        var service: String
        var bus: String
        var crossBus: Bool
        var causedBy: String?
        var requestID: String
    }

    var scenario: ScenarioTruth
    var operations: [Operation] = []
    /// Bus name -> vhost.
    var vhosts: [String: String] = [:]
    /// Publishes and deliveries per bus (what the firehose of each vhost carries).
    var messagesByBus: [String: Int] = [:]

    init(_ data: Data) throws {
        scenario = try ScenarioTruth(data)
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let buses = json["buses"] as? [String: [String: Any]], let operations = json["operations"] as? [[String: Any]]
        else { throw TestSetupError("not a several-bus truth (no buses): run tools/scenario/cells_flow.py") }
        vhosts = buses.compactMapValues { $0["vhost"] as? String }
        for (bus, counts) in (json["counts"] as? [String: Any])?["by_bus"] as? [String: [String: Int]] ?? [:] {
            messagesByBus[bus] = (counts["publishes"] ?? 0) + (counts["deliveries"] ?? 0)
        }
        self.operations = operations.map { op in
            Operation(
                uniqueID: op["unique_id"] as? String ?? "", method: op["method"] as? String ?? op["event_type"] as? String ?? "",
                service: (op["from"] as? [String: Any])?["service"] as? String ?? "", bus: op["bus"] as? String ?? "",
                crossBus: op["cross_bus"] as? Bool ?? false, causedBy: op["caused_by"] as? String,
                requestID: op["request_id"] as? String ?? "")
        }
    }

    var crossBusCount: Int { operations.filter(\.crossBus).count }

    /// Every problem found in `spans` (all the spans of the run, from one agent or several), and a summary line.
    func check(_ spans: [DecodedSpan]) -> (problems: [String], summary: String) {
        var (problems, summary) = scenario.check(spans)
        let byID = Dictionary(spans.map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
        var sendersRight = 0, parentsRight = 0
        for op in operations where op.crossBus {
            let producers = spans.filter { $0.kind == 4 && $0.messageID == op.uniqueID }
            guard producers.count == 1, let producer = producers.first else {
                problems.append("cross-bus \(op.method) \(op.uniqueID): \(producers.count) PRODUCER spans")
                continue
            }
            if producer.service == op.service {
                sendersRight += 1
            } else {
                problems.append("cross-bus \(op.method) \(op.uniqueID): sender \(producer.service), truth \(op.service)")
            }
            let parent = producer.parentSpanID.flatMap { byID[$0] }
            if let parent, [2, 5].contains(parent.kind), parent.messageID == op.causedBy, parent.traceID == producer.traceID {
                parentsRight += 1
            } else {
                problems.append("cross-bus \(op.method) \(op.uniqueID): parent \(parent.map { "\($0.kind) \($0.name)" } ?? "none"), not a receive span of its cause \(op.causedBy ?? "-")")
            }
        }
        // One tree per request: spans joined by parent links (a call's SERVER hangs on its CLIENT). Spans belong to
        // the request of the operation their message ID names.
        let requestOf = Dictionary(operations.map { ($0.uniqueID, $0.requestID) }, uniquingKeysWith: { first, _ in first })
        var group = Dictionary(spans.map { ($0.spanID, $0.spanID) }, uniquingKeysWith: { first, _ in first })
        func find(_ id: String) -> String {
            var id = id
            while let next = group[id], next != id { id = next }
            return id
        }
        for span in spans {
            if let link = span.parentSpanID, group[link] != nil { group[find(span.spanID)] = find(link) }
        }
        var trees: [String: Set<String>] = [:]
        for span in spans {
            if let id = span.messageID, let request = requestOf[id] { trees[request, default: []].insert(find(span.spanID)) }
        }
        let split = trees.filter { $0.value.count != 1 }
        for (request, roots) in split.sorted(by: { $0.key < $1.key }) {
            problems.append("request \(request): \(roots.count) trees")
        }
        summary += "; cross-bus senders \(sendersRight)/\(crossBusCount), parents \(parentsRight)/\(crossBusCount); requests split \(split.count)/\(trees.count)"
        return (problems, summary)
    }
}
