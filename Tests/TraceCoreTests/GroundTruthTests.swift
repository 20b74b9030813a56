import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Compares the spans synthesized from each shipped capture with the capture's ground truth, for every operation.
///
/// The truth was recorded inside the services (wrapping oslo.messaging's send and dispatch), independently of the
/// capture. Expected trace IDs are derived here from the truth's own fields, not from our synthesizer.
@Suite("Ground truth of the shipped captures")
struct GroundTruthTests {
    static let fixtures = ["a_boot", "b_failure", "c_fanout", "d_notify", "e_otel", "f_osprofiler", "g_timeout"]
        + queueLayoutFixtures + novaFixtures + neutronFixtures

    /// Captures of tools/scenario/capture_layouts.sh (driver.py), one per oslo.messaging queue layout: quorum queues
    /// with the queue manager (and a requeue), stream fanout, gzip and bzip2 bodies. Their notifications go to a
    /// ceilometer listener.
    static let queueLayoutFixtures = ["h_quorum_qm", "i_stream_fanout", "j_gzip", "k_bz2"]

    /// Captures of nova 34.0.0's own RPC API, objects and notifiers (tools/scenario/nova_flows.py, issue 15): two
    /// multi-creates (4 + 3 instances built at the same time) on one compute host and on two, and a live migration
    /// and a resize between two hosts, whose later steps go to nova-compute's second topic `compute-alt`. Default
    /// configuration: no notification listener (nova's notifications wait in their queues).
    static let novaFixtures = ["m_multicreate_one_host", "n_multicreate_two_hosts", "o_migration_resize"]

    /// Neutron 29.0.0 / neutron-lib 5.0.1's own RPC clients and notifiers (tools/scenario/neutron_driver.py):
    /// neutron-server (RPC worker and API worker), two neutron-openvswitch-agents, a neutron-dhcp-agent and a
    /// ceilometer listener. The agents publish under one request ID for their whole life.
    static let neutronFixtures = ["p_neutron"]

    /// d_notify's notification listener is an operator's own consumer: say so, as an operator would (and the
    /// queue-layout and two-bus captures' ceilometer listener, as the live tests do).
    static func options(for fixture: String, senderTraced: SynthesisOptions.SenderTracedPolicy = .complement)
        -> SynthesisOptions
    {
        var options = SynthesisOptions(senderTraced: senderTraced)
        if fixture == "d_notify" {
            for topic in ["notifications", "versioned_notifications"] {
                options.serviceMap.topics[topic] = ServiceMap.Entry(service: "nova-notify-listener", isNotificationTopic: true)
            }
        }
        if queueLayoutFixtures.contains(fixture) || fixture == "q_cells" || neutronFixtures.contains(fixture) {
            options.serviceMap.topics["notifications"] = ServiceMap.Entry(
                service: "ceilometer-agent-notification", isNotificationTopic: true)
        }
        return options
    }

    /// The trace an operation must land in: its traceparent, else its trace_info, else its cause's trace, else
    /// its own (a later root of a user-less request, below), else its global request ID, else its request ID.
    static func expectedTrace(_ op: JSONValue, truth: Truth) -> TraceID? {
        if let traceparent = op["traceparent"]?.stringValue { return TraceParent(traceparent)?.traceID }
        if let base = op["trace_info"]?["base_id"]?.stringValue { return TraceID(uuid: base) }
        if let cause = op["caused_by_unique_id"]?.stringValue, let causeOp = truth.operation(uniqueID: cause) {
            return expectedTrace(causeOp, truth: truth)
        }
        if startsOwnTrace(op, truth: truth), let uid = op["unique_id"]?.stringValue {
            return SpanIDScheme.traceID(identity: uid)
        }
        if let global = op["global_request_id"]?.stringValue { return TraceID(uuid: global) }
        return op["request_id"]?.stringValue.flatMap { TraceID(uuid: $0) }
    }

    /// The sender is `unknown` only where the wire cannot tell: the first publish of a request with no user
    /// (a periodic task), and the first publish of each trace a user-less request starts (an agent's own loop:
    /// report_state, tunnel_sync, device calls; the agents never reply or notify, so their connections stay
    /// unknown).
    static func senderMayBeUnknown(_ op: JSONValue, truth: Truth) -> Bool {
        guard op["user_id"] == .null, op["caused_by_unique_id"] == .null else { return false }
        return !hasEarlierOperation(op, truth: truth) || startsOwnTrace(op, truth: truth)
    }

