import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// The `trace-bridge replay` command as an operator uses it.
@Suite("trace-bridge replay")
struct ReplayCommandTests {
    /// Golden waterfalls: `UPDATE_GOLDEN=1 make test` rewrites them and fails, so the diff gets reviewed.
    @Test("the tree of every capture matches its golden file", arguments: GroundTruthTests.fixtures)
    func goldenTree(fixture: String) throws {
        var arguments = ["replay", Repository.fixture("\(fixture).jsonl").path, "--color", "never", "--quiet"]
        if fixture == "d_notify" {
            arguments += ["--service-map", "notifications=nova-notify-listener", "--service-map", "versioned_notifications=nova-notify-listener"]
        }
        if GroundTruthTests.queueLayoutFixtures.contains(fixture) || GroundTruthTests.neutronFixtures.contains(fixture) {
            arguments += ["--service-map", "notifications=ceilometer-agent-notification"]
        }
        let result = try CLI.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let golden = Repository.root.appendingPathComponent("fixtures/golden/\(fixture).tree.txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(result.stdout.utf8).write(to: golden)
            Issue.record("rewrote \(golden.lastPathComponent): review the diff, then run the tests without UPDATE_GOLDEN")
            return
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(result.stdout == expected, "tree of \(fixture) changed: run UPDATE_GOLDEN=1 make test and review the diff")
    }

    @Test("a_boot's tree shows the boot from nova-api to nova-compute@compute-1 with the conductor's object_action calls")
    func bootTree() throws {
        let result = try CLI.run(["replay", Repository.fixture("a_boot.jsonl").path, "--color", "never"])
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("trace ") }.count == 2)
        #expect(lines.contains { $0.contains("PRODUCER publish nova:conductor [compute_task/schedule_and_build_instances]") && $0.hasSuffix("nova-api") })
        #expect(lines.contains { $0.contains("CONSUMER process nova:compute.{server}:compute.{server} [compute/build_and_run_instance]") && $0.contains("nova-compute@compute-1") })
        #expect(lines.filter { $0.contains("SERVER   conductor/object_action") && $0.hasSuffix("nova-conductor") }.count == 6)
        #expect(result.stderr.contains("60 messages (38 publish, 22 deliver), 44 spans in 2 traces"))
        #expect(result.stderr.contains("spans by kind: CLIENT 8, CONSUMER 6, PRODUCER 22, SERVER 8"), "a call is CLIENT + SERVER only")
    }

    @Test("bad lines are reported once per reason with their line number and skipped; good lines still count")
    func badLinesSkipped() throws {
        var input = try Repository.bytes(Repository.fixture("b_failure.jsonl"))
        let lines = input.split(separator: 0x0A, omittingEmptySubsequences: false)
        var mixed: [UInt8] = []
        for (index, line) in lines.enumerated() {
            mixed += line + [0x0A]
            if index == 2 { mixed += Array("this is not json\n{\"routing_key\": \"publish.nova\"}\n".utf8) }
        }
        mixed += Array(#"{"seq": 99, "captured_at": 1, "routing_key": "publish.nova", "body_b64": "aGVsbG8="}"#.utf8) + [0x0A]
        input = mixed
        let result = try CLI.run(["replay", "-", "--format", "otlp-json"], stdin: Data(input))
        #expect(result.status == 0)
        #expect(result.stderr.contains("skipped 1 × fixture_invalid_json (first: line 4:"))
        #expect(result.stderr.contains("skipped 1 × fixture_missing_field (first: line 5: missing_field: captured_at"))
        #expect(result.stderr.contains("skipped 1 × oslo_not_json_object"))
        #expect(result.stderr.contains("20 messages") == false && result.stderr.contains("21 messages"))
        #expect(result.stderr.contains("14 spans in 4 traces"))
    }

    @Test("--strict stops at the first bad line with exit code 65 and names it")
    func strict() throws {
        let input = Data("{\"x\": 1}\n".utf8) + (try Data(contentsOf: Repository.fixture("g_timeout.jsonl")))
        let result = try CLI.run(["replay", "-", "--strict"], stdin: input)
        #expect(result.status == 65)
        #expect(result.stderr.contains("line 1: missing_field"))
        #expect(result.stdout.isEmpty)
    }

    @Test("errors name the bad input and what to do")
    func clearErrors() throws {
        let missing = try CLI.run(["replay", "/nonexistent/capture.jsonl"])
        #expect(missing.status != 0 && missing.stderr.contains("no such capture file: /nonexistent/capture.jsonl"))
        let badMap = try CLI.run(["replay", Repository.fixture("g_timeout.jsonl").path, "--service-map", "conductor"])
        #expect(badMap.status != 0 && badMap.stderr.contains("--service-map \"conductor\" is not KEY=VALUE"))
        let badFormat = try CLI.run(["replay", Repository.fixture("g_timeout.jsonl").path, "--format", "xml"])
        #expect(badFormat.status != 0 && badFormat.stderr.contains("tree"))
        let fixture = Repository.fixture("g_timeout.jsonl").path
        let badMode = try CLI.run(["replay", fixture, "--mode", "everything"])
        #expect(badMode.status != 0 && badMode.stderr.contains("publish-only"), "\(badMode.stderr)")
        let tapAndMode = try CLI.run(["replay", fixture, "--tap-exchange", "nova", "--mode", "firehose"])
        #expect(tapAndMode.status != 0 && tapAndMode.stderr.contains("--tap-exchange is tap mode"))
        let tapAndBind = try CLI.run(["replay", fixture, "--mode", "tap", "--bind", "amq.rabbitmq.trace:publish.#"])
        #expect(tapAndBind.status != 0 && tapAndBind.stderr.contains("cannot be combined"))
        let hypervisorMode = try CLI.run(["run", "--role", "hypervisor", "--host", "c1", "--mode", "publish-only"])
        #expect(hypervisorMode.status != 0 && hypervisorMode.stderr.contains("hypervisor role binds deliver.compute.HOST only"))
    }

    @Test("replay --mode leaves out what the mode would not receive and says so")
    func replayAsMode() throws {
        let result = try CLI.run(["replay", Repository.fixture("a_boot.jsonl").path, "--mode", "publish-only", "--format", "otlp-json"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("left out 22 messages the source mode would not have received"), "\(result.stderr)")
        let spans = try decodeOTLPJSONLines(result.stdout)
        #expect(spans.contains { $0.kind == 5 } && spans.filter { $0.kind == 5 }.allSatisfy { !$0.deliveryObserved })
        // A call's SERVER is inferred like a CONSUMER: from the publish (its delivery unseen) to the reply's publish.
        let servers = spans.filter { $0.kind == 2 }
        #expect(servers.count == 8 && servers.allSatisfy { !$0.deliveryObserved && $0.callEnd == nil }, "\(servers)")
    }

    @Test("--help teaches: every option with an example")
    func help() throws {
        let help = try CLI.run(["replay", "--help"])
        for expected in ["--format", "--output", "--strict", "--service-map", "--sender-traced", "--resource-attribute",
                         "trace-bridge replay fixtures/a_boot.jsonl", "otlp-json"] {
            #expect(help.stdout.contains(expected), "help lacks \(expected)")
        }
        let version = try CLI.run(["--version"])
        #expect(version.stdout.contains("librabbitmq 0.11"))
    }

    @Test("--resource-attribute and --service-map reach the output")
    func flagsReachOutput() throws {
        let result = try CLI.run(["replay", Repository.fixture("d_notify.jsonl").path, "--format", "otlp-json",
                                  "--resource-attribute", "cluster=region-1",
                                  "--service-map", "notifications=ceilometer-agent-notification"])
        #expect(result.stdout.contains(#"{"key":"cluster","value":{"stringValue":"region-1"}}"#))
        #expect(result.stdout.contains(#""stringValue":"ceilometer-agent-notification""#))
    }
}
