import Agent
import AgentHTTP
import Foundation
import RabbitMQ
import Testing
import TestSupport
import TraceCore

/// The whole agent (`Agent`) between in-memory sources and sinks: what the live path guarantees about
/// acknowledgement, several buses, shutdown and readiness, checked without a broker in well under a second.
@Suite("Agent with in-memory sources and sinks")
struct AgentTests {
    /// A capture's messages, in order.
    static func messages(_ fixture: String) throws -> [BusMessage] {
        let bytes = try Repository.bytes(Repository.fixture(fixture))
        return try bytes.split(separator: 0x0A).enumerated().map { index, line in
            try BusMessage(line: Array(line), lineNumber: index + 1)
        }
    }

    /// An agent over `sources` (one bus each, named `names`) writing into `sink`, running until its sources stop.
    struct Harness {
        let sources: [InMemorySource]
        let sink: InMemorySink
        let status: AgentStatus
        let run: Task<Void, any Error>

        init(buses names: [String], sink: InMemorySink = InMemorySink(), reorderWindow: Int64 = 0) {
            let sources = names.map { _ in InMemorySource() }
            let buses = names.map { name in
                Bus(name: name, settings: ConnectionSettings(url: AMQPURL(host: "in-memory", vhost: name), connectionName: "test"),
                    addresses: [], topology: SourceTopology(queue: QueueSettings(name: "trace-bridge.firehose"),
                                                            bindings: [QueueBinding(exchange: QueueBinding.firehoseExchange, routingKey: "#")], prefetch: 100))
            }
            var options = SynthesisOptions()
            options.reorderWindow = reorderWindow
            let status = AgentStatus(tracesKept: 10, exportFailureThresholdSeconds: 60)
            let agent = Agent(configuration: AgentConfiguration(buses: buses, options: options, shutdownGrace: .seconds(1)),
                              status: status,
                              makeSource: { bus in sources[names.firstIndex(of: bus.name)!] },
                              makeSink: { sink })
            self.sources = sources
            self.sink = sink
            self.status = status
            run = Task { try await agent.run() }
        }

        /// Stops every bus and waits for the agent to return (or throw).
        func stop() async throws {
            for source in sources { source.stopConsuming() }
            try await run.value
        }
    }

    /// How long `eventually` waits: only a failing test waits it out. Under a sanitizer, on 2 busy cores, with the
    /// live suites running beside these in one process, 5 s was not always enough (an ASan run timed out three of
    /// these tests while the integration tests held the cores).
    static let patience: Duration =
        ProcessInfo.processInfo.environment["TRACE_BRIDGE_SANITIZER"] == nil ? .seconds(30) : .seconds(300)