    static func hasEarlierOperation(_ op: JSONValue, truth: Truth) -> Bool {
        let request = op["request_id"]?.stringValue
        let seq = op["seq"]?.int64Value ?? 0
        return truth.operations.contains { $0["request_id"]?.stringValue == request && ($0["seq"]?.int64Value ?? 0) < seq }
    }

    /// docs/synthesis.md "Long-lived request IDs": an uncaused publish under a context without a user and without
    /// its sender's trace context, whose request ID already produced other operations, starts a trace of its own.
    static func startsOwnTrace(_ op: JSONValue, truth: Truth) -> Bool {
        op["user_id"] == .null && op["caused_by_unique_id"] == .null && op["traceparent"] == .null
            && op["trace_info"] == .null && op["request_id"]?.stringValue != nil && hasEarlierOperation(op, truth: truth)
    }

    @Test("every operation's spans match the truth", arguments: fixtures)
    func everyOperation(fixture: String) throws {
        try check(fixture: fixture, senderTraced: .complement)
    }

    @Test("with --sender-traced full, producers of traced senders are children of the sender's span")
    func fullPolicyOnTracedCapture() throws {
        try check(fixture: "e_otel", senderTraced: .full)
    }

    /// What `check` counted, and every mismatch it found (each one is also an issue when the check is strict).
    struct Outcome {
        var figures = Figures()
        var failures: [String] = []
        /// Mismatches of the kinds the issue names: missing or extra SERVER spans, and wrong services.
        var serversLost = 0
        var wrongServices = 0
    }

    struct Figures {
        var ops = 0, producers = 0, sendersRight = 0, sendersUnknown = 0, deliveries = 0, consumersRight = 0,
            calls = 0, clientsRight = 0, servers = 0, causes = 0, causesRight = 0
    }

    func check(fixture: String, senderTraced: SynthesisOptions.SenderTracedPolicy) throws {
        _ = try Self.check(fixture: fixture, senderTraced: senderTraced)
    }

