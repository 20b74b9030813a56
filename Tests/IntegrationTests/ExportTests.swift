import Foundation
import TestSupport
import TraceCore
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

    /// Every accepted span as the official bindings decoded it, in the same form as `DecodedSpan.identity`.
    var acceptedSpanIdentities: [String] {
        records.flatMap { record in
            (record["spans"] as? [[String: Any]] ?? []).map { span in
                [span["trace_id"] as? String ?? "", span["span_id"] as? String ?? "", span["parent_span_id"] as? String ?? "-",
                 String(span["kind"] as? Int ?? 0), span["name"] as? String ?? "", span["service"] as? String ?? "",
                 span["host"] as? String ?? "-", String(span["status_code"] as? Int ?? 0)].joined(separator: " ")
            }
        }
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

    /// Its records are flushed line by line, so SIGKILL loses nothing (its own SIGTERM path waits for grpcio).
    func stop() {
        process.cleanUp()
        try? FileManager.default.removeItem(at: out)
    }
}

extension LiveBrokerTests {
    /// Nested in the live suite so that it is serialized with the broker restarts there.
    @Suite("OTLP export to an independent receiver")
    struct Export {
        /// The spans `replay` derives from a capture, as OTLP/JSON read back independently.
        static func expectedSpans(_ fixture: String) throws -> [DecodedSpan] {
            let result = try CLI.run(["replay", Repository.fixture("\(fixture).jsonl").path, "--format", "otlp-json", "--quiet"])
            return try decodeOTLPJSONLines(result.stdout)
        }

        static func expectedSpanIDs(_ fixture: String) throws -> [String] { try expectedSpans(fixture).map(\.spanID) }

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
            let expected = try Self.expectedSpans("a_boot") + Self.expectedSpans("e_otel")
            // Field by field: trace, span and parent IDs, kind, name, service, host and status, as the bindings decoded them.
            #expect(receiver.acceptedSpanIdentities.sorted() == expected.map(\.identity).sorted(), "every span exactly once, intact")
            let accepted = receiver.records.filter { $0["spans"] != nil }
            #expect(!accepted.isEmpty && accepted.allSatisfy { ($0["headers"] as? [String: String])?["x-scope-orgid"] == "tenant-7" })
            if transportProtocol == "http/protobuf" { #expect(accepted.allSatisfy { $0["compressed"] as? Bool == true }) }
            #expect(!receiver.records.contains { $0["rejected"] != nil }, "nothing the official bindings reject")
            // The semantic-conventions version, on ResourceSpans and ScopeSpans, as the official bindings read it.
            let schemaURLs = Set(accepted.flatMap { ($0["spans"] as? [[String: Any]] ?? []).compactMap { $0["schema_urls"] as? [String] } })
            #expect(schemaURLs == [[TraceBridgeScope.schemaURL, TraceBridgeScope.schemaURL]], "schema_url: \(schemaURLs)")
        }

        @Test("TLS is verified by default: the test CA is trusted, a wrong CA is refused with a clear error, mTLS works",
              arguments: ["grpc", "http/protobuf"])
        func tls(transportProtocol: String) throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-ca-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let log = directory.appendingPathComponent("make_test_ca.log")
            let status = try runToCompletion("/bin/bash", [Repository.root.appendingPathComponent("tools/make_test_ca.sh").path, directory.path],
                                             log: log, timeout: 60)
            try #require(status == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

            let receiver = try Receiver(["--tls-cert", file("server.pem"), "--tls-key", file("server.key"), "--tls-client-ca", file("ca.pem")])
            defer { receiver.stop() }
            let port = transportProtocol == "grpc" ? receiver.grpcPort : receiver.httpPort
            let base = ["replay", Repository.fixture("c_fanout.jsonl").path, "--format", "otlp", "--otlp-protocol", transportProtocol,
                        "--otlp-endpoint", "https://localhost:\(port)", "--export-grace", "3"]
            let mutual = ["--otlp-client-certificate", file("client.pem"), "--otlp-client-key", file("client.key")]

