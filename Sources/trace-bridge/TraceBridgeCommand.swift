import Agent
import ArgumentParser
import Foundation
import RabbitMQ
import TraceCore

@main
struct TraceBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace-bridge",
        abstract: "Turn OpenStack's RabbitMQ (oslo.messaging) traffic into linked OpenTelemetry traces.",
        discussion: """
            trace-bridge reads what crosses the bus between OpenStack services (casts, calls and replies, fanouts, \
            notifications), recovers who sent what on behalf of which request, and emits OpenTelemetry spans that \
            link nova-api to nova-compute in one trace.

            Start with a shipped capture, no broker needed:
              trace-bridge replay fixtures/a_boot.jsonl

            Then against RabbitMQ (firehose on: rabbitmqctl trace_on -p /), exporting to the collector on localhost:4317:
              TRACE_BRIDGE_AMQP_URL=amqp://tracer:secret@rabbit-1:5672/ trace-bridge run

            Docs: README.md (quick start), docs/operations.md (running against RabbitMQ, exporting), \
            docs/synthesis.md (how spans are derived).
            """,
        version: "\(TraceBridgeScope.version) (librabbitmq \(RabbitMQLibraryVersion.current))",
        subcommands: [ReplayCommand.self, RunCommand.self, CaptureCommand.self, ConfigCommand.self]
    )

    /// Applies the configuration file and environment (`ConfigResolver`) before the flags are parsed.
    static func main() async {
        let arguments: [String]
        do {
            arguments = try ConfigResolver.apply(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
        } catch {
            printError("trace-bridge: \(error)")
            Foundation.exit(78)  // EX_CONFIG
        }
        await main(arguments)
    }
}
