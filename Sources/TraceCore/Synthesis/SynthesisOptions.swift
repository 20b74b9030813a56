/// How the synthesizer attributes, links and bounds; every default is the documented one (docs/synthesis.md).
public struct SynthesisOptions: Sendable, Equatable {
    /// What to do when a message carries its sender's own W3C trace context (oslo.messaging tracing is on).
    public enum SenderTracedPolicy: String, Sendable, CaseIterable {
        /// Emit only what the sender cannot see: queue wait (CONSUMER), call round trips (CLIENT) and server
        /// processing (SERVER), parented on the sender's spans; no PRODUCER of ours beside the sender's own.
        case complement
        /// Emit the full set anyway; our PRODUCER becomes a child of the sender's.
        case full
    }

    public var serviceMap: ServiceMap
    public var senderTraced: SenderTracedPolicy
    /// The call timeout when a call carries no `expiration` property (oslo.messaging's rpc_response_timeout).
    public var defaultCallTimeout: Int64
    /// Bounds of the correlation state: entries per table, and their maximum age.
    public var correlationCapacity: Int
    public var correlationMaximumAge: Int64
    /// Queues of our own (a tap's shadow queues): their deliveries in the firehose are ignored.
    public var ignoredQueues: Set<String>
    /// Queues whose CONSUMER spans another agent emits (topic patterns, e.g. `compute.*` when hypervisor agents
    /// run): their deliveries still link the trace here (same span IDs), but the span is left to that agent.
    public var foreignQueues: [String] = []
    /// What the source can see (its mode's bindings). Without replies: no CLIENT/SERVER spans and no invented
    /// timeouts. Deliveries it cannot see are inferred from a publish's `routed_queues` when it sees those, as
    /// CONSUMER spans without queue wait; with neither (tap), only a request's first publish is attributed to the
    /// API and later ones are `unknown`, never a guess.
    public var visibility: SourceVisibility
    /// The most bytes a compressed body (kombu_compression) may decompress to; past it the message is skipped as
    /// `compression_too_large`, so a decompression bomb costs at most this much memory.
    public var decompressionLimit = BusEvent.defaultDecompressionLimit
    /// How long, in nanoseconds of event time, an event may wait for a message of another broker node that must
    /// come first (`ReorderWindow`, docs/synthesis.md "Cluster order"); 0 turns the window off. Spans leave up to
    /// this much later; events held ≈ message rate × this.
    public var reorderWindow: Int64 = SynthesisOptions.defaultReorderWindow
    /// Most events the reorder window holds; beyond it the oldest leaves early (counted).
    public var reorderCapacity = 10_000
    /// The default hold: twice the smallest (10 ms) that keeps every shipped capture exact with three nodes whose
    /// links drift by up to 10 ms (ReorderWindowTests, 8 seeds per capture).
    public static let defaultReorderWindow: Int64 = 20_000_000

    public init(
        serviceMap: ServiceMap = .openStackDefaults,
        senderTraced: SenderTracedPolicy = .complement,
        defaultCallTimeout: Int64 = 60 * 1_000_000_000,
        correlationCapacity: Int = 100_000,
        correlationMaximumAge: Int64 = 15 * 60 * 1_000_000_000,
        ignoredQueues: Set<String> = [],
        visibility: SourceVisibility = .fullFirehose
    ) {
        self.serviceMap = serviceMap
        self.senderTraced = senderTraced
        self.defaultCallTimeout = defaultCallTimeout
        self.correlationCapacity = correlationCapacity
        self.correlationMaximumAge = correlationMaximumAge
        self.ignoredQueues = ignoredQueues
        self.visibility = visibility
    }
}

/// What the synthesizer did, for the summary and the metrics endpoint. Keys of the dictionaries are stable labels.
public struct SynthesisCounters: Sendable, Equatable {
    /// Spans by kind name (`PRODUCER`, ...), only kinds that occurred. Counted in fixed slots: this runs per span,
    /// and a dictionary keyed by name hashed the name every time.
    public var spansByKind: [String: Int] {
        var byName: [String: Int] = [:]
        for kind in [Span.Kind.internal, .server, .client, .producer, .consumer] where spanSlots[kind.rawValue] > 0 {
            byName[kind.name] = spanSlots[kind.rawValue]
        }
        return byName
    }
    private var spanSlots = [Int](repeating: 0, count: 6)

    mutating func countSpan(_ kind: Span.Kind) { spanSlots[kind.rawValue] += 1 }
    /// Events that produced no span, by reason (`duplicate_delivery`, `reply_to_unknown_call`, `own_queue`, ...).
    public var skipped: [SkipReason: Int] = [:]
    /// Correlation entries dropped for size or age, by table.
    public var evictions: [String: Int] = [:]
    /// Calls closed as timed out.
    public var timeouts = 0
    /// Publishes whose cause was ambiguous (equally good handlers about different instances): parented on their
    /// common ancestor and marked `trace_bridge.cause=ambiguous`.
    public var causeAmbiguous = 0
    /// Trace-context fields dropped while the message was kept (`_context_traceparent:invalid`, ...).
    public var rejectedContextFields: [String: Int] = [:]

    public init() {}

    public var spans: Int { spanSlots.reduce(0, +) }
}
