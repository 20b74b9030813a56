import Foundation
import Testing

import TestSupport

/// The configuration file, environment and flags, through the real binary (`config check`, `config keys`, `run`).
@Suite("Configuration: file, environment, flags")
struct ConfigCommandTests {
    static func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tb-config-\(UUID().uuidString.prefix(8)).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("unknown keys and bad values name the key, the file line and what is allowed; exit 78")
    func errorsNameKeyLineAndAllowed() throws {
        let misspelt = try Self.write("source:\n  mode: publish-only\nqueue:\n  max_lenght: 5\n")
        defer { try? FileManager.default.removeItem(at: misspelt) }
        let unknown = try CLI.run(["config", "check", "--config", misspelt.path])
        #expect(unknown.status == 78)
        #expect(unknown.stderr.contains("\(misspelt.path):4: unknown key 'queue.max_lenght'; 'queue' takes name, max_length"), "\(unknown.stderr)")

        let badChoice = try Self.write("# agent\nsource:\n  mode: tapp\n")
        defer { try? FileManager.default.removeItem(at: badChoice) }
        let run = try CLI.run(["run", "--config", badChoice.path])
        #expect(run.status == 78, "run refuses to start on a bad file")
        #expect(run.stderr.contains("\(badChoice.path):3: source.mode: 'tapp' is not one of firehose, publish-only, selective, tap"), "\(run.stderr)")

        let badNumber = try Self.write("queue:\n  max_length: lots\n")
        defer { try? FileManager.default.removeItem(at: badNumber) }
        let number = try CLI.run(["config", "check", "--config", badNumber.path])
        #expect(number.status == 78 && number.stderr.contains(":2: queue.max_length: 'lots' is not a whole number"), "\(number.stderr)")

        let badSection = try Self.write("brokers:\n  url: x\n")
        defer { try? FileManager.default.removeItem(at: badSection) }
        let section = try CLI.run(["config", "check", "--config", badSection.path])
        #expect(section.status == 78 && section.stderr.contains(":1: unknown section 'brokers'; sections are amqp, source"), "\(section.stderr)")

        let badVariable = try CLI.run(["config", "check"], environment: ["TRACE_BRIDGE_SOURCE_PREFETCH": "many"])
        #expect(badVariable.status == 78 && badVariable.stderr.contains("environment variable TRACE_BRIDGE_SOURCE_PREFETCH: 'many' is not a whole number"))

        let missing = try CLI.run(["config", "check", "--config", "/nonexistent/agent.yaml"])
        #expect(missing.status == 78 && missing.stderr.contains("cannot read the configuration file /nonexistent/agent.yaml"))
    }

