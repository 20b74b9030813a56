import AgentHTTP
import RabbitMQ
import ServiceLifecycle
import TraceCore

/// What the agent runs with, resolved from flags, environment and file by the command line.
public struct AgentConfiguration: Sendable {
    /// Read at once, into one synthesis (at least one).
    public var buses: [Bus]
    /// `ignoredQueues` gets every bus's own queue added; `visibility` is the first bus's (all buses share one
    /// source mode: `ConfiguredBuses` refuses a mix).
    public var options: SynthesisOptions
    /// On shutdown (or a refused queue), how long the sink may take to write or export what it holds.
    public var shutdownGrace: Duration
    /// Seconds without a trace message, while connected, before explaining how to turn the firehose on.
    public var firehoseHintSeconds: Int64
    public var clock: WallClock

    public init(buses: [Bus], options: SynthesisOptions, shutdownGrace: Duration = .seconds(10),
                firehoseHintSeconds: Int64 = 60, clock: WallClock = .system) {
        precondition(!buses.isEmpty, "an agent reads at least one bus")
        self.buses = buses
        self.options = options
        for bus in buses { self.options.ignoredQueues.insert(bus.topology.queue.name) }
        // Synthesis infers nothing from what the bindings hide (a tap sees no replies and no deliveries).
        self.options.visibility = buses[0].topology.visibility
        self.shutdownGrace = shutdownGrace
        self.firehoseHintSeconds = firehoseHintSeconds
        self.clock = clock
    }
}

/// The agent: messages from every bus in, through one `EventPipeline` (decode, reorder, synthesize), spans out to
/// one sink, acknowledgements back to each bus once the spans a message produced are settled (at least once: a crash
/// never loses a message whose spans were not written or exported).
///
/// The seams are `MessageSource` (a broker, or memory) and `SpanSink` (a collector, a file, the terminal, or
/// memory); both are made inside `run`, as they belong to the one task that consumes. On graceful shutdown it stops
/// consuming on every bus, lets the sink finish within the grace period, acknowledges what is settled and returns;
/// what is not settled stays unacknowledged in the broker, which redelivers it.
public struct Agent: Service {
    public let configuration: AgentConfiguration
    public let status: AgentStatus
    private let makeSource: @Sendable (Bus) -> any MessageSource
    private let makeSink: @Sendable () throws -> any SpanSink

    /// `makeSource` defaults to a `BrokerSource` per bus.
    public init(configuration: AgentConfiguration, status: AgentStatus,
                makeSource: @escaping @Sendable (Bus) -> any MessageSource = { bus in
                    BrokerSource(settings: bus.settings, addresses: bus.addresses, topology: bus.topology)
                },
                makeSink: @escaping @Sendable () throws -> any SpanSink) {
        self.configuration = configuration
        self.status = status
        self.makeSource = makeSource
        self.makeSink = makeSink
    }

    public func run() async throws {
        let sink = try makeSink()
        let sources = configuration.buses.map(makeSource)
        try await withGracefulShutdownHandler {
            try await consume(sources, into: sink)
        } onGracefulShutdown: {
            for source in sources { source.stopConsuming() }
        }
    }

    /// One bus's connection facts, for logs, metrics and readiness.
    private struct BusState {
        var connectedAt: Int64 = 0
        var received = 0
        var reconnects = 0
        var hinted = false
        var lastReceived: DeliveryTag?
        /// `.stopped` or `.failed` came: nothing more will be delivered.
        var done = false
    }

