import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Issue 14's acceptance: what Tempo's service graphs, the collector's `servicegraph` connector and `spanmetrics`
/// make of our spans, checked against each capture's ground truth (`ServiceGraphOracle` implements their rules).
///
/// The expected graph, from the truth alone (the span model of docs/synthesis.md, "The spans"):
/// - an answered call S → R is one request edge S → R (CLIENT of S, its SERVER child of R); failed when the reply
///   carried a failure;
/// - a cast, fanout or notification delivered to R is one `messaging_system` edge S → R per message and receiving
///   service (PRODUCER of S, CONSUMER children of R: the first pairs, so a fanout to two hosts of R is one request),
///   never failed (the message was delivered);
/// - a call with no answer or a message with no delivery is a `virtual_node` edge S → T, T the service the service
///   map names for its target (the span carries `peer.service`); failed when the call timed out or the publish was
///   unroutable. Without a known T the collector names the node `unknown` and Tempo drops the edge.
/// A call is a request edge only: its request message is not a second, `messaging_system` edge (Grafana sums the
/// two when it draws the pair). With oslo.messaging's own tracing (e_otel), oslo's PRODUCER and CONSUMER of a call
/// form that messaging edge themselves; it is theirs and expected.
@Suite("Service graph and span metrics of the shipped captures (issue 14)")
struct ServiceGraphTests {
    typealias Tool = ServiceGraphOracle.Tool
    typealias EdgeKey = ServiceGraphOracle.EdgeKey

    struct Counts: Equatable, CustomStringConvertible {
        var requests = 0
        var failed = 0
        var description: String { "\(requests) requests, \(failed) failed" }
    }

    /// A change applied to the replay's spans before a check: how `ServiceGraphOracleSelfTests` shows that the checks
    /// fail on other span shapes.
    typealias Reshape = @Sendable ([Span]) -> [Span]

    static let cases: [(String, Tool)] = GroundTruthTests.fixtures.flatMap { fixture in Tool.allCases.map { (fixture, $0) } }

    /// Slack for comparing wire times (the capture's `captured_at`, taken when the firehose copy reached the capture
    /// tool) with times the services recorded themselves. Measured on the shipped captures with today's spans
    /// (CONSUMER duration = queue wait, CLIENT = round trip): worst excess 8 ms (queue wait), 10 ms (round trip).
    static let slack = 0.025

    // MARK: Inputs

    /// Our spans, plus the spans the services exported themselves when the capture has them: the graph an
    /// operator sees is computed over both.
    static func spans(
        _ fixture: String, senderTraced: SynthesisOptions.SenderTracedPolicy = .complement, reshape: Reshape? = nil
    ) throws -> (replay: Replay, ours: [GraphSpan], exported: [GraphSpan]) {
        let options = GroundTruthTests.options(for: fixture, senderTraced: senderTraced)
        var replay = try Replay(fixture: fixture, options: options)
        if let reshape { replay.spans = reshape(replay.spans) }
        var exported: [GraphSpan] = []
        let file = Repository.fixture("\(fixture).spans.jsonl")
        if FileManager.default.fileExists(atPath: file.path) {
            var splitter = LineSplitter()
            var lines: [[UInt8]] = []
            splitter.feed(try Repository.bytes(file)) { line, _ in lines.append(Array(line)) }
            splitter.finish { line, _ in lines.append(Array(line)) }
            for line in lines {
                if let json = try? JSONValue(parsing: line), let span = GraphSpan(exported: json) { exported.append(span) }
            }
        }
        return (replay, replay.spans.map(GraphSpan.init), exported)
    }

    static func messageID(_ span: Span) -> String? {
        if case .string(let id)? = span[attribute: "messaging.message.id"] { return id }
        return nil
    }

    /// The service the service map names for an operation's target, nil when it names none.
    static func targetService(_ op: JSONValue, fixture: String) -> String? {
        let map = GroundTruthTests.options(for: fixture).serviceMap
        let target = map.target(exchange: op["exchange"]?.stringValue ?? "", routingKey: op["routing_key"]?.stringValue ?? "")
        guard let service = map.service(of: target), !service.isUnknown else { return nil }
        return service.service
    }

    static func isAnswered(_ op: JSONValue) -> Bool {
        (op["replies"]?.arrayValue ?? []).contains { $0["ending"] == .bool(true) } && !(op["deliveries"]?.arrayValue ?? []).isEmpty
    }