            let trusted = try CLI.run(base + ["--otlp-certificate", file("ca.pem")] + mutual)
            #expect(trusted.status == 0, "\(trusted.stderr)")
            #expect(receiver.records.contains { $0["tls"] as? Bool == true && $0["client_cn"] as? String == "trace-bridge-test-client" })
            #expect(receiver.acceptedSpanIDs.count == 9)

            let wrongCA = try CLI.run(base + ["--otlp-certificate", file("other-ca.pem")] + mutual)
            #expect(wrongCA.status == 69, "nothing is exported to a collector we cannot verify")
            // HTTP names the cause; grpc-swift's transport only reports the connection as unavailable.
            let why = transportProtocol == "grpc" ? "UNAVAILABLE" : "CERTIFICATE_VERIFY_FAILED"
            #expect(wrongCA.stderr.contains(why), "the error says why: \(wrongCA.stderr)")

            let noClientCertificate = try CLI.run(base + ["--otlp-certificate", file("ca.pem")])
            #expect(noClientCertificate.status == 69, "the collector requires our certificate")
            #expect(receiver.acceptedSpanIDs.count == 9, "only the verified, authenticated export arrived")
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

        @Test("live: collector down for 60 s while traffic flows: deliveries wait unacknowledged, memory stays bounded, every span arrives")
        func outage() throws {
            let receiver = try Receiver()
            defer { receiver.stop() }
            try receiver.control("/fail?n=1000000&status=503&retry_after=0.5")
            let queue = "tb-it-export-\(UUID().uuidString.prefix(8))"
            let agent = try BackgroundProcess(CLI.executable, [
                "run", "--amqp-url", LiveBrokerTests.amqpURL, "--mode", "firehose", "--queue", queue, "--queue-expires", "300",
                "--otlp-protocol", "http/protobuf", "--otlp-endpoint", "http://127.0.0.1:\(receiver.httpPort)",
                "--export-delay", "0.2",
            ] + LiveBrokerTests.notificationConsumer)
            defer { agent.cleanUp() }
            try waitUntil("the agent to connect", timeout: 30) { agent.stderr.contains("trace-bridge: connected") }

            // 60 s of outage with the scenario running again and again, sampling the agent's memory.
            let outageStart = Date()
            var truths: [ScenarioTruth] = []
            var peakRSS = 0, unackedDuringOutage = 0
            while Date().timeIntervalSince(outageStart) < 60 {
                truths.append(try LiveBrokerTests.runScenario())
                peakRSS = max(peakRSS, Self.residentKiB(agent.process.processIdentifier))
                unackedDuringOutage = max(unackedDuringOutage, try Self.unacknowledged(queue))
            }
            #expect(receiver.acceptedMessageIDs.isEmpty, "the collector accepted nothing during the outage")
            #expect(agent.stderr.contains("collector export failing"))
            #expect(unackedDuringOutage > 0, "backpressure reaches the broker")
            let operations = truths.flatMap(\.operations)
            try receiver.control("/fail?n=0")
            let recovery = try waitUntil("every span of the outage at the collector", timeout: 120) {
                operations.allSatisfy { receiver.acceptedMessageIDs.contains($0.uniqueID) }
            }
            try waitUntil("the backlog to be acknowledged", timeout: 30) { try Self.unacknowledged(queue) == 0 }
            agent.signal(SIGTERM)
            #expect(try agent.wait(timeout: 30) == 0)
            let sent = operations.count
            let received = operations.filter { receiver.acceptedMessageIDs.contains($0.uniqueID) }.count
            print("export: 60 s outage, \(truths.count) scenario runs, \(sent) operations sent, \(received) received after recovery (\(String(format: "%.1f", recovery)) s); at most \(unackedDuringOutage) deliveries held unacknowledged; agent peak RSS \(peakRSS / 1024) MiB")
            #expect(received == sent)
            #expect(peakRSS < 256 * 1024, "memory stays bounded")
            #expect(agent.stderr.contains("collector export recovered") && agent.stderr.contains("spans_dropped=0"))
        }

        static func residentKiB(_ pid: Int32) -> Int {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
            return 0
        }

        /// `messages_unacknowledged` of a queue, from rabbitmqctl.
        static func unacknowledged(_ queue: String) throws -> Int {
            try LiveBrokerTests.queueField(queue, "messages_unacknowledged")
        }
    }
}
