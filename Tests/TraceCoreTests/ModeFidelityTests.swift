import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// What each source mode keeps of the truth: every shipped capture is reduced to what the mode would have received
/// (the same reduction as `replay --mode`) and scored against the ground truth. A mode may lose spans; it may never
/// produce a wrong one: no wrong sender, trace, status or receiver, and no span of a kind it cannot see.
@Suite("Fidelity per source mode")
struct ModeFidelityTests {
    /// Counts of what a mode kept, over all operations of one capture.
    struct Score: CustomStringConvertible {
        var publishes = 0, producers = 0, sendersRight = 0, sendersUnknown = 0
        var deliveries = 0, consumersRight = 0, queueWaitKnown = 0
        /// Deliveries from a stream queue (`rabbit_stream_fanout`): without their deliver events a mode cannot know
        /// which listeners read them, so only modes that bind them keep their spans.
        var streamDeliveries = 0
        var calls = 0, clientsRight = 0, servers = 0
        var causes = 0, causesRight = 0
        /// Publishes whose inherited trace the mode cannot know (no deliveries, so no cause): they land in their
        /// request-ID trace, as documented, instead of the inherited one.
        var requestTraceFallbacks = 0
        var wrong: [String] = []

        static func + (a: Score, b: Score) -> Score {
            Score(
                publishes: a.publishes + b.publishes, producers: a.producers + b.producers,
                sendersRight: a.sendersRight + b.sendersRight, sendersUnknown: a.sendersUnknown + b.sendersUnknown,
                deliveries: a.deliveries + b.deliveries, consumersRight: a.consumersRight + b.consumersRight,
                queueWaitKnown: a.queueWaitKnown + b.queueWaitKnown, streamDeliveries: a.streamDeliveries + b.streamDeliveries,
                calls: a.calls + b.calls,
                clientsRight: a.clientsRight + b.clientsRight, servers: a.servers + b.servers,
                causes: a.causes + b.causes, causesRight: a.causesRight + b.causesRight,
                requestTraceFallbacks: a.requestTraceFallbacks + b.requestTraceFallbacks, wrong: a.wrong + b.wrong)
        }

        var description: String {
            "senders \(sendersRight)/\(publishes) (+\(sendersUnknown) unknown); consumers \(consumersRight)/\(deliveries) "
                + "(queue wait on \(queueWaitKnown); \(streamDeliveries) from streams); calls \(clientsRight)/\(calls) with \(servers) SERVER; "
                + "causes \(causesRight)/\(causes); request-ID trace instead of inherited \(requestTraceFallbacks); "
                + "wrong \(wrong.count)"
        }
    }

    static let modes: [SourceMode] = SourceMode.allCases

    /// Captures and modes whose wrong spans are known and not fixed yet (counted as known issues, so a fix shows).
    /// p_neutron: the OVS agent's long-lived request ID starts a new trace per uncaused root (issue 15), which needs
    /// to see the request's earlier publishes; selective and tap bind only the control exchange, not neutron's
    /// `q-agent-notifier-*` fanouts, so 2 (tap) to 5 (selective) spans land in the request-ID trace or name the
    /// wrong agent. The default mode (publish-only) and the firehose have none.
    static let reducedModePending: [String: Set<SourceMode>] = ["p_neutron": [.selective, .tap]]

    /// The capture's control exchanges (`nova`; `neutron` for neutron's traffic, as an operator passes
    /// `--control-exchange`), and for a tap also every fanout exchange the capture used: the most a tap can see.
    static func visibility(_ mode: SourceMode, truth: Truth) -> SourceVisibility {
        let exchanges = Set(truth.operations.compactMap { $0["exchange"]?.stringValue })
        let fanouts = exchanges.filter { $0.hasSuffix("_fanout") }
        let controls = exchanges.filter { !$0.isEmpty && !$0.hasSuffix("_fanout") }.sorted()
        let control = controls.isEmpty ? ["nova"] : controls
        return mode.visibility(controlExchanges: control, tapExchanges: control + fanouts.sorted())
    }