    // MARK: Expected graph

    static func expectedGraph(
        fixture: String, tool: Tool, truth: Truth, replay: Replay, withExported: Bool,
        including: (JSONValue) -> Bool = { _ in true }
    ) -> [EdgeKey: Counts] {
        var expected: [EdgeKey: Counts] = [:]
        func add(_ client: String, _ server: String, _ type: String, failed: Bool) {
            expected[EdgeKey(client: client, server: server, connectionType: type), default: Counts()].requests += 1
            if failed { expected[EdgeKey(client: client, server: server, connectionType: type), default: Counts()].failed += 1 }
        }
        for op in truth.operations where including(op) {
            guard var sender = op["from"]?["service"]?.stringValue, let uid = op["unique_id"]?.stringValue else { continue }
            // A periodic task's first publish may be `unknown` (GroundTruthTests says where the wire cannot tell):
            // the graph then shows it under `unknown`, which the sender-attribution tests judge, not this suite.
            if GroundTruthTests.senderMayBeUnknown(op, truth: truth),
                replay.spans.contains(where: { [.producer, .client].contains($0.kind) && messageID($0) == uid && $0.resource.isUnknown })
            {
                sender = ServiceIdentity.unknown.service
            }
            let kind = op["kind"]?.stringValue ?? ""
            let deliveries = op["deliveries"]?.arrayValue ?? []
            let receivers = Set(deliveries.compactMap { $0["service"]?.stringValue })
            let failed = op["failed"] == .bool(true)
            let virtualServer: String? = targetService(op, fixture: fixture) ?? (tool == .collector ? "unknown" : nil)
            if kind == "call" {
                if isAnswered(op), let callee = deliveries.first?["service"]?.stringValue {
                    add(sender, callee, "", failed: op["failure_visible_on_wire"] == .bool(true))
                } else if let server = virtualServer {
                    add(sender, server, "virtual_node", failed: failed)
                }
                // oslo.messaging's own tracing: its PRODUCER spans the call (ERROR when the call raised) and its
                // CONSUMER is a child of it, so the call's request is also a messaging edge of theirs.
                if withExported, op["traceparent"]?.stringValue != nil, let callee = receivers.first {
                    add(sender, callee, "messaging_system", failed: failed)
                }
            } else if receivers.isEmpty {
                if let server = virtualServer { add(sender, server, "virtual_node", failed: failed) }
            } else {
                for receiver in receivers.sorted() { add(sender, receiver, "messaging_system", failed: false) }
            }
        }
        return expected
    }

    /// Edges between bus services: `user` → X edges are HTTP ingress (root SERVER spans the services exported).
    static func busEdges(_ oracle: ServiceGraphOracle) -> [EdgeKey: Counts] {
        var edges: [EdgeKey: Counts] = [:]
        for (key, metrics) in oracle.edges where key.client != "user" {
            edges[key] = Counts(requests: metrics.requests, failed: metrics.failed)
        }
        return edges
    }

    static func differences(_ actual: [EdgeKey: Counts], _ expected: [EdgeKey: Counts]) -> [String] {
        var lines: [String] = []
        for key in Set(actual.keys).union(expected.keys).sorted() where actual[key] != expected[key] {
            lines.append("\(key): have \(actual[key].map(\.description) ?? "no edge"), truth \(expected[key].map(\.description) ?? "no edge")")
        }
        return lines
    }

    // MARK: Tests

    @Test("one edge per service pair that talks, with the truth's request and failure counts", arguments: cases)
    func edges(fixture: String, tool: Tool) throws {
        try Self.checkEdges(fixture: fixture, tool: tool)
    }

    static func checkEdges(fixture: String, tool: Tool, reshape: Reshape? = nil) throws {
        let (replay, ours, exported) = try Self.spans(fixture, reshape: reshape)
        let truth = try Truth(fixture: fixture)
        let oracle = ServiceGraphOracle.run(ours + exported, tool: tool)
        let expected = Self.expectedGraph(
            fixture: fixture, tool: tool, truth: truth, replay: replay, withExported: !exported.isEmpty)
        let differences = Self.differences(Self.busEdges(oracle), expected)
        #expect(differences.isEmpty, "\(fixture) [\(tool)]:\n\(differences.joined(separator: "\n"))")
        report("\(fixture) [\(tool)] service graph: \(Self.busEdges(oracle).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "; "))")
    }

