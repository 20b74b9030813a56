import Foundation
import TestSupport
import Testing

extension LiveBrokerTests {
    /// One numeric column of `rabbitmqctl list_queues` for one queue.
    static func queueField(_ queue: String, _ field: String) throws -> Int {
        let log = temporaryFile("list-queues")
        defer { try? FileManager.default.removeItem(at: log) }
        _ = try runToCompletion(
            "/bin/bash", [Repository.root.appendingPathComponent("tools/broker.sh").path, "ctl", "list_queues", "-q", "name", field],
            environment: ["TB_BROKER_DIR": Repository.root.appendingPathComponent(".broker").path], log: log, timeout: 60)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) ?? 0 }
        }
        throw TestSetupError("queue \(queue) not listed: \(text)")
    }

    /// Faults with real processes that the other suites do not cover. Nested in the live suite (serialized).
    @Suite("Faults: a dead agent, a slow collector, a flood of unanswered calls")
    struct Faults {
        @Test("the agent is dead: its queue keeps at most max-length messages (drop-head), and the next agent drains them")
        func deadAgentQueueStaysBounded() throws {
            let queue = "tb-it-dead-\(UUID().uuidString.prefix(8))"
            let output = LiveBrokerTests.temporaryFile("dead.jsonl")
            defer { try? FileManager.default.removeItem(at: output) }
            let first = try LiveBrokerTests.startAgent(queue: queue, output: output, extra: ["--queue-max-length", "20"])
            first.signal(SIGKILL)
            _ = try first.wait(timeout: 10)
            first.cleanUp()
            let truth = try LiveBrokerTests.runScenario()
            #expect(truth.publishes + truth.deliveries > 20, "the traffic overflows the bound")
            // The broker applies the bound as messages arrive: never more than 20 in the dead agent's queue.
            let held = try LiveBrokerTests.queueField(queue, "messages")
            #expect(held == 20, "the broker keeps exactly max-length (the newest) for a dead agent, not \(held)")
            let second = try LiveBrokerTests.startAgent(queue: queue, output: output, extra: ["--queue-max-length", "20"])
            defer { second.cleanUp() }
            try waitUntil("the next agent to drain the queue", timeout: 30) { try LiveBrokerTests.queueField(queue, "messages") == 0 }
            second.signal(SIGTERM)
            #expect(try second.wait(timeout: 30) == 0)
            let spans = try LiveBrokerTests.spans(in: output)
            #expect(!spans.isEmpty, "the 20 kept messages became spans")
            print("live: dead agent, queue max-length 20: broker held \(held) of \(truth.publishes + truth.deliveries) trace messages; the next agent wrote \(spans.count) spans")
        }

        @Test("a slow collector: prefetch bounds what the agent holds, the backlog waits in the broker, memory stays bounded, nothing is lost")
        func slowCollectorBackpressure() throws {
            let receiver = try Receiver(["--delay", "1.5"])
            defer { receiver.stop() }
            let queue = "tb-it-slow-\(UUID().uuidString.prefix(8))"
            let agent = try BackgroundProcess(CLI.executable, [
                "run", "--amqp-url", LiveBrokerTests.amqpURL, "--mode", "firehose", "--queue", queue, "--queue-expires", "300",
                "--otlp-protocol", "http/protobuf", "--otlp-endpoint", "http://127.0.0.1:\(receiver.httpPort)",
                "--prefetch", "10", "--export-batch-size", "5", "--export-max-in-flight", "1", "--export-delay", "0.1",
            ] + LiveBrokerTests.notificationConsumer)
            defer { agent.cleanUp() }
            try waitUntil("the agent to connect", timeout: 30) { agent.stderr.contains("trace-bridge: connected") }
            var truths: [ScenarioTruth] = []
            var peakRSS = 0, peakUnacknowledged = 0, peakReady = 0
            for _ in 0..<2 {
                truths.append(try LiveBrokerTests.runScenario())
                peakRSS = max(peakRSS, Export.residentKiB(agent.process.processIdentifier))
                peakUnacknowledged = max(peakUnacknowledged, try LiveBrokerTests.queueField(queue, "messages_unacknowledged"))
                peakReady = max(peakReady, try LiveBrokerTests.queueField(queue, "messages_ready"))
            }
            let operations = truths.flatMap(\.operations)
            try waitUntil("every operation's spans at the slow collector", timeout: 180) {
                peakUnacknowledged = max(peakUnacknowledged, try LiveBrokerTests.queueField(queue, "messages_unacknowledged"))
                peakReady = max(peakReady, try LiveBrokerTests.queueField(queue, "messages_ready"))
                peakRSS = max(peakRSS, Export.residentKiB(agent.process.processIdentifier))
                return operations.allSatisfy { receiver.acceptedMessageIDs.contains($0.uniqueID) }
            }
            #expect(peakUnacknowledged <= 10, "prefetch bounds what the agent holds: \(peakUnacknowledged)")
            #expect(peakReady > 0, "the backlog waits in the broker's queue")
            // The product's bound is 64 MiB; under `make sanitize` the sanitizer's own shadow memory comes on top.
            let bound = ProcessInfo.processInfo.environment["TRACE_BRIDGE_SANITIZER"] == nil ? 64 * 1024 : 256 * 1024
            #expect(peakRSS < bound, "RSS \(peakRSS / 1024) MiB")
            agent.signal(SIGTERM)
            #expect(try agent.wait(timeout: 30) == 0)
            print("live: slow collector (1.5 s per export): \(operations.count) operations all received; at most \(peakUnacknowledged) unacknowledged (prefetch 10), \(peakReady) waiting in the broker; agent RSS \(peakRSS / 1024) MiB")
        }
    }
}

