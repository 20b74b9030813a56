/// What a source lets the agent see of the bus, derived from what its queue is bound to.
///
/// The firehose costs the broker per trace message it routes (docs/operations.md, Benchmarks/RESULTS.md), so the
/// cheaper source modes bind less and see less. Synthesis asks this type what the source could have seen, so that
/// it never mistakes "not visible in this mode" for "did not happen" (a missing reply is not a timeout when replies
/// are not bound), and the fidelity tests reduce a full capture to exactly what a mode would have received.
public struct SourceVisibility: Sendable, Equatable {
    /// Topic patterns bound on `amq.rabbitmq.trace` (`publish.#`, `deliver.compute.*`, ...).
    public var firehosePatterns: [String]
    /// Exchanges tapped with `#` (tap mode): their publishes arrive as plain messages, without the firehose's
    /// routing, connection and delivery facts.
    public var tapExchanges: [String]

    public init(firehosePatterns: [String] = [], tapExchanges: [String] = []) {
        self.firehosePatterns = firehosePatterns
        self.tapExchanges = tapExchanges
    }

    /// Everything: `publish.#` and `deliver.#`.
    public static let fullFirehose = SourceVisibility(firehosePatterns: ["publish.#", "deliver.#"])

    /// True when publishes to `exchange` reach the agent (the default exchange is `""`, trace key `publish.`).
    public func seesPublishes(toExchange exchange: String) -> Bool {
        tapExchanges.contains(exchange) || firehosePatterns.contains { Self.topicMatches($0, "publish.\(exchange)") }
    }

    /// True when deliveries from `queue` reach the agent.
    public func seesDeliveries(fromQueue queue: String) -> Bool {
        firehosePatterns.contains { Self.topicMatches($0, "deliver.\(queue)") }
    }

    /// RPC replies are publishes to the default exchange, which only the firehose shows (it cannot be tapped).
    public var seesReplies: Bool { seesPublishes(toExchange: "") }

    /// True when every delivery reaches the agent (`deliver.#`).
    public var seesAllDeliveries: Bool { firehosePatterns.contains { $0 == "#" || $0 == "deliver.#" } }

    /// True when firehose publishes (with their `routed_queues`) reach the agent: deliveries it does not see can
    /// then be inferred from where the broker routed each publish.
    public var seesRouting: Bool { firehosePatterns.contains { $0.hasPrefix("publish.") || $0 == "#" } }

    /// What this source would have received of a firehose event: nil when it is not bound, the event itself, or
    /// for a tap the plain message (no routing, connection or user facts; the firehose's headers are not there).
    public func reduce(_ event: BusEvent) -> BusEvent? {
        switch event.kind {
        case .deliver:
            guard let queue = event.queue, seesDeliveries(fromQueue: queue) else { return nil }
            return event
        case .publish:
            if firehosePatterns.contains(where: { Self.topicMatches($0, "publish.\(event.exchange)") }) { return event }
            guard tapExchanges.contains(event.exchange) else { return nil }
            var tapped = event
            tapped.routedQueues = nil
            tapped.connection = nil
            tapped.channel = nil
            tapped.user = nil
            tapped.node = nil
            tapped.source = .tap
            return tapped
        }
    }

    /// AMQP topic matching: words separated by `.`, `*` matches exactly one word, `#` zero or more. Words may be
    /// empty (`publish.` is the words `publish` and ``).
    public static func topicMatches(_ pattern: String, _ key: String) -> Bool {
        let patternWords = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let keyWords = key.split(separator: ".", omittingEmptySubsequences: false)
        // matches[i][j]: pattern words from i match key words from j. Iterative to stay linear in stack depth.
        var next = [Bool](repeating: false, count: keyWords.count + 1)
        next[keyWords.count] = true
        for i in stride(from: patternWords.count - 1, through: 0, by: -1) {
            var current = [Bool](repeating: false, count: keyWords.count + 1)
            let word = patternWords[i]
            for j in stride(from: keyWords.count, through: 0, by: -1) {
                if word == "#" {
                    current[j] = next[j] || (j < keyWords.count && current[j + 1])
                } else if j < keyWords.count, word == "*" || word == keyWords[j] {
                    current[j] = next[j + 1]
                }
            }
            next = current
        }
        return next[0]
    }
}

/// The documented source modes (docs/operations.md §1): each is a set of bindings with a known broker cost and a
/// known set of spans it can keep.
public enum SourceMode: String, Sendable, CaseIterable {
    /// `publish.#` + `deliver.#`: every span, queue wait included; the most expensive for the broker.
    case firehose
    /// `publish.#`: every publish including replies; deliveries inferred from `routed_queues`, without queue wait.
    case publishOnly = "publish-only"
    /// The control exchanges, replies and deliveries to compute hosts only.
    case selective
    /// No firehose: our queue bound with `#` to chosen exchanges; publishes only.
    case tap

    /// The firehose patterns the mode binds (tap binds none).
    public func firehosePatterns(controlExchanges: [String]) -> [String] {
        switch self {
        case .firehose: ["publish.#", "deliver.#"]
        case .publishOnly: ["publish.#"]
        case .selective: controlExchanges.map { "publish.\($0)" } + ["publish.", "deliver.compute.*"]
        case .tap: []
        }
    }

    public func visibility(controlExchanges: [String], tapExchanges: [String]) -> SourceVisibility {
        SourceVisibility(
            firehosePatterns: firehosePatterns(controlExchanges: controlExchanges),
            tapExchanges: self == .tap ? tapExchanges : [])
    }
}
