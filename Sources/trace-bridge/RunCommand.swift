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
        _ = try broker.topology()
        _ = try broker.connectionSettings(purpose: "check")
        _ = try synthesis.options()
        _ = try synthesis.extraResourceAttributes()
        _ = try operations.listenAddress()
        if format == .otlp { _ = try export.configuration() }
        if format == .otlpProto { throw ValidationError("run writes otlp (export), tree or otlp-json; otlp-proto files are for replay") }
    }

    func run() async throws {
        logging.bootstrap()
        try checkConfiguration()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let status = AgentStatus(tracesKept: operations.tracesKept,
                                 exportFailureThresholdSeconds: operations.unreadyAfterSeconds)
        let topology = try broker.topology()
        var options = try synthesis.options()
        options.ignoredQueues.insert(topology.queue.name)
        // Synthesis infers nothing from what the bindings hide (a tap sees no replies and no deliveries).
        options.visibility = topology.visibility
        let resourceAttributes = try synthesis.extraResourceAttributes()
        let exportConfiguration = format == .otlp ? try export.configuration() : nil
        let (format, output, color, policy) = (format, output, color, export.policy(prefetch: topology.prefetch))
        let idleFlush = Duration.milliseconds(Int64(treeIdleSeconds * 1000))
        // Made inside the service: a sink belongs to the one task that consumes.
        let makeSink: @Sendable () throws -> any RunSink = {
            if let exportConfiguration {
                return try ExportSink(configuration: exportConfiguration, policy: policy, resourceAttributes: resourceAttributes) { notice in
                    switch notice {
                    case .failing(let reason, _): status.exportFailing(reason, now: BrokerSource.now())
                    case .recovered: status.exportFailing(nil, now: BrokerSource.now())
                    default: break
                    }
                }
            }
            return try LiveSpanSink(format: format, path: output, colour: color, extraResourceAttributes: resourceAttributes,
                                    idleFlush: idleFlush)
        }
        let agent = AgentService(
            settings: try broker.connectionSettings(purpose: "run"), addresses: try broker.addresses(), topology: topology,
            options: options, makeSink: makeSink,
            status: status, shutdownGrace: .milliseconds(Int64(shutdownGraceSeconds * 1000)),
            firehoseHintSeconds: firehoseHintSeconds)
        var services = [ServiceGroupConfiguration.ServiceConfiguration(
            service: agent, successTerminationBehavior: .gracefullyShutdownGroup,
            failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "agent")]
        if let (host, port) = try operations.listenAddress() {
            services.append(.init(
                service: HTTPListener(host: host, port: port, status: status, registry: registry, logger: agentLogger,
                                      clock: { BrokerSource.now() }),
                successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "http"))
        }
        // A second SIGINT/SIGTERM exits at once (130); the first is the service group's graceful shutdown.
        let signals = SignalHandler { first in if !first { Foundation.exit(130) } }
        defer { withExtendedLifetime(signals) {} }
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "lifecycle", factory: { _ in SwiftLogNoOpLogHandler() }))
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownGraceSeconds * 1000) + 10_000)
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The consuming loop as a service: broker events in, spans out, acknowledgements back, status and metrics kept.
/// On graceful shutdown it stops consuming, exports what it holds within the grace period, acknowledges, and returns.
struct AgentService: Service {
    let settings: ConnectionSettings
    /// The broker's nodes, for failover (`settings.url` is the first).
    let addresses: [AMQPURL]
    let topology: SourceTopology
    let options: SynthesisOptions
    let makeSink: @Sendable () throws -> any RunSink
    let status: AgentStatus
    let shutdownGrace: Duration
    let firehoseHintSeconds: Int64

    func run() async throws {
        let sink = try makeSink()
        let source = BrokerSource(settings: settings, addresses: addresses, topology: topology)
        try await withGracefulShutdownHandler {
            try await consume(source, into: sink)
        } onGracefulShutdown: {
            source.stopConsuming()
        }
    }