    private func consume(_ sources: [any MessageSource], into sink: any SpanSink) async throws {
        let buses = configuration.buses
        var pipeline = EventPipeline(options: configuration.options)
        var metrics = AgentMetrics(source: buses[0].topology.mode.rawValue, buses: buses.map(\.name))
        // Rate, errors and duration of the bus from every span, before any sampling downstream (/metrics).
        var red = BusREDMetrics(serviceMap: configuration.options.serviceMap)
        var states = Array(repeating: BusState(), count: buses.count)
        var refusal: QueueRefusal?
        var headerWatch = FirehoseHeaderWatch()
        for bus in buses { status.busConnected(bus.name, false) }
        let events = Self.merge(sources)
        for source in sources { source.start() }
        for bus in buses {
            log("starting", ["bus": bus.name, "url": bus.location, "queue": bus.topology.queue.name,
                             "bindings": bus.topology.bindings.map(\.description).joined(separator: " ")])
        }

        let acknowledger = Acknowledger(sources: sources)
        sink.onSettled { input in acknowledger.settle(through: input) }
        /// What the sink is told has all its spans: every input whose predecessors the reorder window released.
        func released() -> Int64? { pipeline.releasedThrough > 0 ? pipeline.releasedThrough : nil }
        func syncMetrics() {
            metrics.syncBuses(states.enumerated().map { index, state in
                let inUse = state.lastReceived.map { received in
                    let acked = sources[index].acknowledged.flatMap { $0.generation == received.generation ? $0.tag : nil } ?? 0
                    return Int(received.tag) - Int(acked)
                } ?? 0
                return (inUse, state.reconnects, state.connectedAt > 0)
            })
            metrics.sync(pipeline: pipeline, export: (sink as? ExportSink)?.exporter.counters)
            status.busMetrics(red)
        }
        func stopAll() { for (index, source) in sources.enumerated() where !states[index].done { source.stopConsuming() } }

        for await (index, event) in events {
            let bus = buses[index]
            switch event {
            case .connected(let generation, _, let url):
                states[index].connectedAt = configuration.clock.now()
                if generation > 1 { states[index].reconnects += 1 }
                status.busConnected(bus.name, true)
                log("connected", ["bus": bus.name, "url": "\(url)", "connection": "\(generation)"])
            case .deliveries(let batch):
                for (message, tag) in batch {
                    states[index].received += 1
                    states[index].lastReceived = tag
                    metrics.count(message, bus: index)
                    let spans = pipeline.process(record: message)
                    acknowledger.record(input: pipeline.inputs, bus: index, tag: tag)
                    red.record(spans)
                    status.record(spans, now: message.capturedAt)
                    sink.accept(spans, through: released(), now: message.capturedAt)
                }
            case .tick(let now):
                let spans = pipeline.advance(to: now)
                red.record(spans)
                status.record(spans, now: now)
                sink.accept(spans, through: released(), now: now)
                sink.tick(now: now)
                syncMetrics()
                headerWatch.check(pipeline.stats.missingFirehoseHeaders, status: status)
                let state = states[index]
                if state.received == 0, !state.hinted, state.connectedAt > 0,
                    bus.topology.bindings.contains(where: { $0.exchange == QueueBinding.firehoseExchange }),
                    now - state.connectedAt > configuration.firehoseHintSeconds * 1_000_000_000
                {
                    states[index].hinted = true
                    log("no trace message yet: is the firehose on? Run `rabbitmqctl trace_on -p \(bus.settings.url.vhost)` on every RabbitMQ node (it is off after a node restart)",
                        ["bus": bus.name], level: .warning)
                }
            case .failed(let error):
                // Permanent (the broker refuses our queue): say what to do once, stop every bus, exit 76 at the end.
                states[index].done = true
                status.busConnected(bus.name, false)
                let refused = QueueRefusal(error: error, queue: bus.topology.queue, vhost: bus.settings.url.vhost)
                refusal = refused
                log(refused.message, ["bus": bus.name], level: .error)
                stopAll()
            case .disconnected(let error, let url, let next, let retryIn):
                states[index].connectedAt = 0
                status.busConnected(bus.name, false)
                var fields = ["bus": bus.name, "error": error.description, "url": "\(url)",
                              "retry_in_ms": "\(retryIn.components.seconds * 1000 + retryIn.components.attoseconds / 1_000_000_000_000_000)"]
                if bus.addresses.count > 1 { fields["next_url"] = "\(next)" }
                if let advice = error.clusterAdvice { fields["hint"] = advice }
                log("broker unavailable, retrying", fields, level: .warning)
            case .blocked(let reason):
                log("broker blocked publishers (consumption continues)", ["bus": bus.name, "reason": reason], level: .warning)
            case .unblocked:
                log("broker unblocked publishers", ["bus": bus.name])
            case .stopped:
                states[index].done = true
                status.busConnected(bus.name, false)
            }
            acknowledger.settle(through: sink.takeSettled())
            if states.allSatisfy(\.done), event.endsBus {
                // Every bus has delivered all it will: release what the reorder window holds (its messages would
                // otherwise be redelivered to an agent without their context), finish the sink (export or write
                // within the grace), acknowledge what it settled, and disconnect.
                let now = configuration.clock.now()
                let held = pipeline.releaseHeld()
                red.record(held)
                status.record(held, now: now)
                sink.accept(held, through: released(), now: now)
                await sink.finish(grace: configuration.shutdownGrace)
                acknowledger.settle(through: sink.takeSettled())
                for source in sources { source.close() }
            }
        }
        syncMetrics()
        let stats = pipeline.stats
        log("stopped", sink.summary.merging(["messages": "\(stats.messages)", "skipped": "\(stats.skippedTotal)",
                                             "timeouts": "\(pipeline.synthesizer.counters.timeouts)"]) { $1 })
        if let refusal { throw refusal }
    }

    /// Every source's events as one sequence, each tagged with its bus's index; ends when every source's ends.
    /// One bus (the usual case) reads its source's stream directly: no task and no second stream in between.
    private static func merge(_ sources: [any MessageSource]) -> any AsyncSequence<(Int, SourceEvent), Never> {
        if sources.count == 1 { return sources[0].events.map { (0, $0) } }
        let (stream, continuation) = AsyncStream.makeStream(of: (Int, SourceEvent).self)
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, source) in sources.enumerated() {
                    group.addTask {
                        for await event in source.events { continuation.yield((index, event)) }
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

extension SourceEvent {
    /// `.stopped` and `.failed` are a source's last events before it is closed.
    var endsBus: Bool {
        switch self {
        case .stopped, .failed: true
        default: false
        }
    }
}
