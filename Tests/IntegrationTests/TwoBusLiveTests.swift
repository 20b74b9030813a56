import Foundation
import TestSupport
import Testing

/// Nova cells v2 live: the API bus and cell1's bus as two vhosts of the private broker, tools/scenario/cells_flow.py
/// doing what nova's cells code does (the super-conductor casts `build_and_run_instance` on the cell bus from its
/// handler of a message of the API bus), checked against its own truth with `TwoBusTruth`.
extension LiveBrokerTests {
    /// A vhost of the private broker with the firehose on; returns its AMQP URL and oslo.messaging transport URL.
    static func tracedVhost(_ name: String) throws -> (amqp: String, transport: String) {
        try rabbitmqctl("add_vhost", name)
        try rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        try rabbitmqctl("trace_on", "-p", name)
        let base = amqpURL.hasSuffix("/") ? amqpURL : amqpURL + "/"
        let amqp = base + name
        return (amqp, "rabbit://" + amqp.dropFirst("amqp://".count))
    }

    /// Runs tools/scenario/cells_flow.py (about 8 s of real RPC on both buses) and returns its ground truth.
    static func runCellsScenario(apiTransportURL: String, cellTransportURL: String) throws -> TwoBusTruth {
        let truthFile = temporaryFile("cells-truth.json")
        defer { try? FileManager.default.removeItem(at: truthFile) }
        guard FileManager.default.isExecutableFile(atPath: scenarioPython.path) else {
            throw TestSetupError("no scenario venv at \(scenarioPython.path): run `make test`")
        }
        let driver = try BackgroundProcess(scenarioPython, [
            Repository.root.appendingPathComponent("tools/scenario/cells_flow.py").path,
            "--url", apiTransportURL, "--cell-url", cellTransportURL, "--truth", truthFile.path,
        ])
        defer { driver.cleanUp() }
        let status = try driver.wait(timeout: 90)
        guard status == 0 else { throw TestSetupError("the cells scenario failed (\(status)): \(driver.stderr.suffix(3000))") }
        return try TwoBusTruth(Data(contentsOf: truthFile))
    }

    /// `trace-bridge run` with one `--bus NAME=URL` per bus, OTLP/JSON to `output`; returns once every bus is consuming.
    static func startBusesAgent(buses: [(name: String, amqp: String)], queue: String, output: URL) throws -> BackgroundProcess {
        let agent = try BackgroundProcess(CLI.executable, [
            "run", "--format", "otlp-json", "--output", output.path, "--queue", queue, "--queue-expires", "300",
            "--mode", "firehose", "--http-listen", "127.0.0.1:0",
        ] + buses.flatMap { ["--bus", "\($0.name)=\($0.amqp)"] } + notificationConsumer)
        try waitUntil("the agent to connect to every bus", timeout: 30) {
            guard agent.process.isRunning else { throw TestSetupError("the agent exited: \(agent.stderr)") }
            return buses.allSatisfy { agent.stderr.contains("trace-bridge: connected bus=\($0.name) ") }
        }
        return agent
    }

    /// Issue 16: one agent reading both buses into one synthesis sees the super-conductor's handler and the cast it
    /// sends on the cell bus, so the cast is attributed and parented like a same-bus one and each boot is one tree.
    @Test("nova cells v2 on two vhosts, one agent with --bus per vhost: run = truth, cross-bus casts included")
    func cellsOneAgentTwoBuses() throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let api = try Self.tracedVhost("tb-it-cells-api-\(suffix)")
        defer { try? Self.rabbitmqctl("delete_vhost", "tb-it-cells-api-\(suffix)") }
        let cell = try Self.tracedVhost("tb-it-cells-cell1-\(suffix)")
        defer { try? Self.rabbitmqctl("delete_vhost", "tb-it-cells-cell1-\(suffix)") }
        let output = Self.temporaryFile("cells-buses.jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let agent = try Self.startBusesAgent(buses: [("api", api.amqp), ("cell1", cell.amqp)], queue: "tb-it-cells", output: output)
        defer { agent.cleanUp() }

        let truth = try Self.runCellsScenario(apiTransportURL: api.transport, cellTransportURL: cell.transport)
        #expect(truth.crossBusCount == 2, "two boots, one cross-bus cast each")
        try waitUntil("the agent to write the spans of every operation", timeout: 30) {
            let spans = try Self.spans(in: output)
            return truth.operations.allSatisfy { op in spans.contains { $0.messageID == op.uniqueID } }
        }
        agent.signal(SIGTERM)
        #expect(try agent.wait(timeout: 30) == 0, "\(agent.stderr)")
        let report = truth.check(try Self.spans(in: output))
        for problem in report.problems { Issue.record("\(problem)") }
        print("live cells, one agent on both buses: \(report.summary)")
    }