    /// The same edges from what an operator's collector receives: `trace-bridge replay --format otlp-proto` and
    /// `--format otlp-json` of each capture (the CLI's service-map options as `GroundTruthTests.options`), decoded by
    /// the official OpenTelemetry bindings (tools/otlp_check.py, an independent decoder), then the oracle.
    @Test("replay --format otlp-proto and otlp-json, decoded by the official bindings, yield the truth's edges", arguments: GroundTruthTests.fixtures)
    func edgesFromTheCLI(fixture: String) throws {
        var arguments = ["replay", Repository.fixture("\(fixture).jsonl").path, "--quiet"]
        if fixture == "d_notify" {
            arguments += ["--service-map", "notifications=nova-notify-listener", "--service-map", "versioned_notifications=nova-notify-listener"]
        }
        if GroundTruthTests.queueLayoutFixtures.contains(fixture) || GroundTruthTests.neutronFixtures.contains(fixture) {
            arguments += ["--service-map", "notifications=ceilometer-agent-notification"]
        }
        let (replay, inProcess, exported) = try Self.spans(fixture)
        let expected = Self.expectedGraph(
            fixture: fixture, tool: .collector, truth: try Truth(fixture: fixture), replay: replay, withExported: !exported.isEmpty)
        for (format, decoder) in [("otlp-proto", "proto"), ("otlp-json", "json")] {
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("tb-graph-\(fixture)-\(UUID()).\(decoder)")
            defer { try? FileManager.default.removeItem(at: output) }
            let cli = try CLI.run(arguments + ["--format", format, "--output", output.path])
            try #require(cli.status == 0, "\(cli.stderr)")
            let decoded = try CLI.python([Repository.root.appendingPathComponent("tools/otlp_check.py").path, "spans", decoder, output.path])
            try #require(decoded.status == 0, "\(decoded.stderr)")
            let ours = try decoded.stdout.split(separator: "\n").compactMap { line -> GraphSpan? in
                var span = GraphSpan(exported: try JSONValue(parsing: Array(line.utf8)))
                span?.source = .bridge
                return span
            }
            #expect(ours.count == inProcess.count, "\(fixture) \(format): \(ours.count) spans decoded, \(inProcess.count) synthesized")
            let differences = Self.differences(Self.busEdges(ServiceGraphOracle.run(ours + exported, tool: .collector)), expected)
            #expect(differences.isEmpty, "\(fixture) from the CLI's \(format):\n\(differences.joined(separator: "\n"))")
        }
    }

    /// The README's picture: the collector's service graph of every shipped capture (our spans and the services'
    /// own, as `edges` checks them), summed. `UPDATE_GOLDEN=1` rewrites docs/images/service-graph.json and fails;
    /// `python3 tools/render_service_graph.py` draws it (`--check`, run by the manifest validator's tests, tells
    /// whether the SVG is current).
    @Test("the README's service graph is the oracle's graph of the shipped captures")
    func readmeGraph() throws {
        var total: [EdgeKey: Counts] = [:]
        for fixture in GroundTruthTests.fixtures {
            let (_, ours, exported) = try Self.spans(fixture)
            for (key, counts) in Self.busEdges(ServiceGraphOracle.run(ours + exported, tool: .collector)) {
                total[key, default: Counts()].requests += counts.requests
                total[key, default: Counts()].failed += counts.failed
            }
        }
        func quoted(_ text: String) -> String {
            var writer = JSONWriter()
            writer.string(text)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        let lines = total.keys.sorted().map { key in
            let type = key.connectionType.isEmpty ? "request" : key.connectionType
            return "    {\"client\": \(quoted(key.client)), \"server\": \(quoted(key.server)), \"connection_type\": \(quoted(type)), "
                + "\"requests\": \(total[key]!.requests), \"failed\": \(total[key]!.failed)}"
        }
        let text = "{\n  \"tool\": \"servicegraph connector\",\n  \"captures\": \(GroundTruthTests.fixtures.count),\n  \"edges\": [\n"
            + lines.joined(separator: ",\n") + "\n  ]\n}\n"
        #expect(total.keys.contains { $0.connectionType.isEmpty } && total.keys.contains { $0.connectionType == "messaging_system" })
        let file = Repository.root.appendingPathComponent("docs/images/service-graph.json")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try Data(text.utf8).write(to: file)
            Issue.record("rewrote \(file.lastPathComponent): run python3 tools/render_service_graph.py, review, rerun without UPDATE_GOLDEN")
            return
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == text, "the service graph changed: UPDATE_GOLDEN=1 make test, then tools/render_service_graph.py")
    }