extension LiveBrokerTests.Faults {
    @Test("correlation state flooded with calls that never get a reply: bounded, evictions counted, evicted calls end as timeouts")
    func correlationFlood() throws {
        let output = LiveBrokerTests.temporaryFile("flood.jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let agent = try LiveBrokerTests.startAgent(
            queue: "tb-it-flood-\(UUID().uuidString.prefix(8))", output: output,
            extra: ["--mode", "publish-only", "--correlation-capacity", "100"])
        defer { agent.cleanUp() }
        let base = try LiveBrokerTests.Operations.httpBase(of: agent)
        // 300 oslo.messaging calls nobody answers, through a real broker: published by py-amqp to an exchange of
        // their own (nothing is bound to it: the broker drops them, the firehose still shows each publish).
        let script = """
            import amqp, json, sys, uuid
            connection = amqp.Connection(sys.argv[1]); connection.connect(); channel = connection.channel()
            channel.exchange_declare("tb-flood", "topic", durable=False, auto_delete=True)
            for n in range(300):
                inner = {"method": "object_action", "args": {}, "_msg_id": uuid.uuid4().hex, "_reply_q": "reply_flood",
                         "_unique_id": uuid.uuid4().hex, "_context_request_id": "req-" + str(uuid.uuid4()),
                         "_timeout": None, "version": "3.0"}
                body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
                channel.basic_publish(amqp.Message(body, content_type="application/json", expiration="3600000"),
                                      exchange="tb-flood", routing_key="conductor")
            connection.close()
            """
        let hostPart = LiveBrokerTests.amqpURL.dropFirst("amqp://".count).split(separator: "@").last.map(String.init) ?? ""
        let publisher = try BackgroundProcess(LiveBrokerTests.scenarioPython, ["-c", script, String(hostPart.split(separator: "/").first ?? "")])
        defer { publisher.cleanUp() }
        #expect(try publisher.wait(timeout: 60) == 0, "\(publisher.stderr)")
        var metrics: [String: Double] = [:]
        try waitUntil("the agent to count the evictions", timeout: 30) {
            metrics = LiveBrokerTests.Operations.samples(try httpGet(base + "/metrics").body)
            return (metrics["trace_bridge_correlation_evictions_total{table=\"calls\"}"] ?? 0) >= 200
        }
        let entries = metrics["trace_bridge_correlation_entries"] ?? -1
        // publishes, calls, requests: at most 100 each; deliveries: 200.
        #expect(entries >= 0 && entries <= 500, "correlation entries stay bounded: \(entries)")
        #expect((metrics["trace_bridge_calls_timed_out_total"] ?? 0) >= 200, "an evicted call ends as a timeout")
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0)
        let clients = try LiveBrokerTests.spans(in: output).filter { $0.kind == 3 }
        #expect(clients.count >= 200 && clients.allSatisfy { $0.statusCode == 2 }, "evicted calls are CLIENT spans with ERROR status")
        print("live: 300 unanswered calls, capacity 100: \(Int(metrics["trace_bridge_correlation_evictions_total{table=\"calls\"}"] ?? 0)) calls evicted, \(Int(entries)) correlation entries held, \(clients.count) CLIENT spans closed as timeouts")
    }
}
