import Foundation
import TestSupport
import Testing

/// tools/otlp_receiver.py: an OTLP receiver (gRPC and HTTP) on the official OpenTelemetry bindings, with fault
/// injection, run as a child process.
final class Receiver {
    let process: BackgroundProcess
    let out: URL
    let grpcPort: Int
    let httpPort: Int
    let controlPort: Int

    init(_ arguments: [String] = []) throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("tb-receiver-\(UUID().uuidString.prefix(8)).jsonl")
        process = try BackgroundProcess(CLI.pythonExecutable, [
            Repository.root.appendingPathComponent("tools/otlp_receiver.py").path, "--out", out.path, "--control-port", "0",
        ] + arguments)
        var ports: [String: Any] = [:]
        try waitUntil("the OTLP receiver to listen", timeout: 30) { [process] in
            guard process.process.isRunning else { throw TestSetupError("the receiver exited: \(process.stderr)") }
            guard let line = process.stdout.split(separator: "\n").first,
                let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return false }
            ports = json
            return true
        }
        grpcPort = ports["grpc_port"] as? Int ?? 0
        httpPort = ports["http_port"] as? Int ?? 0
        controlPort = ports["control_port"] as? Int ?? 0
    }

    /// Every line the receiver wrote: accepted requests, failures it injected, rejections.
    var records: [[String: Any]] {
        ((try? String(contentsOf: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    var acceptedSpanIDs: [String] {
        records.flatMap { ($0["spans"] as? [[String: Any]] ?? []).compactMap { $0["span_id"] as? String } }
    }

    var acceptedMessageIDs: Set<String> {
        Set(records.flatMap { ($0["spans"] as? [[String: Any]] ?? []).compactMap { $0["message_id"] as? String } })
    }

    /// `POST /fail?n=N&status=S&retry_after=R` etc. on the control port.
    func control(_ pathAndQuery: String) throws {
        let script = "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:\(controlPort)\(pathAndQuery)', method='POST')).read()"
        let result = try CLI.python(["-c", script])
        guard result.status == 0 else { throw TestSetupError("receiver control \(pathAndQuery): \(result.stderr)") }
    }

    func stop() {
        process.signal(SIGTERM)
        _ = try? process.wait(timeout: 10)
        process.cleanUp()
        try? FileManager.default.removeItem(at: out)
    }
}

@Suite("OTLP export to an independent receiver", .serialized)
struct ExportTests {
    /// The spans `replay` derives from a capture, as OTLP/JSON read back independently.
    static func expectedSpanIDs(_ fixture: String) throws -> [String] {
        let result = try CLI.run(["replay", Repository.fixture("\(fixture).jsonl").path, "--format", "otlp-json", "--quiet"])
        return try decodeOTLPJSONLines(result.stdout).map(\.spanID)
    }

    @Test("replay --format otlp reaches the official bindings span for span, over gRPC, HTTP/protobuf (gzip) and HTTP/JSON",
          arguments: ["grpc", "http/protobuf", "http/json"])
    func everyProtocol(transportProtocol: String) throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let endpoint = transportProtocol == "grpc" ? "http://127.0.0.1:\(receiver.grpcPort)" : "http://127.0.0.1:\(receiver.httpPort)"
        for fixture in ["a_boot", "e_otel"] {
            let result = try CLI.run(["replay", Repository.fixture("\(fixture).jsonl").path, "--format", "otlp",
                                      "--otlp-protocol", transportProtocol, "--otlp-endpoint", endpoint,
                                      "--otlp-compression", transportProtocol == "http/protobuf" ? "gzip" : "none",
                                      "--otlp-header", "x-scope-orgid=tenant-7"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("0 retries, 0 rejected, 0 dropped"))
        }
        let expected = try Self.expectedSpanIDs("a_boot") + Self.expectedSpanIDs("e_otel")
        #expect(receiver.acceptedSpanIDs.sorted() == expected.sorted(), "every span exactly once")
        let accepted = receiver.records.filter { $0["spans"] != nil }
        #expect(!accepted.isEmpty && accepted.allSatisfy { ($0["headers"] as? [String: String])?["x-scope-orgid"] == "tenant-7" })
        if transportProtocol == "http/protobuf" { #expect(accepted.allSatisfy { $0["compressed"] as? Bool == true }) }
        #expect(!receiver.records.contains { $0["rejected"] != nil }, "nothing the official bindings reject")
    }

    @Test("retryable failures are retried until accepted, honouring Retry-After and RetryInfo", arguments: ["grpc", "http/protobuf"])
    func retries(transportProtocol: String) throws {
        let receiver = try Receiver(["--fail", "2", "--retry-after", "1"])
        defer { receiver.stop() }
        let endpoint = transportProtocol == "grpc" ? "http://127.0.0.1:\(receiver.grpcPort)" : "http://127.0.0.1:\(receiver.httpPort)"
        let started = Date()
        let result = try CLI.run(["replay", Repository.fixture("b_failure.jsonl").path, "--format", "otlp",
                                  "--otlp-protocol", transportProtocol, "--otlp-endpoint", endpoint])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("2 retries, 0 rejected, 0 dropped"))
        #expect(result.stderr.contains("collector export failing, retrying") && result.stderr.contains("collector export recovered"))
        #expect(elapsed >= 2, "waited the collector's 1 s hint twice")
        #expect(receiver.records.filter { $0["failed"] != nil }.count == 2)
        #expect(receiver.acceptedSpanIDs.sorted() == (try Self.expectedSpanIDs("b_failure")).sorted())
    }

    @Test("a permanent error drops the batch on purpose, counted, and replay exits 69")
    func permanent() throws {
        let receiver = try Receiver(["--fail", "1", "--fail-status", "400"])
        defer { receiver.stop() }
        let result = try CLI.run(["replay", Repository.fixture("c_fanout.jsonl").path, "--format", "otlp",
                                  "--otlp-protocol", "http/protobuf", "--otlp-endpoint", "http://127.0.0.1:\(receiver.httpPort)"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("0 retries, 0 rejected, 9 dropped"))
        #expect(result.stderr.contains("dropped spans the collector will not accept"))
        #expect(receiver.records.count == 1, "not retried")
    }

    @Test("a partial success is logged and counted, never retried")
    func partialSuccess() throws {
        let receiver = try Receiver(["--partial-reject", "3"])
        defer { receiver.stop() }
        let result = try CLI.run(["replay", Repository.fixture("c_fanout.jsonl").path, "--format", "otlp",
                                  "--otlp-endpoint", "http://127.0.0.1:\(receiver.grpcPort)"])
        #expect(result.stderr.contains("0 retries, 3 rejected, 0 dropped"))
        #expect(result.stderr.contains("collector rejected part of a batch"))
        #expect(receiver.records.count == 1)
        #expect(result.status == 69, "not every span was accepted")
    }

    @Test("live: while the collector fails, deliveries stay unacknowledged in the broker; after it recovers nothing is lost")
    func backpressure() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        try receiver.control("/fail?n=100000&status=503&retry_after=0.5")
        let queue = "tb-it-export-\(UUID().uuidString.prefix(8))"
        let agent = try BackgroundProcess(CLI.executable, [
            "run", "--amqp-url", LiveBrokerTests.amqpURL, "--queue", queue, "--queue-expires", "300",
            "--otlp-protocol", "http/protobuf", "--otlp-endpoint", "http://127.0.0.1:\(receiver.httpPort)",
            "--export-delay", "0.2",
        ] + LiveBrokerTests.notificationConsumer)
        defer { agent.cleanUp() }
        try waitUntil("the agent to connect", timeout: 30) { agent.stderr.contains("trace-bridge: connected") }
        let truth = try LiveBrokerTests.runScenario()
        try waitUntil("the collector to refuse some exports", timeout: 30) { agent.stderr.contains("collector export failing") }
        let unacked = try Self.unacknowledged(queue)
        print("export: \(unacked) deliveries held unacknowledged while the collector failed")
        #expect(unacked > 0, "backpressure reaches the broker")
        #expect(receiver.acceptedMessageIDs.isEmpty)

        try receiver.control("/fail?n=0")
        try waitUntil("every operation's spans at the collector after it recovered", timeout: 60) {
            truth.operations.allSatisfy { receiver.acceptedMessageIDs.contains($0.uniqueID) }
        }
        try waitUntil("the backlog to be acknowledged", timeout: 30) { try Self.unacknowledged(queue) == 0 }
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0)
        #expect(agent.stderr.contains("collector export recovered"))
        #expect(agent.stderr.contains("spans_dropped=0"))
    }

    /// `messages_unacknowledged` of a queue, from rabbitmqctl.
    static func unacknowledged(_ queue: String) throws -> Int {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-list-queues-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: log) }
        _ = try runToCompletion(
            "/bin/bash", [Repository.root.appendingPathComponent("tools/broker.sh").path, "ctl", "list_queues", "-q",
                          "name", "messages_unacknowledged"],
            environment: ["TB_BROKER_DIR": Repository.root.appendingPathComponent(".broker").path], log: log, timeout: 60)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) ?? 0 }
        }
        throw TestSetupError("queue \(queue) not listed: \(text)")
    }
}