    /// Scores the spans of `records` (default: the capture as shipped) against the capture's truth. `strict`
    /// records every mismatch as a test issue; otherwise they are only counted (to measure a baseline).
    static func check(
        fixture: String, senderTraced: SynthesisOptions.SenderTracedPolicy = .complement,
        records: [BusMessage]? = nil, reorderWindow: Int64 = SynthesisOptions.defaultReorderWindow, strict: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Outcome {
        var outcome = Outcome()
        func expect(_ condition: Bool, _ message: @autoclosure () -> String, _ kind: WritableKeyPath<Outcome, Int>? = nil) {
            guard !condition else { return }
            let text = message()
            outcome.failures.append(text)
            if let kind { outcome[keyPath: kind] += 1 }
            if strict { Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation) }
        }
        let truth = try Truth(fixture: fixture)
        var options = Self.options(for: fixture, senderTraced: senderTraced)
        options.reorderWindow = reorderWindow
        let replay = try records.map { Replay(records: $0, options: options) }
            ?? Replay(fixture: fixture, options: options)
        expect(replay.pipeline.stats.skippedTotal == 0, "\(fixture): \(replay.pipeline.stats.skipped)")

        var figures = Figures()
        for op in truth.operations {
            figures.ops += 1
            guard let uid = op["unique_id"]?.stringValue else { expect(false, "\(fixture): an operation without unique_id"); continue }
            let kind = op["kind"]?.stringValue ?? ""
            let sender = op["from"]?["service"]?.stringValue
            let traceparent = op["traceparent"]?.stringValue.flatMap { TraceParent($0) }
            guard let expectedTrace = Self.expectedTrace(op, truth: truth) else { expect(false, "\(fixture) op \(uid): no trace"); continue }
            // A call is CLIENT + SERVER (its publish is the CLIENT, each delivery a SERVER); any other message is
            // PRODUCER + CONSUMER.
            let isCall = kind == "call"
            let producers = replay.spans(kind: isCall ? .client : .producer, messageID: uid)
            let senderTracedItself = traceparent != nil && senderTraced == .complement && !isCall
            var client: Span?

            // PRODUCER (CLIENT): one per publish, with the sender's service and the expected trace.
            var consumerParent: SpanID
            if senderTracedItself {
                expect(producers.isEmpty, "\(fixture) op \(uid): the sender traces itself; no PRODUCER of ours")
                consumerParent = traceparent!.parentID
            } else {
                guard let producer = producers.count == 1 ? producers.first : nil else {
                    expect(false, "\(fixture) op \(uid): \(producers.count) producers")
                    continue
                }
                figures.producers += 1
                if isCall { client = producer }
                expect(producer.traceID == expectedTrace, "\(fixture) op \(uid) \(kind): trace")
                if producer.resource.service == sender {
                    figures.sendersRight += 1
                } else if producer.resource.isUnknown, Self.senderMayBeUnknown(op, truth: truth) {
                    figures.sendersUnknown += 1
                } else {
                    expect(false, "\(fixture) op \(uid) \(kind) \(op["method"] ?? .null): sender \(producer.resource), truth \(sender ?? "-")", \.wrongServices)
                }
                if let traceparent {
                    expect(producer.parentSpanID == traceparent.parentID, "\(fixture) op \(uid): child of the sender's span")
                }
                if let info = op["osprofiler_otel_ids"], let parent = info["otel_parent_span_id"]?.stringValue {
                    expect(producer.parentSpanID?.hex == parent, "\(fixture) op \(uid): osprofiler parent")
                }
                consumerParent = producer.spanID
                if op["failed"] == .bool(true), op["outcome"]?.stringValue == "unroutable" {
                    expect(producer.status.code == .error, "\(fixture) op \(uid): unroutable publish is an error")
                }
                if kind == "notify" {
                    // An ERROR-priority notification was published fine: the priority is an attribute, and the span
                    // is not ERROR (a service graph would count the delivered message as a failed request).
                    expect(producer.status.code == .unset, "\(fixture) op \(uid): notification status")
                    expect(producer[attribute: AttributeKey.openstackNotificationPriority] == op["priority"]?.stringValue.map { .string($0) },
                           "\(fixture) op \(uid): notification priority")
                }
                // Caused publishes are parented on a receive span (CONSUMER or SERVER) of their cause.
                if let cause = op["caused_by_unique_id"]?.stringValue {
                    figures.causes += 1
                    let parent = producer.parentSpanID.flatMap { replay.span($0) }
                    if let parent, [.consumer, .server].contains(parent.kind),
                        parent[attribute: "messaging.message.id"] == .string(cause)
                    {
                        figures.causesRight += 1
                    } else if traceparent == nil, op["trace_info"] == .null {
                        expect(false, "\(fixture) op \(uid): parent \(parent.map { "\($0.kind.name) \($0.name)" } ?? "none") is not a receive span of cause \(cause)")
                    } else {
                        figures.causesRight += 1  // parented on the sender's own span, checked above
                    }
                } else if traceparent == nil, op["trace_info"] == .null {
                    // No cause on the wire (a root, or a message sent under another context than the one being
                    // handled, as l2population's): no parent is invented.
                    expect(producer.parentSpanID == nil, "\(fixture) op \(uid) \(kind) \(op["method"] ?? .null): uncaused, but parented on \(producer.parentSpanID.flatMap { replay.span($0) }.map { "\($0.kind.name) \($0.name)" } ?? "an unknown span")")
                }
            }

            // CONSUMER (SERVER): one per delivery, parented on the PRODUCER (CLIENT), attributed to the receiving
            // service. A redelivery
            // to the same queue and listener (a requeue: `redelivered`, `x-delivery-count`) is the same CONSUMER span
            // by the span ID contract (one per queue and receiving process): h_quorum_qm has one.
            var seenDeliveries = Set<String>()
            let deliveries = (op["deliveries"]?.arrayValue ?? []).filter { delivery in
                let key = ["queue", "service", "host"].map { delivery[$0]?.stringValue ?? "-" }.joined(separator: "|")
                return seenDeliveries.insert(key).inserted
            }
            let consumers = replay.spans(kind: isCall ? .server : .consumer, messageID: uid)
            figures.deliveries += deliveries.count
            expect(consumers.count == deliveries.count, "\(fixture) op \(uid): \(consumers.count) consumers for \(deliveries.count) deliveries")
            let routingKey = op["routing_key"]?.stringValue ?? ""
            let serverQueue = kind != "notify" && routingKey.contains(".")
            var unmatched = consumers
            for delivery in deliveries {
                let service = delivery["service"]?.stringValue
                let host = delivery["host"]?.stringValue
                // The delivery's own queue first: two listeners of one fanout differ by queue, and a listener whose
                // host is not known yet must not take the other's place.
                let fits = { (span: Span) in span.resource.service == service && (span.resource.host == nil || span.resource.host == host) }
                let sameQueue = unmatched.firstIndex { fits($0) && $0[attribute: "messaging.destination.subscription.name"] == delivery["queue"].map { .string($0.stringValue ?? "") } }
                if let index = sameQueue ?? unmatched.firstIndex(where: fits) {
                    let consumer = unmatched.remove(at: index)
                    expect(consumer.parentSpanID == consumerParent, "\(fixture) op \(uid): consumer parent")
                    expect(consumer.traceID == expectedTrace, "\(fixture) op \(uid): consumer trace")
                    if serverQueue { expect(consumer.resource.host == host, "\(fixture) op \(uid): host of \(routingKey)") }
                    figures.consumersRight += 1
                } else {
                    expect(false, "\(fixture) op \(uid): no consumer span for \(service ?? "-")@\(host ?? "-"); have \(unmatched.map(\.resource))", \.wrongServices)
                }
            }

            // CLIENT per call; ERROR exactly when the call failed on the wire or timed out. SERVER per delivery,
            // ending at the answer (else where it starts, saying so).
            if isCall, let client {
                figures.calls += 1
                let outcome = op["outcome"]?.stringValue
                let failedOnWire = op["failed"] == .bool(true)
                    && (op["failure_visible_on_wire"] == .bool(true) || outcome == "timeout")
                expect((client.status.code == .error) == failedOnWire, "\(fixture) op \(uid): CLIENT status \(client.status)")
                expect(client.traceID == expectedTrace, "\(fixture) op \(uid): CLIENT trace")
                if outcome == "timeout" { expect(client.status.message == "timeout", "\(fixture) op \(uid): timeout status") }
                if let failureClass = op["replies"]?.arrayValue.last?["failure_class"]?.stringValue {
                    let types = client.events.compactMap { event in event.attributes.first { $0.key == "exception.type" }?.value }
                    expect(types == [.string(failureClass)], "\(fixture) op \(uid): exception event")
                }
                if client.resource.service == sender || (client.resource.isUnknown && Self.senderMayBeUnknown(op, truth: truth)) {
                    figures.clientsRight += 1
                } else {
                    expect(false, "\(fixture) op \(uid): CLIENT service \(client.resource), truth \(sender ?? "-")", \.wrongServices)
                }
                let answered = (op["replies"]?.arrayValue ?? []).contains { $0["ending"] == .bool(true) } && !deliveries.isEmpty
                let servers = consumers.filter { $0[attribute: AttributeKey.traceBridgeCallEnd] == nil }
                expect(servers.count == (answered ? 1 : 0), "\(fixture) op \(uid): \(servers.count) answered SERVER spans", \.serversLost)
                if let server = servers.first {
                    figures.servers += 1
                    expect(server.resource.service == deliveries.first?["service"]?.stringValue, "\(fixture) op \(uid): SERVER service \(server.resource)", \.wrongServices)
                    expect((server.status.code == .error) == (op["failure_visible_on_wire"] == .bool(true)), "\(fixture) op \(uid): SERVER status")
                    expect(server.startTime <= server.endTime && client.startTime <= server.startTime, "\(fixture) op \(uid): SERVER times")
                }
            } else if !isCall {
                let roundTrips = replay.spans(kind: .client, messageID: uid) + replay.spans(kind: .server, messageID: uid)
                expect(roundTrips.isEmpty, "\(fixture) op \(uid): no round trip for a \(kind)")
            }
        }

        // One trace per request tree, and nothing else in it: a request's spans are in the traces its operations
        // must land in (one, except the later roots of a user-less request).
        var traceByRequest: [String: Set<TraceID>] = [:]
        var expectedByRequest: [String: Set<TraceID>] = [:]
        for span in replay.spans {
            if case .string(let request)? = span[attribute: "openstack.request_id"] {
                traceByRequest[request, default: []].insert(span.traceID)
            }
        }
        for op in truth.operations {
            if let request = op["request_id"]?.stringValue, let trace = Self.expectedTrace(op, truth: truth) {
                expectedByRequest[request, default: []].insert(trace)
            }
        }
        for (request, traces) in traceByRequest {
            let expected = expectedByRequest[request] ?? []
            expect(traces == expected, "\(fixture): request \(request) in \(traces.count) traces, expected \(expected.count)")
        }
        // Every span ID is unique, and no span is its own parent.
        expect(Set(replay.spans.map(\.spanID)).count == replay.spans.count, "\(fixture): duplicate span IDs")
        expect(!replay.spans.contains { $0.parentSpanID == $0.spanID }, "\(fixture): a span is its own parent")

        outcome.figures = figures
        if strict { report("\(fixture) [\(senderTraced.rawValue)]: \(figures.ops) operations; senders \(figures.sendersRight)/\(figures.producers) right, \(figures.sendersUnknown) unknown (periodic, not on the wire); consumers \(figures.consumersRight)/\(figures.deliveries); calls \(figures.clientsRight)/\(figures.calls) with \(figures.servers) server spans; causes \(figures.causesRight)/\(figures.causes)") }
        return outcome
    }