    /// Polls without blocking a thread of the cooperative pool.
    static func eventually(_ what: String, timeout: Duration = patience, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestSetupError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("a delivery is acknowledged only once the sink settled its spans, and then at once")
    func acknowledgesSettledOnly() async throws {
        let harness = Harness(buses: ["default"], sink: InMemorySink(holding: true))
        let source = harness.sources[0]
        try await Self.eventually("start") { source.started }
        source.connect()
        let messages = try Self.messages("a_boot.jsonl")
        let tags = source.deliver(Array(messages.prefix(10)))
        try await Self.eventually("all ten accepted") { harness.sink.accepted == 10 }
        source.tick(messages[9].capturedAt + 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(source.acknowledgements.isEmpty, "nothing may be acknowledged while the sink holds the spans")
        harness.sink.release()
        try await Self.eventually("the acknowledgement") { !source.acknowledgements.isEmpty }
        #expect(source.acknowledgements == [tags[9]], "one acknowledgement covering all ten")
        try await harness.stop()
        #expect(harness.sink.finished)
    }

    @Test("two buses: one synthesis, and each bus acknowledges its own deliveries")
    func twoBuses() async throws {
        let harness = Harness(buses: ["api", "cell1"])
        try await Self.eventually("start") { harness.sources.allSatisfy(\.started) }
        for source in harness.sources { source.connect() }
        let messages = try Self.messages("a_boot.jsonl")
        // Alternate the capture's messages between the buses, as if its services were spread over two.
        var delivered: [[DeliveryTag]] = [[], []]
        for (index, message) in messages.enumerated() {
            delivered[index % 2] += harness.sources[index % 2].deliver([message])
            try await Self.eventually("message \(index + 1) accepted") { harness.sink.accepted == Int64(index + 1) }
        }
        try await harness.stop()
        for bus in 0..<2 {
            let acks = harness.sources[bus].acknowledgements
            #expect(acks.last == delivered[bus].last, "bus \(bus) acknowledged up to its last delivery")
            #expect(Set(acks).isSubset(of: Set(delivered[bus])), "bus \(bus) got only its own tags")
            #expect(acks == acks.sorted(), "acknowledgements only go forward")
        }
        // The spans are those of one pipeline over all the messages, in the same order: the split changed nothing.
        var pipeline = EventPipeline(options: { var o = SynthesisOptions(); o.reorderWindow = 0; return o }())
        var expected = messages.flatMap { pipeline.process(record: $0) }
        expected += pipeline.finish()
        #expect(harness.sink.spans.count == expected.count)
        #expect(Set(harness.sink.spans.map(\.spanID)) == Set(expected.map(\.spanID)))
        #expect(Set(harness.sink.spans.map(\.traceID)).count == Set(expected.map(\.traceID)).count)
    }

    @Test("held by the reorder window: no acknowledgement passes a message whose spans have not left")
    func reorderWindowHoldsAcknowledgements() async throws {
        let harness = Harness(buses: ["default"], reorderWindow: 20_000_000)
        let source = harness.sources[0]
        try await Self.eventually("start") { source.started }
        source.connect()
        // Without the capture's first publish, the delivery of that message waits for it (it may be late from
        // another node), and every later event of the same node waits behind it, up to the window.
        let all = try Self.messages("a_boot.jsonl")
        #expect(all[0].routingKey.hasPrefix("publish.") && all[1].routingKey.hasPrefix("deliver."))
        // The messages within the window (20 ms of event time) of that delivery.
        let messages = Array(all.dropFirst().prefix { $0.capturedAt - all[1].capturedAt < 20_000_000 })
        #expect(messages.count >= 2)
        let tags = source.deliver(messages)
        try await Task.sleep(for: .milliseconds(100))
        #expect(source.acknowledgements.isEmpty, "the held delivery and everything behind it stay unacknowledged")
        #expect(harness.sink.spans.count == 0)
        // Once the window has passed in event time, the held events leave and everything is acknowledged.
        source.tick(messages.last!.capturedAt + 1_000_000_000)
        try await Self.eventually("released by time") { source.acknowledged == tags.last }
        #expect(harness.sink.spans.count > 0)
        try await harness.stop()
    }

    /// `/metrics` lines `name{labels} value` as (name, labels, value); fails the test on a line of another shape.
    static func samples(_ exposition: String) -> [(name: String, labels: [String: String], value: Double)] {
        exposition.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            guard let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}"),
                let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))
            else { Issue.record("not a sample line: \(line)"); return nil }
            var labels: [String: String] = [:]
            for pair in line[line.index(after: brace)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            return (String(line[..<brace]), labels, value)
        }
    }

    @Test("RED metrics of the bus: every call of the capture by outcome, handling, queue waits and notifications, before any sampling")
    func busREDMetrics() async throws {
        let harness = Harness(buses: ["default"])
        let source = harness.sources[0]
        try await Self.eventually("start") { source.started }
        source.connect()
        let messages = try Self.messages("b_failure.jsonl")
        _ = source.deliver(messages)
        try await Self.eventually("all accepted") { harness.sink.accepted == Int64(messages.count) }
        try await harness.stop()

        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: Repository.fixture("b_failure.truth.json")))
            as! [String: Any]
        let operations = truth["operations"] as! [[String: Any]]
        let calls = operations.filter { $0["kind"] as? String == "call" }
        let failed = calls.filter { $0["failure_visible_on_wire"] as? Bool == true }
        let notifications = operations.filter { $0["kind"] as? String == "notify" }
        #expect(!failed.isEmpty && !notifications.isEmpty, "the capture has failing calls and notifications")

        let samples = Self.samples(harness.status.busMetricsExposition)
        func total(_ name: String, _ where: (([String: String]) -> Bool) = { _ in true }) -> Double {
            samples.filter { $0.name == name && `where`($0.labels) }.reduce(0) { $0 + $1.value }
        }
        #expect(total("rpc_client_call_duration_seconds_count") == Double(calls.count))
        #expect(total("rpc_client_call_duration_seconds_count") { $0["outcome"] == "error" } == Double(failed.count))
        #expect(total("rpc_client_call_duration_seconds_bucket") { $0["le"] == "+Inf" } == Double(calls.count))
        #expect(total("rpc_server_call_duration_seconds_count") { $0["outcome"] == "error" } == Double(failed.count))
        #expect(total("messaging_client_sent_messages_total") { $0["openstack_message_kind"] == "notification" }
                == Double(notifications.count))
        #expect(total("trace_bridge_messaging_queue_wait_seconds_count") > 0)
        #expect(total("trace_bridge_red_series_overflowed_total") == 0)
        // Bounded label values: no host, message ID or UUID.
        for sample in samples {
            for value in sample.labels.values {
                #expect(!value.contains("compute-1") && value.range(of: "[0-9a-f]{32}", options: .regularExpression) == nil,
                        "\(sample.name): label value \(value)")
            }
        }
    }

    @Test("shutdown releases what the reorder window holds: spans written, every delivery acknowledged")
    func shutdownReleasesHeld() async throws {
        let harness = Harness(buses: ["default"], reorderWindow: 20_000_000)
        let source = harness.sources[0]
        try await Self.eventually("start") { source.started }
        source.connect()
        let all = try Self.messages("a_boot.jsonl")
        let messages = Array(all.dropFirst().prefix { $0.capturedAt - all[1].capturedAt < 20_000_000 })
        let tags = source.deliver(messages)
        try await Task.sleep(for: .milliseconds(50))
        #expect(source.acknowledgements.isEmpty)
        try await harness.stop()
        #expect(source.acknowledgements.last == tags.last, "held messages are synthesized and acknowledged at shutdown")
        #expect(harness.sink.spans.count > 0)
        #expect(harness.sink.finished)
    }

    @Test("readiness: ready only when every bus is connected; /readyz names the bus that is not")
    func readinessPerBus() async throws {
        let harness = Harness(buses: ["api", "cell1"])
        try await Self.eventually("start") { harness.sources.allSatisfy(\.started) }
        #expect(harness.status.readiness(now: 0).ready == false)
        harness.sources[0].connect()
        try await Self.eventually("api connected") { harness.status.readiness(now: 0).reason.contains("bus cell1") }
        let reason = harness.status.readiness(now: 0).reason
        #expect(reason.hasPrefix("not connected to the broker of bus cell1 (1 of 2 buses connected)"), "\(reason)")
        harness.sources[1].connect()
        try await Self.eventually("both connected") { harness.status.readiness(now: 0).ready }
        harness.sources[1].disconnect(AMQPError(code: .library, operation: "test"))
        try await Self.eventually("cell1 down again") { !harness.status.readiness(now: 0).ready }
        try await harness.stop()
    }

    @Test("a queue refused on one bus stops every bus, finishes the sink and ends with QueueRefusal")
    func refusalStopsEverything() async throws {
        let harness = Harness(buses: ["api", "cell1"])
        try await Self.eventually("start") { harness.sources.allSatisfy(\.started) }
        for source in harness.sources { source.connect() }
        let messages = try Self.messages("a_boot.jsonl")
        let tags = harness.sources[0].deliver(Array(messages.prefix(3)))
        try await Self.eventually("accepted") { harness.sink.accepted == 3 }
        harness.sources[1].refuse(AMQPError(code: .queueRefused, replyCode: 406,
                                            replyText: "PRECONDITION_FAILED - inequivalent arg 'durable'", operation: "queue.declare"))
        await #expect(throws: QueueRefusal.self) { try await harness.run.value }
        #expect(harness.sink.finished)
        #expect(harness.sources[0].acknowledgements.last == tags.last, "what was settled is acknowledged before exiting")
    }
}