    @Test("no messaging edge is failed because of our spans: a delivered message did not fail", arguments: cases)
    func messagingEdgesNotFailed(fixture: String, tool: Tool) throws {
        try Self.checkMessagingEdgesNotFailed(fixture: fixture, tool: tool)
    }

    static func checkMessagingEdgesNotFailed(fixture: String, tool: Tool, reshape: Reshape? = nil) throws {
        let (_, ours, _) = try Self.spans(fixture, reshape: reshape)
        let oracle = ServiceGraphOracle.run(ours, tool: tool)
        for (key, metrics) in oracle.edges where key.connectionType == "messaging_system" {
            #expect(metrics.failed == 0, "\(fixture) [\(tool)]: \(key) has \(metrics.failed) failed of \(metrics.requests)")
        }
    }

    /// Tempo's `traces_service_graph_request_messaging_system_seconds` must be the queue wait: every messaging edge
    /// of ours gives a sample (none dropped at 0), no longer than the truth allows (the consumer's own receive time
    /// minus the sender's time before publishing).
    @Test("messaging edges: Tempo's messaging-system latency is the queue wait", arguments: GroundTruthTests.fixtures)
    func queueWaitLatency(fixture: String) throws {
        try Self.checkQueueWaitLatency(fixture: fixture)
    }

    static func checkQueueWaitLatency(fixture: String, reshape: Reshape? = nil) throws {
        let (replay, ours, exported) = try Self.spans(fixture, reshape: reshape)
        let truth = try Truth(fixture: fixture)
        let oracle = ServiceGraphOracle.run(ours + exported, tool: .tempo)
        let byID = Dictionary(replay.spans.map { ($0.spanID.hex, $0) }, uniquingKeysWith: { first, _ in first })
        // Only pairs of our own spans: with oslo.messaging's tracing (complement) the PRODUCER is oslo's, which
        // ends when its send returns, so the sample is oslo's measurement, not ours.
        func bothOurs(_ sample: ServiceGraphOracle.Sample) -> Bool {
            (sample.serverSpanID.map { byID[$0] != nil } ?? false) && (sample.clientSpanID.map { byID[$0] != nil } ?? false)
        }
        let dropped = oracle.droppedMessagingSamples.filter(bothOurs)
        #expect(dropped.isEmpty, "\(fixture): \(dropped.count) queue-wait samples of our CONSUMER spans dropped at 0 s (consumer start − producer end)")
        var checked = 0
        for (key, metrics) in oracle.edges where key.connectionType == "messaging_system" {
            for sample in metrics.messagingSystem where bothOurs(sample) {
                guard let consumer = sample.serverSpanID.flatMap({ byID[$0] }), let uid = Self.messageID(consumer),
                    let op = truth.operation(uniqueID: uid)
                else { continue }
                let received = (op["deliveries"]?.arrayValue ?? [])
                    .filter { $0["service"]?.stringValue == consumer.resource.service }
                    .compactMap { $0["received_ns"]?.int64Value }.max()
                guard let received, let sent = op["ts_ns"]?.int64Value else { continue }
                let bound = Double(received - sent) / 1e9 + Self.slack
                #expect(sample.seconds > 0 && sample.seconds <= bound, "\(fixture): \(key) message \(uid): queue wait \(sample.seconds) s, truth allows (0, \(bound)] s")
                checked += 1
            }
        }
        let expectedEdges = Self.expectedGraph(
            fixture: fixture, tool: .tempo, truth: truth, replay: replay, withExported: false,
            including: { $0["traceparent"]?.stringValue == nil })
            .filter { $0.key.connectionType == "messaging_system" }.values.reduce(0) { $0 + $1.requests }
        #expect(checked == expectedEdges, "\(fixture): \(checked) queue-wait samples of ours for \(expectedEdges) delivered messages")
    }