    static func score(fixture: String, mode: SourceMode) throws -> Score {
        let truth = try Truth(fixture: fixture)
        var options = GroundTruthTests.options(for: fixture)
        options.visibility = visibility(mode, truth: truth)
        let replay = Replay(
            bytes: try Repository.bytes(Repository.fixture("\(fixture).jsonl")), options: options,
            reducesToVisibility: true)
        var score = Score()
        var matchedConsumers = Set<SpanID>()
        for op in truth.operations {
            let uid = op["unique_id"]?.stringValue ?? ""
            let where_ = "\(fixture)/\(mode.rawValue) op \(uid)"
            let expectedTrace = GroundTruthTests.expectedTrace(op, truth: truth)
            let senderTraced = op["traceparent"]?.stringValue.flatMap { TraceParent($0) } != nil
            // A call is CLIENT + SERVER (ours even when the sender traces itself), any other message PRODUCER +
            // CONSUMER: the send span and the receive spans.
            let isCall = op["kind"]?.stringValue == "call"
            score.publishes += senderTraced && !isCall ? 0 : 1
            for producer in replay.spans(kind: isCall ? .client : .producer, messageID: uid) {
                score.producers += 1
                if producer.traceID != expectedTrace {
                    let requestTrace = (op["global_request_id"]?.stringValue ?? op["request_id"]?.stringValue)
                        .flatMap { TraceID(uuid: $0) }
                    if producer.traceID == requestTrace, op["caused_by_unique_id"]?.stringValue != nil {
                        score.requestTraceFallbacks += 1
                    } else {
                        score.wrong.append("\(where_): PRODUCER trace")
                    }
                }
                if producer.resource.service == op["from"]?["service"]?.stringValue {
                    score.sendersRight += 1
                } else if producer.resource.isUnknown {
                    score.sendersUnknown += 1
                } else {
                    score.wrong.append("\(where_): sender \(producer.resource)")
                }
                // A traced sender's CLIENT is its span's child (GroundTruthTests checks that): no cause to infer.
                if let cause = op["caused_by_unique_id"]?.stringValue, op["trace_info"] == .null, !senderTraced {
                    score.causes += 1
                    if let parent = producer.parentSpanID.flatMap({ replay.span($0) }),
                        parent[attribute: "messaging.message.id"] == .string(cause)
                    {
                        score.causesRight += 1
                    } else if producer.parentSpanID != nil {
                        score.wrong.append("\(where_): parent is not a receive span of the cause")
                    }
                }
            }
            // A redelivery to the same queue and listener (a requeue: `redelivered`, `x-delivery-count`) is the same
            // CONSUMER span by the span ID contract: one per queue and receiving process.
            var seen = Set<String>()
            let deliveries = (op["deliveries"]?.arrayValue ?? []).filter { delivery in
                let key = ["queue", "service", "host"].map { delivery[$0]?.stringValue ?? "-" }.joined(separator: "|")
                return seen.insert(key).inserted
            }
            score.deliveries += deliveries.count
            score.streamDeliveries += deliveries.filter { delivery in
                delivery["queue"]?.stringValue.map { ServiceMap.openStackDefaults.target(ofQueue: $0).isStreamQueue } ?? false
            }.count
            var consumers = replay.spans(kind: isCall ? .server : .consumer, messageID: uid)
            for delivery in deliveries {
                let service = delivery["service"]?.stringValue
                if let index = consumers.firstIndex(where: {
                    $0.resource.service == service
                        && ($0.resource.host == nil || $0.resource.host == delivery["host"]?.stringValue)
                }) {
                    let consumer = consumers.remove(at: index)
                    matchedConsumers.insert(consumer.spanID)
                    score.consumersRight += 1
                    if consumer.traceID != expectedTrace { score.wrong.append("\(where_): CONSUMER trace") }
                    if consumer[attribute: "trace_bridge.queue_wait_known"] == nil { score.queueWaitKnown += 1 }
                }
            }
            for extra in consumers { score.wrong.append("\(where_): CONSUMER nobody received (\(extra.resource))") }
            // A round trip is kept when the CLIENT saw its end; a SERVER counts when it saw the delivery and the reply.
            let clients = replay.spans(kind: .client, messageID: uid)
                .filter { $0[attribute: AttributeKey.traceBridgeCallEnd] != .string("unobserved") }
            let servers = replay.spans(kind: .server, messageID: uid).filter {
                $0[attribute: AttributeKey.traceBridgeCallEnd] == nil && $0[attribute: AttributeKey.traceBridgeDeliveryObserved] == nil
            }
            if isCall {
                score.calls += 1
                if let client = clients.first {
                    let failed = op["failed"] == .bool(true)
                        && (op["failure_visible_on_wire"] == .bool(true) || op["outcome"]?.stringValue == "timeout")
                    if (client.status.code == .error) != failed {
                        score.wrong.append("\(where_): CLIENT status \(client.status)")
                    } else if client.resource.service == op["from"]?["service"]?.stringValue || client.resource.isUnknown {
                        score.clientsRight += 1
                    } else {
                        score.wrong.append("\(where_): CLIENT service \(client.resource)")
                    }
                }
                score.servers += servers.count
            } else if !clients.isEmpty || !servers.isEmpty {
                score.wrong.append("\(where_): round trip for a \(op["kind"]?.stringValue ?? "-")")
            }
        }
        return score
    }