@Suite("DeliveryLedger")
struct DeliveryLedgerTests {
    static func tag(_ value: UInt64, generation: UInt64 = 1) -> DeliveryTag { DeliveryTag(generation: generation, tag: value) }

    @Test("settling maps inputs to each bus's highest covered tag, once")
    func settle() {
        var ledger = DeliveryLedger()
        ledger.record(input: 1, bus: 0, tag: Self.tag(1))
        ledger.record(input: 2, bus: 1, tag: Self.tag(1))
        ledger.record(input: 3, bus: 0, tag: Self.tag(2))
        ledger.record(input: 4, bus: 1, tag: Self.tag(2))
        #expect(ledger.settle(through: 0).isEmpty)
        #expect(ledger.settle(through: 3) == [0: Self.tag(2), 1: Self.tag(1)])
        #expect(ledger.settle(through: 3).isEmpty, "nothing twice")
        #expect(ledger.outstanding == 1)
        #expect(ledger.settle(through: 10) == [1: Self.tag(2)])
        #expect(ledger.outstanding == 0)
    }

    @Test("a reconnect's new generation is passed on as it is (the source drops stale tags)")
    func generations() {
        var ledger = DeliveryLedger()
        ledger.record(input: 1, bus: 0, tag: Self.tag(7, generation: 1))
        ledger.record(input: 2, bus: 0, tag: Self.tag(1, generation: 2))
        #expect(ledger.settle(through: 2) == [0: Self.tag(1, generation: 2)])
    }

    @Test("a long run keeps memory bounded: settled entries are dropped")
    func bounded() {
        var ledger = DeliveryLedger()
        for input in Int64(1)...100_000 {
            ledger.record(input: input, bus: Int(input % 3), tag: Self.tag(UInt64(input)))
            if input % 100 == 0 { _ = ledger.settle(through: input) }
        }
        #expect(ledger.outstanding == 0)
    }
}