    /// What a deployment gets with one agent per bus, the baseline `run` with several buses beats: every
    /// same-bus operation right, but the cell bus's agent never saw the super-conductor's handler, so it names
    /// nova-api as the sender of each cross-bus cast and makes it a root (each boot splits into two trees).
    @Test("nova cells v2 on two vhosts, one agent per bus: same-bus operations right, each cross-bus cast split off")
    func cellsOneAgentPerBus() throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let api = try Self.tracedVhost("tb-it-cells-api-\(suffix)")
        defer { try? Self.rabbitmqctl("delete_vhost", "tb-it-cells-api-\(suffix)") }
        let cell = try Self.tracedVhost("tb-it-cells-cell1-\(suffix)")
        defer { try? Self.rabbitmqctl("delete_vhost", "tb-it-cells-cell1-\(suffix)") }
        let apiOutput = Self.temporaryFile("cells-api.jsonl"), cellOutput = Self.temporaryFile("cells-cell1.jsonl")
        defer { for file in [apiOutput, cellOutput] { try? FileManager.default.removeItem(at: file) } }
        let apiAgent = try Self.startAgent(queue: "tb-it-cells", output: apiOutput, extra: ["--http-listen", "127.0.0.1:0"], url: api.amqp)
        defer { apiAgent.cleanUp() }
        let cellAgent = try Self.startAgent(queue: "tb-it-cells", output: cellOutput, extra: ["--http-listen", "127.0.0.1:0"], url: cell.amqp)
        defer { cellAgent.cleanUp() }

        let truth = try Self.runCellsScenario(apiTransportURL: api.transport, cellTransportURL: cell.transport)
        #expect(truth.crossBusCount == 2, "two boots, one cross-bus cast each")
        func spans() throws -> [DecodedSpan] { try Self.spans(in: apiOutput) + Self.spans(in: cellOutput) }
        try waitUntil("the agents to write the spans of every operation", timeout: 30) {
            let spans = try spans()
            return truth.operations.allSatisfy { op in spans.contains { $0.messageID == op.uniqueID } }
        }
        for agent in [apiAgent, cellAgent] { agent.signal(SIGTERM) }
        #expect(try apiAgent.wait(timeout: 30) == 0, "\(apiAgent.stderr)")
        #expect(try cellAgent.wait(timeout: 30) == 0, "\(cellAgent.stderr)")
        let all = try spans()
        let report = truth.check(all)

        let crossBus = truth.operations.filter(\.crossBus)
        let sameBusProblems = report.problems.filter { problem in
            !problem.hasPrefix("request ") && !crossBus.contains { problem.contains($0.uniqueID) }
        }
        #expect(sameBusProblems == [], "an agent per bus gets every same-bus operation right")
        for op in crossBus {
            let producer = all.first { $0.kind == 4 && $0.messageID == op.uniqueID }
            #expect(producer?.service == "nova-api" && producer?.parentSpanID == nil,
                    "the cell bus alone: \(op.method) from nova-api, a root (truth: \(op.service), caused on the API bus)")
        }
        #expect(report.problems.filter { $0.hasPrefix("request ") }.count == crossBus.count, "\(report.problems)")
        print("live cells, one agent per bus: \(report.summary)")
    }
}
