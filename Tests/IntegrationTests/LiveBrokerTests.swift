import Foundation
import TestSupport
import Testing
import TraceCore

/// The live agent against a real RabbitMQ node (tools/broker.sh, started by `make test`) and real oslo.messaging
/// RPC in separate processes (tools/scenario/driver.py), which records its own ground truth.
///
/// `TRACE_BRIDGE_TEST_AMQP_URL` may point the tests at another broker; the restart test always restarts the
/// private node through tools/broker.sh. Nothing here is skipped: a missing broker or venv is a failure.
@Suite("Live: real RabbitMQ and real oslo.messaging", .serialized)
struct LiveBrokerTests {
    static let amqpURL = ProcessInfo.processInfo.environment["TRACE_BRIDGE_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/"
    /// oslo.messaging's transport URL for the same broker.
    static var transportURL: String { "rabbit://" + amqpURL.dropFirst("amqp://".count) }
    static let notificationConsumer = ["--service-map", "notifications=ceilometer-agent-notification"]

    static var scenarioPython: URL {
        if let path = ProcessInfo.processInfo.environment["TRACE_BRIDGE_SCENARIO_PYTHON"] { return URL(fileURLWithPath: path) }
        return Repository.root.appendingPathComponent(".venv-scenario/bin/python")
    }

    /// Starts `trace-bridge run` writing OTLP/JSON, on a queue of its own; returns once it is consuming. The full
    /// firehose unless `extra` names a mode: these tests compare every span with the truth.
    static func startAgent(queue: String, output: URL, extra: [String] = [], url: String = amqpURL) throws -> BackgroundProcess {
        let agent = try BackgroundProcess(CLI.executable, [
            "run", "--amqp-url", url, "--format", "otlp-json", "--output", output.path, "--queue", queue,
            "--queue-expires", "300",
        ] + notificationConsumer + (extra.contains("--mode") ? [] : ["--mode", "firehose"]) + extra)
        try waitUntil("the agent to connect (\(queue))", timeout: 30) {
            guard agent.process.isRunning else { throw TestSetupError("the agent exited: \(agent.stderr)") }
            return agent.stderr.contains("trace-bridge: connected")
        }
        return agent
    }

    /// Runs the scenario (about 5 s of real RPC) and returns its ground truth.
    static func runScenario(url: String = transportURL, driverArguments: [String] = []) throws -> ScenarioTruth {
        let truthFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-truth-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: truthFile) }
        guard FileManager.default.isExecutableFile(atPath: scenarioPython.path) else {
            throw TestSetupError("no scenario venv at \(scenarioPython.path): run `make test`")
        }
        let driver = try BackgroundProcess(scenarioPython, [
            Repository.root.appendingPathComponent("tools/scenario/driver.py").path, "--url", url,
            "--truth", truthFile.path,
        ] + driverArguments)
        defer { driver.cleanUp() }
        let status = try driver.wait(timeout: 90)
        guard status == 0 else { throw TestSetupError("the scenario driver failed (\(status)): \(driver.stderr.suffix(3000))") }
        return try ScenarioTruth(Data(contentsOf: truthFile))
    }

    static func spans(in file: URL) throws -> [DecodedSpan] {
        try decodeOTLPJSONLines((try? String(contentsOf: file, encoding: .utf8)) ?? "")
    }

    static func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(name)-\(UUID().uuidString.prefix(8))")
    }

    @Test("run = replay of a capture of the same traffic = the driver's truth; --mode publish-only beside it")
    func runCaptureReplayAndTruth() throws {
        let runOutput = Self.temporaryFile("run.jsonl"), captureFile = Self.temporaryFile("capture.jsonl")
        let replayOutput = Self.temporaryFile("replay.jsonl"), publishOnlyOutput = Self.temporaryFile("publish-only.jsonl")
        let publishOnlyReplay = Self.temporaryFile("publish-only-replay.jsonl")
        defer {
            for file in [runOutput, captureFile, replayOutput, publishOnlyOutput, publishOnlyReplay] {
                try? FileManager.default.removeItem(at: file)
            }
        }
        let suffix = UUID().uuidString.prefix(8)
        let agent = try Self.startAgent(queue: "tb-it-run-\(suffix)", output: runOutput)
        defer { agent.cleanUp() }
        let publishOnly = try Self.startAgent(
            queue: "tb-it-publish-only-\(suffix)", output: publishOnlyOutput, extra: ["--mode", "publish-only"])
        defer { publishOnly.cleanUp() }
        let capture = try BackgroundProcess(CLI.executable, [
            "capture", "--amqp-url", Self.amqpURL, "--mode", "firehose", "--output", captureFile.path, "--queue", "tb-it-capture-\(suffix)",
            "--queue-expires", "300",
        ])
        defer { capture.cleanUp() }
        try waitUntil("capture to connect", timeout: 30) { capture.stderr.contains("trace-bridge: connected") }

        let truth = try Self.runScenario()
        let expectedMessages = truth.publishes + truth.deliveries
        try waitUntil("capture to see the \(expectedMessages) firehose messages", timeout: 30) {
            ((try? String(contentsOf: captureFile, encoding: .utf8)) ?? "").split(separator: "\n").count >= expectedMessages
        }
        try waitUntil("the agent to write the spans of every operation", timeout: 30) {
            let spans = try Self.spans(in: runOutput)
            return truth.operations.allSatisfy { op in spans.contains { $0.messageID == op.uniqueID } }
        }
        try waitUntil("the publish-only agent to write the spans of every operation and every call", timeout: 30) {
            let spans = try Self.spans(in: publishOnlyOutput)
            return truth.operations.allSatisfy { op in
                spans.contains { $0.messageID == op.uniqueID && (op.kind != "call" || $0.kind == 3) }
            }
        }
        for process in [agent, capture, publishOnly] { process.signal(SIGTERM) }
        #expect(try publishOnly.wait(timeout: 30) == 0, "\(publishOnly.stderr)")
        #expect(try agent.wait(timeout: 30) == 0, "\(agent.stderr)")
        #expect(try capture.wait(timeout: 30) == 0, "\(capture.stderr)")
        #expect(agent.stderr.contains("trace-bridge: stopped"))

        let replay = try CLI.run(["replay", captureFile.path, "--format", "otlp-json", "--output", replayOutput.path] + Self.notificationConsumer)
        #expect(replay.status == 0, "\(replay.stderr)")
        let live = try Self.spans(in: runOutput), replayed = try Self.spans(in: replayOutput)
        #expect(!live.isEmpty)
        #expect(Set(live.map(\.identity)) == Set(replayed.map(\.identity)), "run and replay of the capture disagree")
        #expect(Set(live.map(\.spanID)).count == live.count, "every span written once")

        let report = truth.check(live)
        for problem in report.problems { Issue.record("\(problem)") }
        print("live fidelity: \(report.summary)")

        // publish-only: the broker sent it only publishes. Its CONSUMER and SERVER spans, inferred from routed_queues,
        // are the very spans the full firehose observed (same IDs, trace, parent, service; a SERVER then spans publish
        // to reply), a CLIENT per call, and the same PRODUCERs. Replaying the full capture with --mode publish-only
        // agrees with it.
        let reduced = try Self.spans(in: publishOnlyOutput)
        func byKind(_ spans: [DecodedSpan], _ kind: Int) -> [String: DecodedSpan] {
            Dictionary(spans.filter { $0.kind == kind }.map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
        }
        let observed = byKind(live, 5), inferred = byKind(reduced, 5)
        #expect(!inferred.isEmpty && inferred.values.allSatisfy { !$0.deliveryObserved })
        #expect(Set(inferred.keys) == Set(observed.keys), "publish-only infers exactly the deliveries the firehose saw")
        for (id, span) in inferred {
            guard let seen = observed[id] else { continue }
            #expect(span.traceID == seen.traceID && span.parentSpanID == seen.parentSpanID && span.service == seen.service,
                    "consumer \(span.name): \(span.service) vs \(seen.service)")
        }
        let servers = byKind(reduced, 2)
        #expect(Set(servers.keys) == Set(byKind(live, 2).keys) && servers.values.allSatisfy { !$0.deliveryObserved },
                "a SERVER per answered call, inferred")
        for (id, span) in servers {
            #expect(span.parentSpanID == byKind(live, 2)[id]?.parentSpanID && span.traceID == byKind(live, 2)[id]?.traceID,
                    "server \(span.name) links up the same")
        }
        #expect(Set(byKind(reduced, 3).keys) == Set(byKind(live, 3).keys), "a CLIENT span per call")
        #expect(Set(byKind(reduced, 4).values.map(\.identity)) == Set(byKind(live, 4).values.map(\.identity)))
        let modeReplay = try CLI.run(["replay", captureFile.path, "--mode", "publish-only", "--format", "otlp-json",
                                      "--output", publishOnlyReplay.path] + Self.notificationConsumer)
        #expect(modeReplay.status == 0, "\(modeReplay.stderr)")
        #expect(Set(try Self.spans(in: publishOnlyReplay).map(\.identity)) == Set(reduced.map(\.identity)),
                "replay --mode publish-only of the full capture = the live publish-only agent")
        print("live publish-only: \(inferred.count) CONSUMER spans inferred = the \(observed.count) the firehose observed")
    }

    @Test("a broker restart: the agent reconnects within 5 s of the broker being back and traces what follows")
    func reconnectsAfterBrokerRestart() throws {
        let output = Self.temporaryFile("restart.jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let agent = try Self.startAgent(queue: "tb-it-restart-\(UUID().uuidString.prefix(8))", output: output)
        defer { agent.cleanUp() }
        let brokerLog = Self.temporaryFile("broker.log")
        defer { try? FileManager.default.removeItem(at: brokerLog) }
        let status = try runToCompletion(
            "/bin/bash", [Repository.root.appendingPathComponent("tools/broker.sh").path, "restart"],
            environment: ["TB_BROKER_DIR": Repository.root.appendingPathComponent(".broker").path], log: brokerLog, timeout: 120)
        try #require(status == 0, "broker restart failed: \((try? String(contentsOf: brokerLog, encoding: .utf8)) ?? "")")
        let reconnect = try waitUntil("the agent to reconnect", timeout: 10) {
            agent.stderr.components(separatedBy: "trace-bridge: connected").count >= 3
        }
        print("live: reconnected \(String(format: "%.2f", reconnect)) s after the broker was back")
        #expect(reconnect < 5)
        #expect(agent.stderr.contains("broker unavailable, retrying"))
        let truth = try Self.runScenario()
        try waitUntil("spans of the traffic after the restart", timeout: 30) {
            let spans = try Self.spans(in: output)
            return truth.operations.allSatisfy { op in spans.contains { $0.messageID == op.uniqueID } }
        }
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0)
    }

    @Test("SIGKILL mid-stream, restart: no trace event lost (unacknowledged messages are redelivered)")
    func sigkillLosesNothing() throws {
        let first = Self.temporaryFile("kill-1.jsonl"), second = Self.temporaryFile("kill-2.jsonl")
        defer { for file in [first, second] { try? FileManager.default.removeItem(at: file) } }
        let queue = "tb-it-kill-\(UUID().uuidString.prefix(8))"
        // A small prefetch keeps the first agent behind the traffic, so the kill lands mid-stream.
        let agent = try Self.startAgent(queue: queue, output: first, extra: ["--prefetch", "5"])
        defer { agent.cleanUp() }
        let truthFile = Self.temporaryFile("kill-truth.json")
        defer { try? FileManager.default.removeItem(at: truthFile) }
        let driver = try BackgroundProcess(Self.scenarioPython, [
            Repository.root.appendingPathComponent("tools/scenario/driver.py").path, "--url", Self.transportURL,
            "--truth", truthFile.path,
        ])
        defer { driver.cleanUp() }
        // Kill the agent as soon as it has written anything: mid-stream.
        try waitUntil("the first agent's first spans", timeout: 30) { !(try Self.spans(in: first)).isEmpty }
        agent.signal(SIGKILL)
        _ = try agent.wait(timeout: 10)
        let restarted = try Self.startAgent(queue: queue, output: second)
        defer { restarted.cleanUp() }
        #expect(try driver.wait(timeout: 90) == 0, "\(driver.stderr.suffix(2000))")
        let truth = try ScenarioTruth(Data(contentsOf: truthFile))
        try waitUntil("every published message in the union of both outputs", timeout: 30) {
            let union = try Self.spans(in: first) + Self.spans(in: second)
            return truth.operations.allSatisfy { op in union.contains { $0.messageID == op.uniqueID } }
        }
        restarted.signal(SIGTERM)
        #expect(try restarted.wait(timeout: 30) == 0)
        let before = try Self.spans(in: first), after = try Self.spans(in: second)
        print("live: killed after \(before.count) spans written; the restarted agent wrote \(after.count)")
        #expect(!truth.operations.allSatisfy { op in before.contains { $0.messageID == op.uniqueID } }, "killed mid-stream")
        #expect(!after.isEmpty)
    }

    @Test("hypervisor role: only its host's deliveries, with the same span IDs the control plane derives")
    func hypervisorAgreesWithControlPlane() throws {
        let control = Self.temporaryFile("control.jsonl"), hypervisor = Self.temporaryFile("hypervisor.jsonl")
        defer { for file in [control, hypervisor] { try? FileManager.default.removeItem(at: file) } }
        let suffix = UUID().uuidString.prefix(8)
        let controlAgent = try Self.startAgent(queue: "tb-it-control-\(suffix)", output: control)
        defer { controlAgent.cleanUp() }
        let hypervisorAgent = try Self.startAgent(
            queue: "tb-it-hypervisor-\(suffix)", output: hypervisor, extra: ["--role", "hypervisor", "--host", "compute-1"])
        defer { hypervisorAgent.cleanUp() }
        let truth = try Self.runScenario()
        let computeDeliveries = truth.operations.flatMap { op in op.deliveries.filter { $0.queue == "compute.compute-1" }.map { _ in op } }
        try #require(!computeDeliveries.isEmpty)
        try waitUntil("the hypervisor's consumer spans", timeout: 30) {
            try Self.spans(in: hypervisor).count >= computeDeliveries.count
        }
        try waitUntil("the control plane's spans", timeout: 30) {
            let spans = try Self.spans(in: control)
            return truth.operations.allSatisfy { op in spans.contains { $0.messageID == op.uniqueID } }
        }
        for agent in [controlAgent, hypervisorAgent] { agent.signal(SIGTERM) }
        _ = try controlAgent.wait(timeout: 30)
        _ = try hypervisorAgent.wait(timeout: 30)
        let seen = try Self.spans(in: hypervisor), reference = try Self.spans(in: control)
        #expect(seen.allSatisfy { $0.kind == 5 && $0.queue == "compute.compute-1" }, "only deliveries to compute.compute-1")
        #expect(seen.count == computeDeliveries.count)
        for span in seen {
            let twin = reference.first { $0.spanID == span.spanID }
            #expect(twin != nil, "the control plane derived no span \(span.spanID) (\(span.name))")
            #expect(twin?.parentSpanID == span.parentSpanID, "\(span.name): parents differ")
            #expect(span.service == "nova-compute" && span.host == "compute-1")
        }
    }

    @Test("the queue layouts of current deployment guides (quorum, queue manager, stream fanout, gzip): run = truth")
    func modernLayout() throws {
        // A vhost of its own: quorum and stream queues are durable and would clash with the classic queues of the
        // same names that the other tests declare in /.
        let vhost = "tb-it-layout-\(UUID().uuidString.prefix(8).lowercased())"
        try Self.rabbitmqctl("add_vhost", vhost)
        defer { try? Self.rabbitmqctl("delete_vhost", vhost) }
        try Self.rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        try Self.rabbitmqctl("trace_on", "-p", vhost)
        let base = Self.amqpURL.hasSuffix("/") ? Self.amqpURL : Self.amqpURL + "/"
        let amqpURL = base + vhost, transportURL = "rabbit://" + amqpURL.dropFirst("amqp://".count)
        let output = Self.temporaryFile("layout.jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let agent = try Self.startAgent(queue: "tb-it-layout", output: output, url: amqpURL)
        defer { agent.cleanUp() }
        let truth = try Self.runScenario(url: transportURL, driverArguments: [
            "--quorum", "--queue-manager", "--stream-fanout", "--compression", "gzip",
        ])
        #expect(truth.operations.contains { op in op.deliveries.contains { $0.queue == "scheduler_fanout" } },
                "the schedulers read the stream scheduler_fanout")
        #expect(truth.operations.contains { $0.replyQueue?.hasPrefix("reply_api-1:nova-api:") ?? false },
                "queue-manager reply queue names")
        try waitUntil("the agent to write the spans of every operation", timeout: 30) {
            let spans = try Self.spans(in: output)
            return truth.operations.allSatisfy { op in spans.contains { $0.messageID == op.uniqueID } }
        }
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0, "\(agent.stderr)")
        let spans = try Self.spans(in: output)
        let report = truth.check(spans)
        for problem in report.problems { Issue.record("\(problem)") }
        let streamConsumers = Set(spans.filter { $0.kind == 5 && $0.queue == "scheduler_fanout" }.map(\.spanID))
        #expect(streamConsumers.count == 2, "one CONSUMER span per stream listener")
        print("live layout fidelity (quorum + queue manager + stream fanout + gzip): \(report.summary)")
    }

    /// rabbitmqctl on the private node (tools/broker.sh ctl).
    static func rabbitmqctl(_ arguments: String...) throws {
        let log = temporaryFile("rabbitmqctl.log")
        defer { try? FileManager.default.removeItem(at: log) }
        let status = try runToCompletion(
            "/bin/bash", [Repository.root.appendingPathComponent("tools/broker.sh").path, "ctl"] + arguments,
            environment: ["TB_BROKER_DIR": Repository.root.appendingPathComponent(".broker").path], log: log, timeout: 60)
        guard status == 0 else {
            throw TestSetupError("rabbitmqctl \(arguments.joined(separator: " ")): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
    }

    @Test("the README's minimal permissions suffice; without read on the firehose the agent says 403 and keeps retrying")
    func minimalPermissions() throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let hostPart = Self.amqpURL.split(separator: "@").last.map(String.init) ?? "127.0.0.1:5682/"
        let allowed = "tb-tracer-\(suffix)", denied = "tb-denied-\(suffix)"
        try Self.rabbitmqctl("add_user", allowed, "pw-\(suffix)")
        try Self.rabbitmqctl("add_user", denied, "pw-\(suffix)")
        defer {
            try? Self.rabbitmqctl("delete_user", allowed)
            try? Self.rabbitmqctl("delete_user", denied)
        }
        // configure and write: our own queues; read: our queues and the firehose exchange. Nothing else.
        try Self.rabbitmqctl("set_permissions", "-p", "/", allowed, "^trace-bridge\\..*", "^trace-bridge\\..*",
                             "^(trace-bridge\\..*|amq\\.rabbitmq\\.trace)$")
        try Self.rabbitmqctl("set_permissions", "-p", "/", denied, "^trace-bridge\\..*", "^trace-bridge\\..*", "^trace-bridge\\..*")

        let output = Self.temporaryFile("permissions.jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let agent = try BackgroundProcess(CLI.executable, [
            "run", "--format", "otlp-json", "--output", output.path, "--queue", "trace-bridge.it-\(suffix)", "--queue-expires", "60",
        ], environment: ["TRACE_BRIDGE_AMQP_URL": "amqp://\(allowed):pw-\(suffix)@\(hostPart)"])
        defer { agent.cleanUp() }
        try waitUntil("the agent with minimal permissions to consume", timeout: 30) {
            guard agent.process.isRunning else { throw TestSetupError("the agent exited: \(agent.stderr)") }
            return agent.stderr.contains("trace-bridge: connected")
        }
        #expect(!agent.stderr.contains("pw-\(suffix)"), "the password never appears in logs")
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0)

        let refused = try BackgroundProcess(CLI.executable, [
            "run", "--format", "otlp-json", "--output", output.path, "--queue", "trace-bridge.it-denied-\(suffix)",
            "--queue-expires", "60",
        ], environment: ["TRACE_BRIDGE_AMQP_URL": "amqp://\(denied):pw-\(suffix)@\(hostPart)"])
        defer { refused.cleanUp() }
        try waitUntil("a clear error about the refused binding, retried", timeout: 30) {
            refused.stderr.components(separatedBy: "403 ACCESS_REFUSED").count >= 3
        }
        #expect(refused.process.isRunning, "the agent never exits because of the broker")
        #expect(refused.stderr.contains("queue.bind trace-bridge.it-denied-\(suffix) to amq.rabbitmq.trace"))
        #expect(!refused.stderr.contains("pw-\(suffix)"))
        refused.signal(SIGTERM)
        #expect(try refused.wait(timeout: 30) == 0)
    }

    @Test("amqps: the broker's certificate is verified by default; the right CA connects, a wrong one is refused clearly")
    func amqpsVerifiesTheBroker() throws {
        // tools/broker.sh serves amqps on the AMQP port + 1 with a test CA it generates in .broker/tls.
        let tls = Repository.root.appendingPathComponent(".broker/tls")
        let hostPart = Self.amqpURL.split(separator: "@").last.map(String.init) ?? "127.0.0.1:5682/"
        let port = (Int(hostPart.split(separator: ":").last?.split(separator: "/").first ?? "5682") ?? 5682) + 1
        let url = "amqps://guest:guest@localhost:\(port)/"
        let queue = "trace-bridge.it-tls-\(UUID().uuidString.prefix(8))"
        func agent(_ arguments: [String]) throws -> BackgroundProcess {
            try BackgroundProcess(CLI.executable, ["run", "--amqp-url", url, "--format", "otlp-json", "--output", "/dev/null",
                                                  "--queue", queue, "--queue-expires", "60"] + arguments)
        }
        let trusted = try agent(["--ca-file", tls.appendingPathComponent("ca.pem").path])
        defer { trusted.cleanUp() }
        try waitUntil("a TLS connection with the test CA", timeout: 30) {
            guard trusted.process.isRunning else { throw TestSetupError("the agent exited: \(trusted.stderr)") }
            return trusted.stderr.contains("trace-bridge: connected")
        }
        trusted.signal(SIGTERM)
        #expect(try trusted.wait(timeout: 30) == 0)

        for caFile in [tls.appendingPathComponent("other-ca.pem").path, nil] {
            let refused = try agent(caFile.map { ["--ca-file", $0] } ?? [])
            defer { refused.cleanUp() }
            try waitUntil("a clear verification error", timeout: 30) {
                refused.stderr.contains("SSL peer cert verification failed")
            }
            #expect(!refused.stderr.contains("trace-bridge: connected"), "never connected to a broker it cannot verify")
            #expect(refused.process.isRunning, "and keeps retrying")
            refused.signal(SIGTERM)
            #expect(try refused.wait(timeout: 30) == 0)
        }
    }

    @Test("capture --count writes exactly N messages in the fixture format and exits by itself")
    func captureCount() throws {
        let file = Self.temporaryFile("count.jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let capture = try BackgroundProcess(CLI.executable, [
            "capture", "--amqp-url", Self.amqpURL, "--output", file.path, "--count", "5",
            "--queue", "tb-it-count-\(UUID().uuidString.prefix(8))", "--queue-expires", "120",
        ])
        defer { capture.cleanUp() }
        try waitUntil("capture to connect", timeout: 30) { capture.stderr.contains("trace-bridge: connected") }
        _ = try Self.runScenario()
        #expect(try capture.wait(timeout: 30) == 0, "\(capture.stderr)")
        #expect(capture.stderr.contains("capture done messages=5"))
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        for (index, line) in lines.enumerated() {
            let record = try BusMessage(line: Array(line.utf8), lineNumber: index + 1)
            #expect(record.seq == Int64(index + 1) && record.mode == .firehose && !record.body.isEmpty)
        }
        let replay = try CLI.run(["replay", file.path, "--strict", "--quiet"])
        #expect(replay.status == 0, "\(replay.stderr)")
    }

    /// The agent reads each delivery's header and body frames where librabbitmq decoded them (`AMQPConnection`):
    /// bodies of zero, one and several frames (300,000 and 1,000,000 bytes at a 131,072-byte frame size) must come
    /// out byte for byte, with their headers, from a real broker and a real client (py-amqp).
    @Test("bodies of 0 bytes to 8 frames are captured byte for byte, with their headers")
    func multiFrameBodies() throws {
        let exchange = "tb-it-frames-\(UUID().uuidString.prefix(8))"
        let file = Self.temporaryFile("frames.jsonl")
        let sentFile = Self.temporaryFile("frames-sent.json")
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: sentFile)
        }
        let script = Repository.root.appendingPathComponent("tools/scenario/publish_bodies.py").path
        func publisher(_ arguments: [String]) throws {
            let process = try BackgroundProcess(Self.scenarioPython, [script, "--url", Self.amqpURL, "--exchange", exchange] + arguments)
            defer { process.cleanUp() }
            let status = try process.wait(timeout: 60)
            guard status == 0 else { throw TestSetupError("publish_bodies.py \(arguments) failed: \(process.stderr.suffix(2000))") }
        }
        try publisher(["--declare"])
        defer { try? publisher(["--delete"]) }
        let capture = try BackgroundProcess(CLI.executable, [
            "capture", "--amqp-url", Self.amqpURL, "--output", file.path, "--count", "4", "--tap-exchange", exchange,
            "--queue", "tb-it-frames-\(UUID().uuidString.prefix(8))", "--queue-expires", "120",
        ])
        defer { capture.cleanUp() }
        try waitUntil("capture to connect", timeout: 30) { capture.stderr.contains("trace-bridge: connected") }
        try publisher(["--publish", "--out", sentFile.path])
        #expect(try capture.wait(timeout: 60) == 0, "\(capture.stderr)")

        struct Sent: Decodable {
            var routing_key: String
            var body: String
        }
        let sent = try JSONDecoder().decode([Sent].self, from: Data(contentsOf: sentFile))
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4 && sent.count == 4)
        for (line, expected) in zip(lines, sent) {
            let record = try BusMessage(line: Array(line.utf8), lineNumber: 1)
            #expect(record.exchange == exchange && record.routingKey == expected.routing_key)
            #expect(record.body == Array(Data(base64Encoded: expected.body) ?? Data()), "body of \(expected.routing_key)")
            #expect(record.properties.contentType == "application/octet-stream")
            #expect(record.headers["size"]?.integerValue == Int64(record.body.count))
            let index = expected.routing_key.split(separator: ".").last ?? ""
            #expect(record.headers["name"]?.stringValue == "body-\(index)-of-a-long-enough-header-value")
            let list = record.headers["nested"]?.tableValue?["list"]?.arrayValue
            #expect(list?.first?.stringValue == "a" && list?.last?.stringValue == "0123456789abcdef0123")
        }
        #expect(Set(lines.compactMap { try? BusMessage(line: Array($0.utf8), lineNumber: 1).body.count }) == [0, 1, 300_000, 1_000_000])
    }

    @Test("tap mode: publishes only; every sender is right or unknown, never wrong; no deliveries or round trips invented")
    func tapMode() throws {
        _ = try Self.runScenario()  // oslo.messaging declares the `nova` exchange on first use; a tap never declares it
        let output = Self.temporaryFile("tap.jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let agent = try BackgroundProcess(CLI.executable, [
            "run", "--amqp-url", Self.amqpURL, "--tap-exchange", "nova", "--format", "otlp-json", "--output", output.path,
            "--queue", "trace-bridge.it-tap-\(UUID().uuidString.prefix(8))", "--queue-expires", "120",
        ])
        defer { agent.cleanUp() }
        try waitUntil("the tap agent to connect", timeout: 30) { agent.stderr.contains("trace-bridge: connected") }
        let truth = try Self.runScenario()
        // A sender that traces itself keeps its own PRODUCER (no duplicate of ours), so those publishes leave nothing
        // but their calls' CLIENT spans.
        let visible = truth.operations.filter { $0.exchange == "nova" && $0.traceParent == nil }
        try #require(!visible.isEmpty)
        /// A call's send span is its CLIENT (ending at its publish: a tap sees no reply), any other's a PRODUCER.
        func sendKind(_ op: ScenarioTruth.Operation) -> Int { op.kind == "call" ? 3 : 4 }
        try waitUntil("a send span for every publish on nova", timeout: 30) {
            let spans = try Self.spans(in: output)
            return visible.allSatisfy { op in spans.contains { $0.kind == sendKind(op) && $0.messageID == op.uniqueID } }
        }
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0)
        let spans = try Self.spans(in: output)
        #expect(spans.allSatisfy { $0.kind == 4 || ($0.kind == 3 && $0.callEnd == "unobserved") },
                "only PRODUCER spans and CLIENT spans ending at their publish: a tap sees no deliveries or replies")
        var right = 0, unknown = 0
        for op in visible {
            guard let producer = spans.first(where: { $0.kind == sendKind(op) && $0.messageID == op.uniqueID }) else { continue }
            if producer.service == op.service {
                right += 1
            } else if producer.service == "unknown" {
                unknown += 1
            } else {
                Issue.record("tap: \(op.uniqueID) \(op.kind) attributed to \(producer.service), truth \(op.service)")
            }
        }
        print("live tap: \(visible.count) publishes on nova: senders \(right) right, \(unknown) unknown, 0 wrong")
    }
}
