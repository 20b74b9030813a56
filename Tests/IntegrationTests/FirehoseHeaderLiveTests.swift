import Foundation
import TestSupport
import Testing

extension LiveBrokerTests {
    /// A broker that stops sending `routed_queues`: the running agent counts it on /metrics, says so on /readyz
    /// (still ready) and logs it once. The firehose itself cannot be told to drop a header, so the test publishes a
    /// shipped capture's trace messages without it through an exchange of its own, which the agent binds as it would
    /// `amq.rabbitmq.trace` (trace routing keys and headers are read the same from any exchange, as the benchmarks do).
    @Suite("Live: a firehose header missing is counted on /metrics, shown on /readyz and logged once")
    struct FirehoseHeaderLive {
        @Test("trace messages without routed_queues: counted per message, a degraded line on /readyz, one log line")
        func missingRoutedQueues() throws {
            let exchange = "tb-it-headers-\(UUID().uuidString.prefix(8))"
            let script = """
                import amqp, base64, json, sys
                connection = amqp.Connection(sys.argv[1]); connection.connect(); channel = connection.channel()
                channel.exchange_declare(sys.argv[2], "topic", durable=False, auto_delete=True)
                sent = 0
                for line in open(sys.argv[3]) if len(sys.argv) > 3 else []:
                    record = json.loads(line)
                    if not record["routing_key"].startswith("publish."):
                        continue
                    headers = dict(record["headers"]); headers.pop("routed_queues", None)
                    channel.basic_publish(amqp.Message(base64.b64decode(record["body_b64"]), application_headers=headers),
                                          exchange=sys.argv[2], routing_key=record["routing_key"])
                    sent += 1
                print(sent)
                connection.close()
                """
            let hostPart = LiveBrokerTests.amqpURL.dropFirst("amqp://".count).split(separator: "@").last.map(String.init) ?? ""
            let broker = String(hostPart.split(separator: "/").first ?? "")
            // The exchange first (the agent's bind needs it), then the agent, then the messages.
            let declare = try BackgroundProcess(LiveBrokerTests.scenarioPython, ["-c", script, broker, exchange])
            defer { declare.cleanUp() }
            #expect(try declare.wait(timeout: 60) == 0, "\(declare.stderr)")
            let agent = try BackgroundProcess(CLI.executable, [
                "run", "--amqp-url", LiveBrokerTests.amqpURL, "--format", "otlp-json", "--output", "/dev/null",
                "--queue", exchange, "--queue-expires", "300", "--bind", "\(exchange):#",
            ])
            defer { agent.cleanUp() }
            try waitUntil("the agent to connect", timeout: 30) {
                guard agent.process.isRunning else { throw TestSetupError("the agent exited: \(agent.stderr)") }
                return agent.stderr.contains("trace-bridge: connected")
            }
            let base = try LiveBrokerTests.Operations.httpBase(of: agent)
            let publisher = try BackgroundProcess(LiveBrokerTests.scenarioPython, [
                "-c", script, broker, exchange, Repository.fixture("a_boot.jsonl").path,
            ])
            defer { publisher.cleanUp() }
            #expect(try publisher.wait(timeout: 60) == 0, "\(publisher.stderr)")
            let sent = Int(publisher.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(sent > 10)
            var metrics: [String: Double] = [:]
            try waitUntil("the agent to count every message without routed_queues", timeout: 30) {
                metrics = LiveBrokerTests.Operations.samples(try httpGet(base + "/metrics").body)
                return Int(metrics["trace_bridge_firehose_header_missing_total{header=\"routed_queues\"}"] ?? 0) == sent
            }
            #expect(metrics["trace_bridge_firehose_header_missing_total{header=\"connection\"}"] == 0,
                    "the other headers were there: \(metrics.filter { $0.key.contains("header_missing") })")
            let ready = try httpGet(base + "/readyz")
            #expect(ready.status == 200 && ready.body.hasPrefix("ready\n"), "a missing header does not make it unready: \(ready.body)")
            #expect(ready.body.contains("degraded: firehose header routed_queues missing from \(sent) trace messages"), "\(ready.body)")
            agent.signal(SIGTERM)
            #expect(try agent.wait(timeout: 30) == 0)
            let warnings = agent.stderr.split(separator: "\n").filter { $0.contains("firehose header missing") }
            #expect(warnings.count == 1 && warnings[0].contains("header=routed_queues"), "logged once: \(warnings)")
            print("live: \(sent) trace messages without routed_queues: /metrics counted \(sent), /readyz: \(ready.body.split(separator: "\n").dropFirst().first ?? ""), \(warnings.count) log line")
        }
    }
}
