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
    @Suite("Faults: a dead agent, a slow collector")
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