    @Test("no mode produces a wrong span; each keeps what its bindings can see", arguments: modes)
    func modeKeepsWhatItCanSee(mode: SourceMode) throws {
        var total = Score()
        var pending: [String] = []
        for fixture in GroundTruthTests.fixtures {
            var score = try Self.score(fixture: fixture, mode: mode)
            report("mode \(mode.rawValue) \(fixture): \(score)")
            if Self.reducedModePending[fixture]?.contains(mode) == true {
                pending += score.wrong
                score.wrong = []
            }
            total = total + score
        }
        if !pending.isEmpty {
            withKnownIssue("ModeFidelityTests.reducedModePending: \(pending.count) spans", isIntermittent: true) {
                Issue.record("\(pending.prefix(10))")
            }
        }
        report("mode \(mode.rawValue) total: \(total)")
        #expect(total.wrong.isEmpty, "\(total.wrong.prefix(10))")
        switch mode {
        case .firehose:
            // The full firehose keeps everything the ground-truth suite checks.
            #expect(total.consumersRight == total.deliveries && total.queueWaitKnown == total.deliveries)
            #expect(total.clientsRight == total.calls && total.servers > 0)
        case .publishOnly:
            // Every delivery is inferred from routing, none with queue wait, except a stream's (routing does not say
            // which listeners read it); round trips kept, no SERVER span with a delivery seen.
            #expect(total.consumersRight == total.deliveries - total.streamDeliveries && total.queueWaitKnown == 0)
            #expect(total.clientsRight == total.calls && total.servers == 0)
        case .selective:
            // Fanout publishes and their deliveries are not bound; compute deliveries keep their queue wait.
            #expect(total.consumersRight < total.deliveries && total.queueWaitKnown > 0)
            #expect(total.clientsRight == total.calls)
        case .tap:
            // Publishes only: no consumer, no round trip (a call's CLIENT ends at its publish), later publishes of a
            // request unknown rather than guessed.
            #expect(total.consumersRight == 0 && total.clientsRight == 0 && total.servers == 0)
            #expect(total.sendersUnknown > 0 && total.sendersRight > 0)
        }
    }