    /// Request edges: the client latency is the round trip (call publish → reply delivery), bounded by what the
    /// caller and callee recorded; the server latency is the handling, never longer than the round trip.
    @Test("request edges: client latency is the round trip, server latency the handling", arguments: cases)
    func roundTripLatency(fixture: String, tool: Tool) throws {
        try Self.checkRoundTripLatency(fixture: fixture, tool: tool)
    }

    static func checkRoundTripLatency(fixture: String, tool: Tool, reshape: Reshape? = nil) throws {
        let (replay, ours, exported) = try Self.spans(fixture, reshape: reshape)
        let truth = try Truth(fixture: fixture)
        let oracle = ServiceGraphOracle.run(ours + exported, tool: tool)
        let byID = Dictionary(replay.spans.map { ($0.spanID.hex, $0) }, uniquingKeysWith: { first, _ in first })
        var checked = 0
        for (key, metrics) in oracle.edges where key.connectionType.isEmpty {
            for (client, server) in zip(metrics.client, metrics.server) {
                guard let span = client.clientSpanID.flatMap({ byID[$0] }), let uid = Self.messageID(span),
                    let op = truth.operation(uniqueID: uid), let start = op["ts_ns"]?.int64Value
                else { continue }
                let reply = (op["replies"]?.arrayValue ?? []).last { $0["ending"] == .bool(true) }?["ts_ns"]?.int64Value
                let received = (op["deliveries"]?.arrayValue ?? []).compactMap { $0["received_ns"]?.int64Value }.min()
                // Captures from tools/scenario/capture_layouts.sh and later record no `end_ns`: no upper bound there.
                let upper = op["end_ns"]?.int64Value.map { Double($0 - start) / 1e9 + Self.slack } ?? .infinity
                let lower = reply.flatMap { reply in received.map { Double(reply - $0) / 1e9 - Self.slack } } ?? 0
                #expect(client.seconds >= lower && client.seconds <= upper, "\(fixture) [\(tool)]: \(key) call \(uid): client latency \(client.seconds) s, truth [\(lower), \(upper)] s")
                #expect(server.seconds <= client.seconds, "\(fixture) [\(tool)]: \(key) call \(uid): server \(server.seconds) s > client \(client.seconds) s")
                checked += 1
            }
        }
        let answered = truth.operations.filter { $0["kind"]?.stringValue == "call" && Self.isAnswered($0) }.count
        #expect(checked == answered, "\(fixture) [\(tool)]: \(checked) round-trip samples for \(answered) answered calls")
    }

    /// Span names are series names in span metrics: no host, ID, UUID or reply queue may appear in one, and there
    /// are no more names than kinds of message (topic or exchange, method or event type) times span kinds.
    @Test("span names have low, bounded cardinality", arguments: GroundTruthTests.fixtures)
    func spanNameCardinality(fixture: String) throws {
        try Self.checkSpanNameCardinality(fixture: fixture)
    }