    @Test("precedence: flags > environment > file > defaults, each value's source shown")
    func precedence() throws {
        let file = try Self.write("""
            source:
              mode: publish-only
              prefetch: 300
            queue:
              ttl_seconds: 120
              max_length: 5000
            synthesis:
              service_map:
                notifications: ceilometer-agent-notification
            """)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try CLI.run(
            ["config", "check", "--config", file.path, "--", "--queue-ttl", "30"],
            environment: ["TRACE_BRIDGE_SOURCE_PREFETCH": "200"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout
        #expect(lines.contains("  mode: publish-only  # file \(file.path):2"))
        #expect(lines.contains("  prefetch: 200  # environment TRACE_BRIDGE_SOURCE_PREFETCH"), "environment beats the file")
        #expect(lines.contains("  ttl_seconds: 30  # flag --queue-ttl"), "a flag beats the file")
        #expect(lines.contains("  max_length: 5000  # file"))
        #expect(lines.contains("  heartbeat: 30  # default"))
        #expect(lines.contains("\"notifications=ceilometer-agent-notification\""), "a mapping becomes TOPIC=SERVICE items")
        #expect(lines.hasSuffix("# valid\n"))
    }

    @Test("the file reaches the running agent: a bad binding from the file is refused by run's own validation")
    func fileReachesRun() throws {
        let file = try Self.write("source:\n  bindings:\n    - no-colon-here\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try CLI.run(["run", "--config", file.path, "--http-listen", "off"])
        #expect(result.status != 0 && result.stderr.contains("--bind \"no-colon-here\" is not EXCHANGE:ROUTING_KEY"), "\(result.stderr)")
        let fromEnvironment = try CLI.run(["run", "--http-listen", "off"], environment: ["TRACE_BRIDGE_CONFIG": file.path])
        #expect(fromEnvironment.stderr.contains("no-colon-here"), "TRACE_BRIDGE_CONFIG names the file too")
    }

    @Test("secrets are masked in config check and come from files")
    func secretsMasked() throws {
        let headers = FileManager.default.temporaryDirectory.appendingPathComponent("tb-headers-\(UUID().uuidString.prefix(8))")
        try "authorization=Bearer%20canary-header-token".write(to: headers, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: headers) }
        let file = try Self.write("""
            amqp:
              url: amqp://tracer:canary-amqp-password@rabbit-1:5672/
            export:
              headers:
                x-api-key: canary-inline-key
              headers_file: \(headers.path)
            """)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try CLI.run(["config", "check", "--config", file.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("amqp://tracer:****@rabbit-1:5672/") && result.stdout.contains("x-api-key=****"))
        for canary in ["canary-amqp-password", "canary-inline-key", "canary-header-token"] {
            #expect(!(result.stdout + result.stderr).contains(canary), "\(canary) leaked")
        }
    }

    @Test("every shipped deploy configuration passes config check")
    func deployConfigurationsAreValid() throws {
        let configs = ["deploy/kubernetes/control-plane/config.yaml", "deploy/kubernetes/hypervisor/config.yaml",
                       "deploy/systemd/config.yaml"]
        for config in configs {
            // The URL secret is mounted in production; here the variable stands in (environment beats the file).
            let result = try CLI.run(["config", "check", "--config", Repository.root.appendingPathComponent(config).path],
                                     environment: ["TRACE_BRIDGE_AMQP_URL": "amqp://tracer:pw@rabbit-1:5672/",
                                                   "TRACE_BRIDGE_SOURCE_HOST": "compute-1"])
            #expect(result.status == 0, "\(config): \(result.stderr)")
        }
    }

    @Test("the README's table is `config keys`, and it matches --help: every key's flag exists, every flag is a key")
    func readmeTableMatchesHelp() throws {
        let table = try CLI.run(["config", "keys"])
        #expect(table.status == 0)
        let readme = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(table.stdout.trimmingCharacters(in: .newlines)),
                "README.md's configuration table differs from `trace-bridge config keys`: paste its output")
        let help = try CLI.run(["run", "--help"]).stdout + (try CLI.run(["capture", "--help"])).stdout
        let tableFlags = Set(table.stdout.split(separator: "\n").dropFirst(2).compactMap { row in
            row.split(separator: "|").dropFirst(1).first.map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["`"]) }
        })
        #expect(tableFlags.count > 40)
        for flag in tableFlags { #expect(help.contains(flag), "\(flag) is in the table but not in --help") }
        // Flags that are not settings: interactive choices and the file itself.
        let notSettings: Set<String> = ["--help", "--version", "--config", "--tree-idle", "--color", "--firehose-hint-after",
                                        "--output", "--count", "--duration"]
        let helpFlags = Set(help.split(whereSeparator: { " ,\n[]<>".contains($0) }).map(String.init)
            .filter { $0.hasPrefix("--") && $0.count > 2 && $0.allSatisfy { $0.isLetter || $0 == "-" } })
        for flag in helpFlags.subtracting(notSettings) { #expect(tableFlags.contains(flag), "\(flag) in --help has no config key") }
    }

    @Test("Kubernetes manifests validate offline and use only the binary's settings and variables")
    func manifestsValidate() throws {
        let keys = try CLI.run(["config", "keys", "--list", "keys"]), variables = try CLI.run(["config", "keys", "--list", "variables"])
        #expect(keys.status == 0 && variables.status == 0)
        let keysFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-keys-\(UUID().uuidString.prefix(8))")
        let envFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-env-\(UUID().uuidString.prefix(8))")
        defer { for file in [keysFile, envFile] { try? FileManager.default.removeItem(at: file) } }
        try keys.stdout.write(to: keysFile, atomically: true, encoding: .utf8)
        try variables.stdout.write(to: envFile, atomically: true, encoding: .utf8)
        // The metric names the agent's sources register, for the dashboard's PromQL (tools/agent_metric_names.py).
        let metrics = try CLI.python([Repository.root.appendingPathComponent("tools/agent_metric_names.py").path])
        #expect(metrics.status == 0 && metrics.stdout.contains("rpc_client_call_duration_seconds_bucket\n"), "\(metrics.stderr)")
        let metricsFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-metrics-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: metricsFile) }
        try metrics.stdout.write(to: metricsFile, atomically: true, encoding: .utf8)
        let result = try CLI.python([Repository.root.appendingPathComponent("tools/validate_manifests.py").path,
                                    "--known-keys", keysFile.path, "--known-env", envFile.path,
                                    "--known-metrics", metricsFile.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("validated"), "\(result.stdout)")
        #expect(!result.stdout.contains("NOTE dashboard metric names not checked"), "\(result.stdout)")
    }

    @Test("the validator's connector and dashboard checks each fail on a broken copy (tools/test_validate_manifests.py)")
    func manifestValidatorRejectsBrokenViews() throws {
        let result = try CLI.python([Repository.root.appendingPathComponent("tools/test_validate_manifests.py").path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // The self-test's cases, among them tail sampling ahead of the connectors and a dashboard with an unknown metric.
        #expect(result.stdout.contains("ok   tail_sampling ahead of the connectors: ERROR"), "\(result.stdout)")
        #expect(result.stdout.contains("ok   dashboard uses a metric the agent does not export: ERROR"), "\(result.stdout)")
        #expect(!result.stdout.contains("FAIL"), "\(result.stdout)")
    }
}
