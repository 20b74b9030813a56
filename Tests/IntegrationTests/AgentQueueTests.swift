import Foundation
import TestSupport
import Testing

extension LiveBrokerTests {
    /// `rabbitmqctl` against the test broker (tools/broker.sh ctl); its standard output.
    static func ctl(_ arguments: [String]) throws -> String {
        let log = temporaryFile("ctl")
        defer { try? FileManager.default.removeItem(at: log) }
        let status = try runToCompletion(
            "/bin/bash", [Repository.root.appendingPathComponent("tools/broker.sh").path, "ctl"] + arguments,
            environment: ["TB_BROKER_DIR": Repository.root.appendingPathComponent(".broker").path], log: log, timeout: 60)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestSetupError("rabbitmqctl \(arguments.joined(separator: " ")) failed (\(status)): \(text)") }
        return text
    }

    /// One row of `rabbitmqctl list_queues -q --formatter json`, for `queue`.
    static func listedQueue(_ queue: String) throws -> [String: Any] {
        let text = try ctl(["list_queues", "-q", "--formatter", "json", "name", "durable", "exclusive", "auto_delete",
                            "arguments", "type"])
        let rows = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        guard let row = rows.first(where: { $0["name"] as? String == queue }) else {
            throw TestSetupError("queue \(queue) not listed: \(text)")
        }
        return row
    }

    /// The queue's declared arguments, flattened (`rabbitmqctl` 3.10 prints them as `[[key, type, value], ...]`).
    static func queueArguments(_ row: [String: Any]) -> [String: String] {
        var arguments: [String: String] = [:]
        for entry in row["arguments"] as? [[Any]] ?? [] where entry.count >= 2 {
            arguments["\(entry[0])"] = "\(entry[entry.count - 1])"
        }
        return arguments
    }

    /// Declares a queue the way trace-bridge 0.x did (non-durable, non-exclusive, the bounds, no x-expires).
    static func declareOldQueue(_ queue: String) throws {
        let script = """
            import amqp, sys
            connection = amqp.Connection(sys.argv[1]); connection.connect(); channel = connection.channel()
            channel.queue_declare(sys.argv[2], durable=False, exclusive=False, auto_delete=False,
                                  arguments={"x-max-length": 100000, "x-overflow": "drop-head", "x-message-ttl": 600000})
            connection.close()
            """
        let hostPart = amqpURL.dropFirst("amqp://".count).split(separator: "@").last.map(String.init) ?? ""
        let python = try BackgroundProcess(scenarioPython, ["-c", script, String(hostPart.split(separator: "/").first ?? ""), queue])
        defer { python.cleanUp() }
        guard try python.wait(timeout: 60) == 0 else { throw TestSetupError("declaring \(queue) failed: \(python.stderr)") }
    }

    /// The agent's own queue on a broker configured like RabbitMQ 4.3 as far as 3.10 can show it: durable (never
    /// transient non-exclusive), bounded, expiring, consumed without global QoS; and an older agent's transient queue
    /// stops it with a clear error instead of a reconnect loop.
    @Suite("The agent's queue: durable by default, quorum as an option, an old transient queue refused clearly")
    struct AgentQueue {
        static func start(_ queue: String, _ extra: [String] = []) throws -> BackgroundProcess {
            let agent = try BackgroundProcess(CLI.executable, [
                "run", "--amqp-url", LiveBrokerTests.amqpURL, "--format", "otlp-json", "--output", "/dev/null",
                "--mode", "publish-only", "--queue", queue,
            ] + extra)
            try waitUntil("the agent to connect (\(queue))", timeout: 30) {
                guard agent.process.isRunning else { throw TestSetupError("the agent exited: \(agent.stderr)") }
                return agent.stderr.contains("trace-bridge: connected")
            }
            return agent
        }

        static func delete(_ queue: String) {
            _ = try? LiveBrokerTests.ctl(["delete_queue", queue, "-p", "/"])
        }

        @Test("default: a durable classic queue, not exclusive, with x-expires 30 min and the bounds; basic.qos per consumer, not global")
        func classicDefault() throws {
            let queue = "tb-it-queue-classic-\(UUID().uuidString.prefix(8))"
            defer { Self.delete(queue) }
            let agent = try Self.start(queue)
            defer { agent.cleanUp() }
            let row = try LiveBrokerTests.listedQueue(queue)
            #expect(row["durable"] as? Bool == true && row["exclusive"] as? Bool != true && row["auto_delete"] as? Bool == false,
                    "\(row)")
            #expect(row["type"] as? String == "classic")
            let arguments = LiveBrokerTests.queueArguments(row)
            #expect(arguments == ["x-max-length": "100000", "x-overflow": "drop-head", "x-message-ttl": "600000",
                                  "x-expires": "1800000", "x-queue-type": "classic"], "\(row)")
            // RabbitMQ 4.3 denies global QoS: the agent's consumer channel has a per-consumer prefetch only.
            let consumers = try LiveBrokerTests.ctl(["list_consumers", "-q", "queue_name", "channel_pid", "prefetch_count"])
            let consumer = try #require(consumers.split(separator: "\n").map { $0.split(separator: "\t") }
                .first { $0.first.map(String.init) == queue }, "\(consumers)")
            #expect(consumer.last == "1000", "per-consumer prefetch 1000: \(consumer)")
            let channels = try LiveBrokerTests.ctl(["list_channels", "-q", "pid", "prefetch_count", "global_prefetch_count"])
            let channel = try #require(channels.split(separator: "\n").map { $0.split(separator: "\t") }
                .first { $0.first == consumer[1] }, "\(channels)")
            #expect(channel.last == "0", "no global prefetch on the agent's channel: \(channel)")
            agent.signal(SIGTERM)
            #expect(try agent.wait(timeout: 30) == 0)
            print("live: agent queue \(queue): durable classic, arguments \(arguments.sorted { $0.key < $1.key }), consumer prefetch \(consumer.last!), channel global prefetch \(channel.last!)")
        }

        @Test("--queue-type quorum: a durable quorum queue with the same bounds")
        func quorum() throws {
            let queue = "tb-it-queue-quorum-\(UUID().uuidString.prefix(8))"
            defer { Self.delete(queue) }
            let agent = try Self.start(queue, ["--queue-type", "quorum", "--queue-expires", "300"])
            defer { agent.cleanUp() }
            let row = try LiveBrokerTests.listedQueue(queue)
            #expect(row["type"] as? String == "quorum" && row["durable"] as? Bool == true, "\(row)")
            #expect(LiveBrokerTests.queueArguments(row) == [
                "x-max-length": "100000", "x-overflow": "drop-head", "x-message-ttl": "600000", "x-expires": "300000",
                "x-queue-type": "quorum",
            ], "\(row)")
            agent.signal(SIGTERM)
            #expect(try agent.wait(timeout: 30) == 0)
        }

        @Test("an older agent's transient queue of the same name: exit 76 within seconds, naming the queue, the argument and the fix; no reconnect loop")
        func oldTransientQueueIsRefusedClearly() throws {
            let queue = "tb-it-queue-old-\(UUID().uuidString.prefix(8))"
            defer { Self.delete(queue) }
            try LiveBrokerTests.declareOldQueue(queue)
            let started = Date()
            let agent = try BackgroundProcess(CLI.executable, [
                "run", "--amqp-url", LiveBrokerTests.amqpURL, "--format", "otlp-json", "--output", "/dev/null",
                "--mode", "publish-only", "--queue", queue,
            ])
            defer { agent.cleanUp() }
            let status = try agent.wait(timeout: 15)
            let elapsed = Date().timeIntervalSince(started)
            let log = agent.stderr
            #expect(status == 76, "\(log)")
            #expect(elapsed < 10, "it stops at once, not after retries: \(elapsed) s")
            #expect(log.contains("inequivalent arg 'durable'") && log.contains("'\(queue)'"), "\(log)")
            #expect(log.contains("rabbitmqctl delete_queue \(queue) -p /"), "the fix: \(log)")
            #expect(log.contains("--queue-type transient"), "the way to keep it: \(log)")
            #expect(!log.contains("retrying") && !log.contains("trace-bridge: connected"), "no reconnect loop: \(log)")
            // The old queue is left as it was.
            #expect(try LiveBrokerTests.listedQueue(queue)["durable"] as? Bool == false)

            // Keeping it on RabbitMQ before 4.3: --queue-type transient declares exactly the old queue.
            let keeper = try Self.start(queue, ["--queue-type", "transient"])
            defer { keeper.cleanUp() }
            keeper.signal(SIGTERM)
            #expect(try keeper.wait(timeout: 30) == 0)
            print("live: an old transient queue: the agent exited \(status) after \(String(format: "%.1f", elapsed)) s with: \(log.split(separator: "\n").first { $0.contains("refused") } ?? "")")
        }
    }
}