    private func consume(_ source: BrokerSource, into sink: any RunSink) async throws {
        var pipeline = EventPipeline(options: options)
        var metrics = AgentMetrics(source: topology.mode.rawValue)
        source.start()
        log("starting", ["url": addresses.map(\.description).joined(separator: ","), "queue": topology.queue.name,
                         "bindings": topology.bindings.map(\.description).joined(separator: " ")])
        var connectedAt: Int64 = 0
        var received = 0
        var hinted = false
        var reconnects = 0
        var lastReceived: DeliveryTag?
        var refusal: QueueRefusal?
        var headerWatch = FirehoseHeaderWatch()
        func acknowledge() {
            if let ack = sink.takeAckable() { source.acknowledge(upTo: ack) }
        }
        // Deliveries in input order until the reorder window has released them: a delivery's spans may come out
        // later than it (cluster order), and its tag must never be acknowledged before they are accepted (at least
        // once: a crash must not lose a held message). `from:` is the highest tag whose every predecessor has left.
        var unreleased: [(sequence: Int64, tag: DeliveryTag)] = []
        var unreleasedHead = 0
        var releasedTag: DeliveryTag?
        func releasedUpTo() -> DeliveryTag? {
            let through = pipeline.releasedThrough
            while unreleasedHead < unreleased.count, unreleased[unreleasedHead].sequence <= through {
                releasedTag = unreleased[unreleasedHead].tag
                unreleasedHead += 1
            }
            if unreleasedHead > 1024, unreleasedHead * 2 > unreleased.count {
                unreleased.removeFirst(unreleasedHead)
                unreleasedHead = 0
            }
            return releasedTag
        }
        sink.onAckable { [source] tag in source.acknowledge(upTo: tag) }
        func syncMetrics() {
            let inUse = lastReceived.map { received in
                Int(received.tag) - Int(source.acknowledged.flatMap { $0.generation == received.generation ? $0.tag : nil } ?? 0)
            } ?? 0
            metrics.sync(pipeline: pipeline, export: (sink as? ExportSink)?.exporter.counters, prefetchInUse: inUse,
                         reconnects: reconnects, connected: connectedAt > 0)
        }
        for await event in source.events {
            switch event {
            case .connected(let generation, _, let url):
                connectedAt = BrokerSource.now()
                if generation > 1 { reconnects += 1 }
                status.brokerConnected(true)
                log("connected", ["url": "\(url)", "connection": "\(generation)"])
            case .deliveries(let batch):
                for (record, tag) in batch {
                    received += 1
                    metrics.count(record)
                    lastReceived = tag
                    let spans = pipeline.process(record: record)
                    unreleased.append((pipeline.inputs, tag))
                    status.record(spans, now: record.capturedAt)
                    sink.accept(spans, from: releasedUpTo(), now: record.capturedAt)
                }
            case .tick(let now):
                let spans = pipeline.advance(to: now)
                let before = releasedTag
                let released = releasedUpTo()
                status.record(spans, now: now)
                sink.accept(spans, from: released != before ? released : nil, now: now)
                sink.tick(now: now)
                syncMetrics()
                headerWatch.check(pipeline.stats.missingFirehoseHeaders, status: status)
                if received == 0, !hinted, connectedAt > 0, topology.bindings.contains(where: { $0.exchange == QueueBinding.firehoseExchange }),
                    now - connectedAt > firehoseHintSeconds * 1_000_000_000
                {
                    hinted = true
                    log("no trace message yet: is the firehose on? Run `rabbitmqctl trace_on -p \(settings.url.vhost)` on every RabbitMQ node (it is off after a node restart)", [:], level: .warning)
                }
            case .failed(let error):
                // Permanent (the broker refuses our queue): say what to do once, then exit 76, not a reconnect loop.
                status.brokerConnected(false)
                refusal = QueueRefusal(error: error, queue: topology.queue, vhost: settings.url.vhost)
                log(refusal!.message, [:], level: .error)
                await sink.finish(grace: shutdownGrace)
                acknowledge()
            case .disconnected(let error, let url, let next, let retryIn):
                connectedAt = 0
                status.brokerConnected(false)
                var fields = ["error": error.description, "url": "\(url)",
                              "retry_in_ms": "\(retryIn.components.seconds * 1000 + retryIn.components.attoseconds / 1_000_000_000_000_000)"]
                if addresses.count > 1 { fields["next_url"] = "\(next)" }
                if let advice = error.clusterAdvice { fields["hint"] = advice }
                log("broker unavailable, retrying", fields, level: .warning)
            case .blocked(let reason):
                log("broker blocked publishers (consumption continues)", ["reason": reason], level: .warning)
            case .unblocked:
                log("broker unblocked publishers", [:])
            case .stopped:
                status.brokerConnected(false)
                await sink.finish(grace: shutdownGrace)
                acknowledge()
                source.close()
            }
            acknowledge()
        }
        syncMetrics()
        let stats = pipeline.stats
        log("stopped", sink.summary.merging(["messages": "\(stats.messages)", "skipped": "\(stats.skippedTotal)",
                                             "timeouts": "\(pipeline.synthesizer.counters.timeouts)"]) { $1 })
        if refusal != nil { throw QueueRefusal.exitCode }
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
