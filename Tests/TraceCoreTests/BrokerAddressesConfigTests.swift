import Foundation
import Testing

import TestSupport

/// Several broker addresses through every source of `amqp.url`, as the real binary resolves them.
@Suite("Configuration: a cluster's addresses")
struct BrokerAddressesConfigTests {
    @Test("transport_url syntax in the variable, the flag repeated, a YAML list: all accepted, every password masked")
    func everySource() throws {
        let oslo = try CLI.run(["config", "check"], environment: [
            "TRACE_BRIDGE_AMQP_URL": "amqp://tracer:canary-pw-1@rabbit-1:5672,tracer:canary-pw-1@rabbit-2:5672/nova",
        ])
        #expect(oslo.status == 0, "\(oslo.stderr)")
        #expect(oslo.stdout.contains("amqp://tracer:****@rabbit-1:5672") && oslo.stdout.contains("tracer:****@rabbit-2:5672/nova"))

        let repeated = try CLI.run(["config", "check", "--", "--amqp-url", "amqp://a:canary-pw-2@rabbit-1/",
                                    "--amqp-url", "amqps://b:canary-pw-2@rabbit-2/"])
        #expect(repeated.status == 0, "\(repeated.stderr)")
        #expect(repeated.stdout.contains("- amqp://a:****@rabbit-1/") && repeated.stdout.contains("- amqps://b:****@rabbit-2/"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tb-config-\(UUID().uuidString.prefix(8)).yaml")
        try "amqp:\n  url:\n    - amqp://u:canary-pw-3@rabbit-1:5672/\n    - amqp://u:canary-pw-3@rabbit-2:5672/\n"
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let yaml = try CLI.run(["config", "check", "--config", file.path])
        #expect(yaml.status == 0, "\(yaml.stderr)")
        #expect(yaml.stdout.contains("- amqp://u:****@rabbit-2:5672/"))
        for result in [oslo, repeated, yaml] {
            #expect(!(result.stdout + result.stderr).contains("canary-pw"), "a password leaked")
        }
    }

    @Test("a bad list is refused before connecting, naming what is wrong (exit 64), the password masked")
    func badList() throws {
        let result = try CLI.run(["run", "--amqp-url", "amqp://u:canary-pw-4@rabbit-1,,u:canary-pw-4@rabbit-2/"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("an empty address"), "\(result.stderr)")
        #expect(!result.stderr.contains("canary-pw-4"))
    }
}
