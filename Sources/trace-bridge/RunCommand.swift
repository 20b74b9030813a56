import Agent
import AgentHTTP
import ArgumentParser
import Dispatch
import Foundation
import Logging
import Metrics
import Prometheus
import RabbitMQ
import ServiceLifecycle
import TraceCore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Consume a RabbitMQ broker's traffic and turn it into traces as it happens.",
        discussion: """
            Declares a bounded queue of its own, binds it to the firehose (amq.rabbitmq.trace) or taps exchanges, \
            and runs every message through the same decoding and synthesis as replay. A message is acknowledged \
            only once every span derived from it has been written; prefetch bounds what is held. The agent never \
            exits because the broker went away: it reconnects with backoff and declares its queue again. It exits \
            (76) when the broker refuses its queue as declared, which no retry can fix, and says what to do.

            The firehose must be on for the vhost, on every node: rabbitmqctl trace_on -p / (it is off after a node \
            restart). It costs the broker CPU; see the README for the modes and their cost.

            Examples:
              TRACE_BRIDGE_AMQP_URL=amqp://tracer:secret@rabbit-1:5672/ trace-bridge run
              trace-bridge run --role hypervisor --host compute-17 --format otlp-json --output spans.jsonl
              trace-bridge run --mode publish-only
              trace-bridge run --tap-exchange nova --tap-exchange scheduler_fanout

            Settings come from flags, then TRACE_BRIDGE_* and OTEL_* variables, then the --config file (YAML), then \
            defaults: `trace-bridge config keys` lists them all, `trace-bridge config check` shows the result.

            Exit codes: 0 after SIGTERM/SIGINT (consumption stopped, spans exported within --shutdown-grace, \
            messages acknowledged; what was not exported stays unacknowledged in the broker); 130 on a second \
            signal (immediate); 64 for bad flags; 76 when the broker refuses our queue (406 PRECONDITION_FAILED: a queue of \
            that name exists with other arguments; the message names it and the fix); 78 for a bad configuration \
            file or variable.
            """
    )

    @OptionGroup(title: "Configuration")
    var configFile: ConfigFileFlag

    @OptionGroup(title: "Broker")
    var broker: BrokerFlags

    @Option(name: .shortAndLong, help: "Where spans go: otlp (export to a collector, default), tree (traces on the terminal as they go quiet) or otlp-json (one OTLP request per line).")
    var format: OutputFormat = .otlp

    @Option(name: .shortAndLong, help: ArgumentHelp("tree/otlp-json: append spans to this file instead of standard output.", valueName: "path"))
    var output: String?

    @Option(name: .customLong("shutdown-grace"), help: "On SIGTERM, seconds to finish exporting before exiting; what is not exported stays unacknowledged in the broker.")
    var shutdownGraceSeconds = 10.0

    @OptionGroup(title: "OTLP export (--format otlp)")
    var export: ExporterFlags

    @OptionGroup(title: "Operations")
    var operations: OperationsFlags

    @OptionGroup(title: "Logging")
    var logging: LogFlags

    @Option(name: .customLong("tree-idle"), help: "Tree: print a trace once it has had no new span for this many seconds.")
    var treeIdleSeconds: Double = 2

    @Option(help: "Colour the tree: auto, always, never.")
    var color: ColourChoice = .auto

    @Option(name: .customLong("firehose-hint-after"), help: "Seconds without any trace message, while connected, before explaining how to turn the firehose on.")
    var firehoseHintSeconds: Int64 = 60

    @OptionGroup(title: "Synthesis")
    var synthesis: SynthesisFlags

    /// Everything `run` validates before it connects anywhere (`config check` calls it too).
    func checkConfiguration() throws {
        _ = try broker.buses(purpose: "check")
        _ = try synthesis.options()
        _ = try synthesis.extraResourceAttributes()
        _ = try operations.listenAddress()
        if format == .otlp { _ = try export.configuration() }
        if format == .otlpProto { throw ValidationError("run writes otlp (export), tree or otlp-json; otlp-proto files are for replay") }
    }

    /// Parses and wires: the agent (`Agent`, in the library of that name) does the work.
    func run() async throws {
        logging.bootstrap()
        try checkConfiguration()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let status = AgentStatus(tracesKept: operations.tracesKept,
                                 exportFailureThresholdSeconds: operations.unreadyAfterSeconds)
        let buses = try broker.buses(purpose: "run")
        let configuration = AgentConfiguration(
            buses: buses, options: try synthesis.options(), shutdownGrace: .milliseconds(Int64(shutdownGraceSeconds * 1000)),
            firehoseHintSeconds: firehoseHintSeconds)
        let resourceAttributes = try synthesis.extraResourceAttributes()
        let exportConfiguration = format == .otlp ? try export.configuration() : nil
        let (format, output, color, policy) = (format, output, color, export.policy(prefetch: buses[0].topology.prefetch))
        let idleFlush = Duration.milliseconds(Int64(treeIdleSeconds * 1000))
        let clock = configuration.clock
        let agent = Agent(configuration: configuration, status: status) {
            if let exportConfiguration {
                return try ExportSink(configuration: exportConfiguration, policy: policy, resourceAttributes: resourceAttributes) { notice in
                    switch notice {
                    case .failing(let reason, _): status.exportFailing(reason, now: clock.now())
                    case .recovered: status.exportFailing(nil, now: clock.now())
                    default: break
                    }
                }
            }
            do {
                return try StreamSink(format: format, path: output, colour: color, extraResourceAttributes: resourceAttributes,
                                      idleFlush: idleFlush)
            } catch let error as OutputError {
                throw ValidationError(error.description)
            }
        }
        var services = [ServiceGroupConfiguration.ServiceConfiguration(
            service: agent, successTerminationBehavior: .gracefullyShutdownGroup,
            failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "agent")]
        if let (host, port) = try operations.listenAddress() {
            services.append(.init(
                service: HTTPListener(host: host, port: port, status: status, registry: registry, logger: agentLogger,
                                      clock: { clock.now() }),
                successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "http"))
        }
        // A second SIGINT/SIGTERM exits at once (130); the first is the service group's graceful shutdown.
        let signals = SignalHandler { first in if !first { Foundation.exit(130) } }
        defer { withExtendedLifetime(signals) {} }
        var group = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "lifecycle", factory: { _ in SwiftLogNoOpLogHandler() }))
        group.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownGraceSeconds * 1000) + 10_000)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch is QueueRefusal {
            // Logged by the agent with the broker's words and the fix.
            throw ExitCode(QueueRefusal.exitCode)
        }
    }
}

/// Turns SIGINT/SIGTERM into a call: the first asks for a graceful stop, a second one exits at once.
final class SignalHandler {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable (_ firstSignal: Bool) -> Void) {
        let count = Counter()
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(count.increment() == 1) }
            source.resume()
            return source
        }
    }

    private final class Counter: @unchecked Sendable {
        // Only touched from the signal sources' handlers, serialized by the lock.
        private let lock = NSLock()
        private var value = 0
        func increment() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
}