    @Test("every parent resolves: to our spans, or to spans the services exported themselves", arguments: fixtures)
    func parentsResolve(fixture: String) throws {
        let replay = try Replay(fixture: fixture, options: Self.options(for: fixture))
        var known = Set(replay.spans.map(\.spanID.hex))
        let truth = try Truth(fixture: fixture)
        // Spans exported by the services themselves (oslo.messaging tracing, osprofiler) and incoming API contexts.
        let exported = Repository.fixture("\(fixture).spans.jsonl")
        if FileManager.default.fileExists(atPath: exported.path) {
            var splitter = LineSplitter()
            splitter.feed(try Repository.bytes(exported)) { line, _ in
                if let span = try? JSONValue(parsing: line), let id = span["span_id"]?.stringValue { known.insert(id) }
            }
        }
        for request in truth.json["api_requests"]?.arrayValue ?? [] {
            if let text = request["traceparent_sent"]?.stringValue, let parent = TraceParent(text) {
                known.insert(parent.parentID.hex)
            }
        }
        for span in replay.spans {
            guard let parent = span.parentSpanID else { continue }
            #expect(known.contains(parent.hex), "\(fixture): \(span.kind.name) \(span.name) has unknown parent \(parent.hex)")
        }
        if fixture == "e_otel" || fixture == "f_osprofiler" {
            // Linked into the services' own traces: some parents are theirs, not ours.
            let ours = Set(replay.spans.map(\.spanID))
            #expect(replay.spans.contains { $0.parentSpanID.map { !ours.contains($0) } ?? false })
        }
    }

    @Test("a_boot: the two boots are two traces, nova-api to nova-compute")
    func bootTraces() throws {
        let replay = try Replay(fixture: "a_boot")
        let traces = Dictionary(grouping: replay.spans, by: \.traceID)
        #expect(traces.count == 2)
        for (_, spans) in traces {
            let services = Set(spans.map(\.resource.service))
            #expect(services == ["nova-api", "nova-conductor", "nova-scheduler", "nova-compute"])
            #expect(spans.filter { $0.parentSpanID == nil }.count == 1, "one root per trace")
            #expect(spans.contains { $0.kind == .consumer && $0.resource == ServiceIdentity(service: "nova-compute", host: "compute-1") })
        }
        // The global request ID names the trace of the boot that sent one; the other falls back to its request ID.
        #expect(traces.keys.contains(TraceID(uuid: "req-695a397c-6238-483b-bed6-eb95afd0eac8")!))
        #expect(traces.keys.contains(TraceID(uuid: "req-46e8e4d5-eb9b-4797-b2de-f605ca248246")!))
    }
}