    @Test("publish-only control plane leaving compute.* to hypervisor agents + those agents = every receive span once",
          arguments: GroundTruthTests.fixtures)
    func controlPlaneAndHypervisorsSplitTheConsumers(fixture: String) throws {
        let bytes = try Repository.bytes(Repository.fixture("\(fixture).jsonl"))
        let base = GroundTruthTests.options(for: fixture)
        var control = base
        control.visibility = SourceMode.publishOnly.visibility(controlExchanges: ["nova"], tapExchanges: [])
        control.foreignQueues = ["compute.*"]
        var hypervisor = base
        hypervisor.visibility = SourceVisibility(firehosePatterns: ["deliver.compute.*"])
        var alone = control
        alone.foreignQueues = []
        let full = Replay(bytes: bytes, options: base)
        let controlPlane = Replay(bytes: bytes, options: control, reducesToVisibility: true)
        let hypervisors = Replay(bytes: bytes, options: hypervisor, reducesToVisibility: true)
        let publishOnly = Replay(bytes: bytes, options: alone, reducesToVisibility: true)

        // Receive spans: a call's delivery is its SERVER, any other's a CONSUMER.
        let receives: Set<Span.Kind> = [.consumer, .server]
        let fromControl = controlPlane.spans.filter { receives.contains($0.kind) }
        let fromHypervisors = hypervisors.spans.filter { receives.contains($0.kind) }
        #expect(!fromControl.contains { span in
            if case .string(let queue)? = span[attribute: "messaging.destination.subscription.name"] { return queue.hasPrefix("compute.") }
            return false
        }, "the control plane leaves compute deliveries to the hypervisor agents")
        #expect(Set(fromControl.map(\.spanID)).isDisjoint(with: fromHypervisors.map(\.spanID)), "no span emitted twice")
        let union = Dictionary((fromControl + fromHypervisors).map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
        // A stream's deliveries are neither compute.* nor inferable from routing: they need their own deliver binding.
        let expected = full.spans.filter { span in
            guard receives.contains(span.kind) else { return false }
            if case .string(let queue)? = span[attribute: "messaging.destination.subscription.name"] {
                return !ServiceMap.openStackDefaults.target(ofQueue: queue).isStreamQueue
            }
            return true
        }
        #expect(Set(union.keys) == Set(expected.map(\.spanID)), "\(fixture): together they emit every CONSUMER and SERVER span")
        for span in expected {
            #expect(union[span.spanID]?.parentSpanID == span.parentSpanID && union[span.spanID]?.traceID == span.traceID,
                    "\(fixture): \(span.name) links up the same")
        }
        // Leaving the spans to the hypervisors keeps the control plane's attribution and links unchanged.
        let producers = { (replay: Replay) in replay.spans.filter { [.producer, .client].contains($0.kind) }.map { "\($0.spanID.hex) \($0.resource) \($0.parentSpanID?.hex ?? "-")" }.sorted() }
        #expect(producers(controlPlane) == producers(publishOnly))
    }

    @Test("topic patterns match like the broker's topic exchange")
    func topicMatching() {
        let cases: [(String, String, Bool)] = [
            ("publish.#", "publish.nova", true), ("publish.#", "publish.", true), ("publish.#", "deliver.x", false),
            ("publish.", "publish.", true), ("publish.", "publish.nova", false), ("deliver.compute.*", "deliver.compute.c-1", true),
            ("deliver.compute.*", "deliver.compute", false), ("deliver.compute.*", "deliver.compute.a.b", false),
            ("#", "anything.at.all", true), ("#", "", true), ("a.#.b", "a.b", true), ("a.#.b", "a.x.y.b", true),
            ("a.#.b", "a.x.y.c", false), ("*", "", true), ("*", "a.b", false),
        ]
        for (pattern, key, expected) in cases {
            #expect(SourceVisibility.topicMatches(pattern, key) == expected, "\(pattern) ~ \(key)")
        }
    }

    @Test("the byte-level matcher agrees with a word-table reference on random patterns and keys")
    func topicMatchingAgreesWithReference() {
        var generator = SystemRandomNumberGenerator()
        let patternWords = ["#", "*", "a", "b", "", "ab"]
        let keyWords = ["a", "b", "", "ab", "#", "*"]
        func random(_ words: [String]) -> String {
            (0..<Int.random(in: 1...5, using: &generator)).map { _ in words.randomElement(using: &generator)! }
                .joined(separator: ".")
        }
        for _ in 0..<20_000 {
            let pattern = random(patternWords), key = random(keyWords)
            #expect(SourceVisibility.topicMatches(pattern, key) == Self.referenceMatch(pattern, key), "\(pattern) ~ \(key)")
        }
    }

    /// Dynamic programming over whole words: obviously right, slow (the matcher's previous implementation).
    static func referenceMatch(_ pattern: String, _ key: String) -> Bool {
        let patternWords = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let keyWords = key.split(separator: ".", omittingEmptySubsequences: false)
        var next = [Bool](repeating: false, count: keyWords.count + 1)
        next[keyWords.count] = true
        for i in stride(from: patternWords.count - 1, through: 0, by: -1) {
            var current = [Bool](repeating: false, count: keyWords.count + 1)
            for j in stride(from: keyWords.count, through: 0, by: -1) {
                if patternWords[i] == "#" {
                    current[j] = next[j] || (j < keyWords.count && current[j + 1])
                } else if j < keyWords.count, patternWords[i] == "*" || patternWords[i] == keyWords[j] {
                    current[j] = next[j + 1]
                }
            }
            next = current
        }
        return next[0]
    }
}