    static func checkSpanNameCardinality(fixture: String, reshape: Reshape? = nil) throws {
        let replay = try Self.spans(fixture, reshape: reshape).replay
        let truth = try Truth(fixture: fixture)
        var hosts = Set((truth.json["processes"]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue })
        for op in truth.operations {
            // A notification's `server` field is its priority (`notifications.info`), not a host.
            if op["kind"]?.stringValue != "notify", let server = op["server"]?.stringValue { hosts.insert(server) }
            for delivery in op["deliveries"]?.arrayValue ?? [] {
                if let host = delivery["host"]?.stringValue { hosts.insert(host) }
            }
        }
        let uuid = try Regex("[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
        let longNumber = try Regex("[0-9]{5,}")
        for name in Set(replay.spans.map(\.name)).sorted() {
            let words = name.split(whereSeparator: { " .:/".contains($0) }).map(String.init)
            #expect(hosts.isDisjoint(with: words), "\(fixture): span name \"\(name)\" names a host")
            #expect(name.firstMatch(of: uuid) == nil && name.firstMatch(of: longNumber) == nil, "\(fixture): span name \"\(name)\" carries an ID")
            #expect(!name.contains("reply_") && !name.contains("req-"), "\(fixture): span name \"\(name)\" names a reply queue or request")
        }
        let messageKinds = Set(truth.operations.map { op in
            [op["exchange"]?.stringValue ?? "", op["topic"]?.stringValue ?? "", op["method"]?.stringValue ?? op["event_type"]?.stringValue ?? ""]
        })
        let names = Set(replay.spans.map(\.name))
        #expect(names.count <= 4 * messageKinds.count, "\(fixture): \(names.count) span names for \(messageKinds.count) kinds of message")
    }

    /// oslo.messaging's own spans and ours measure different things (its CONSUMER the handling, ours the delivery):
    /// span metrics must keep them in different series, whatever the `--sender-traced` policy.
    @Test("with oslo.messaging's tracing on, its spans and ours are never one span-metrics series", arguments: [SynthesisOptions.SenderTracedPolicy.complement, .full])
    func otelSeriesApart(policy: SynthesisOptions.SenderTracedPolicy) throws {
        try Self.checkOtelSeriesApart(policy: policy)
    }

    static func checkOtelSeriesApart(policy: SynthesisOptions.SenderTracedPolicy, reshape: Reshape? = nil) throws {
        let (_, ours, exported) = try Self.spans("e_otel", senderTraced: policy, reshape: reshape)
        #expect(!exported.isEmpty)
        let metrics = SpanMetricsOracle(ours + exported)
        for (key, series) in metrics.series.sorted(by: { $0.key < $1.key }) {
            #expect(series.sources.count == 1, "e_otel [\(policy.rawValue)]: \(key) adds up \(series.sources.sorted().joined(separator: " and ")) (\(series.calls) calls)")
        }
    }

    /// Semantic conventions v1.44.0 (docs/messaging/messaging-spans.md, rabbitmq.md, docs/rpc/rpc-spans.md,
    /// docs/general/recording-errors.md), where they apply to our spans.
    @Test("span names, kinds and keys follow the semantic conventions v1.44.0", arguments: GroundTruthTests.fixtures)
    func semanticConventions(fixture: String) throws {
        try Self.checkSemanticConventions(fixture: fixture)
    }

    static func checkSemanticConventions(fixture: String, reshape: Reshape? = nil) throws {
        let replay = try Self.spans(fixture, reshape: reshape).replay
        func string(_ span: Span, _ key: String) -> String? {
            if case .string(let value)? = span[attribute: key] { return value }
            return nil
        }
        // Deprecated (rpc.system → rpc.system.name, rpc.service → fully qualified rpc.method) or not defined by the
        // convention in its own namespace (messaging.rabbitmq.* has routing_key and delivery_tag only).
        let notConventional: Set<String> = [
            "rpc.system", "rpc.service", "messaging.operation", "messaging.rabbitmq.redelivered", "messaging.rabbitmq.unroutable",
        ]
        var problems: [String] = []
        for span in replay.spans {
            let label = "\(span.kind.name) \"\(span.name)\""
            if span.status.code == .error, span[attribute: "error.type"] == nil {
                problems.append("\(label): ERROR without error.type")
            }
            for key in span.attributes.map(\.key) where notConventional.contains(key) {
                problems.append("\(label): \(key)")
            }
            switch span.kind {
            case .client, .server:
                if string(span, "rpc.system.name") == nil { problems.append("\(label): no rpc.system.name") }
                if let method = string(span, "rpc.method") {
                    if span.name != method { problems.append("\(label): name is not rpc.method \(method)") }
                } else {
                    problems.append("\(label): no rpc.method")
                }
            case .producer, .consumer:
                let type = span.kind == .producer ? "send" : "process"
                if string(span, "messaging.operation.type") != type {
                    problems.append("\(label): messaging.operation.type \(string(span, "messaging.operation.type") ?? "-"), want \(type)")
                }
                let operation = string(span, "messaging.operation.name") ?? "-"
                let destination = string(span, "messaging.destination.template") ?? string(span, "messaging.destination.name")
                let temporary = span[attribute: "messaging.destination.temporary"] == .bool(true)
                    || span[attribute: "messaging.destination.anonymous"] == .bool(true)
                let name = destination.map { temporary && string(span, "messaging.destination.template") == nil ? operation : "\(operation) \($0)" } ?? operation
                if span.name != name { problems.append("\(label): name is not \"\(name)\"") }
            case .internal:
                break
            }
        }
        let distinct = Array(Set(problems)).sorted()
        #expect(distinct.isEmpty, "\(fixture): \(distinct.count) kinds of deviation:\n\(distinct.prefix(40).joined(separator: "\n"))")
    }
}
