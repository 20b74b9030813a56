import ArgumentParser
import Dispatch
import Foundation
import RabbitMQ
import TraceCore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Consume a RabbitMQ broker's traffic and turn it into traces as it happens.",
        discussion: """
            Declares a bounded queue of its own, binds it to the firehose (amq.rabbitmq.trace) or taps exchanges, \
            and runs every message through the same decoding and synthesis as replay. A message is acknowledged \
            only once every span derived from it has been written; prefetch bounds what is held. The agent never \
            exits because the broker went away: it reconnects with backoff and declares its queue again.

            The firehose must be on for the vhost, on every node: rabbitmqctl trace_on -p / (it is off after a node \
            restart). It costs the broker CPU; see the README for the modes and their cost.

            Examples:
              TRACE_BRIDGE_AMQP_URL=amqp://tracer:secret@rabbit-1:5672/ trace-bridge run
              trace-bridge run --role hypervisor --host compute-17 --format otlp-json --output spans.jsonl
              trace-bridge run --mode publish-only
              trace-bridge run --tap-exchange nova --tap-exchange scheduler_fanout

            Exit codes: 0 after SIGINT/SIGTERM (consumption stopped, spans flushed, messages acknowledged), \
            64 for bad flags.
            """
    )

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

    @Option(name: .customLong("tree-idle"), help: "Tree: print a trace once it has had no new span for this many seconds.")
    var treeIdleSeconds: Double = 2

    @Option(help: "Colour the tree: auto, always, never.")
    var color: ColourChoice = .auto

    @Option(name: .customLong("firehose-hint-after"), help: "Seconds without any trace message, while connected, before explaining how to turn the firehose on.")
    var firehoseHintSeconds: Int64 = 60

    @OptionGroup(title: "Synthesis")
    var synthesis: SynthesisFlags

    func run() async throws {
        let topology = try broker.topology()
        let settings = try broker.connectionSettings(purpose: "run")
        var options = try synthesis.options()
        options.ignoredQueues.insert(topology.queue.name)
        // Synthesis infers nothing from what the bindings hide (a tap sees no replies and no deliveries).
        options.visibility = topology.visibility
        var pipeline = EventPipeline(options: options)
        let resourceAttributes = try synthesis.extraResourceAttributes()
        let sink: any RunSink
        switch format {
        case .otlp:
            sink = try ExportSink(configuration: try export.configuration(), policy: export.policy(prefetch: topology.prefetch),
                                  resourceAttributes: resourceAttributes)
        case .tree, .otlpJSON:
            sink = try LiveSpanSink(format: format, path: output, colour: color, extraResourceAttributes: resourceAttributes,
                                    idleFlush: .milliseconds(Int64(treeIdleSeconds * 1000)))
        case .otlpProto:
            throw ValidationError("run writes otlp (export), tree or otlp-json; otlp-proto files are for replay")
        }
        let source = BrokerSource(settings: settings, topology: topology)
        let signals = SignalHandler { stopping in
            if stopping { source.stopConsuming() } else { Foundation.exit(130) }
        }
        defer { withExtendedLifetime(signals) {} }
        source.start()
        log("starting", ["url": "\(settings.url)", "queue": topology.queue.name,
                         "bindings": topology.bindings.map(\.description).joined(separator: " ")])

        var connectedAt: Int64 = 0
        var received = 0
        var hinted = false
        for await event in source.events {
            switch event {
            case .connected(let generation, _):
                connectedAt = BrokerSource.now()
                log("connected", ["url": "\(settings.url)", "connection": "\(generation)"])
            case .delivery(let record, let tag):
                received += 1
                sink.accept(pipeline.process(record: record), from: tag, now: record.capturedAt)
            case .tick(let now):
                sink.accept(pipeline.advance(to: now), from: nil, now: now)
                sink.tick(now: now)
                if received == 0, !hinted, connectedAt > 0, topology.bindings.contains(where: { $0.exchange == QueueBinding.firehoseExchange }),
                    now - connectedAt > firehoseHintSeconds * 1_000_000_000
                {
                    hinted = true
                    log("no trace message yet: is the firehose on? Run `rabbitmqctl trace_on -p \(settings.url.vhost)` on every RabbitMQ node (it is off after a node restart)", [:])
                }
            case .disconnected(let error, let retryIn):
                connectedAt = 0
                log("broker unavailable, retrying", ["error": error.description, "retry_in_ms": "\(retryIn.components.seconds * 1000 + retryIn.components.attoseconds / 1_000_000_000_000_000)"])
            case .blocked(let reason):
                log("broker blocked publishers (consumption continues)", ["reason": reason])
            case .unblocked:
                log("broker unblocked publishers", [:])
            case .stopped:
                await sink.finish(grace: .milliseconds(Int64(shutdownGraceSeconds * 1000)))
                if let ack = sink.takeAckable() { source.acknowledge(upTo: ack) }
                source.close()
            }
            if let ack = sink.takeAckable() { source.acknowledge(upTo: ack) }
        }
        let stats = pipeline.stats
        log("stopped", sink.summary.merging(["messages": "\(stats.messages)", "skipped": "\(stats.skippedTotal)",
                                             "timeouts": "\(pipeline.synthesizer.counters.timeouts)"]) { $1 })
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

/// One log line on standard error: a constant message with data as key=value (logfmt-like).
func log(_ message: String, _ metadata: [String: String]) {
    let fields = metadata.sorted { $0.key < $1.key }.map { key, value in
        "\(key)=\(value.contains(" ") || value.contains("\"") ? "\"\(value.replacingOccurrences(of: "\"", with: "\\\""))\"" : value)"
    }
    printError((["trace-bridge: \(message)"] + fields).joined(separator: " "))
}
