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
        // Asked for every routed queue of every publish: `deliver.#` answers without building the trace key.
        if seesAllDeliveries { return true }
        let key = "deliver.\(queue)"
        return firehosePatterns.contains { Self.topicMatches($0, key) }
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
    ///
    /// Synthesis asks this for every routed queue of every publish, so it walks the UTF-8 bytes in place: glob
    /// matching over words, backtracking only to the last `#` (enough when `#` matches any run of words and `*`
    /// exactly one), with no allocation.
    public static func topicMatches(_ pattern: String, _ key: String) -> Bool {
        var pattern = pattern
        var key = key
        return pattern.withUTF8 { pattern in key.withUTF8 { key in matches(pattern, key) } }
    }

    /// A word of `bytes` starting at `start` (a word start, or `bytes.count + 1` past the last word): its end, and
    /// where the next word starts.
    @inline(__always)
    private static func word(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (end: Int, next: Int) {
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: ".") { end += 1 }
        return (end, end + 1)
    }

    private static func matches(_ pattern: UnsafeBufferPointer<UInt8>, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let patternEnd = pattern.count + 1
        let keyEnd = key.count + 1
        func equal(_ p: Int, _ pEnd: Int, _ k: Int, _ kEnd: Int) -> Bool {
            guard pEnd - p == kEnd - k else { return false }
            for offset in 0..<(pEnd - p) where pattern[p + offset] != key[k + offset] { return false }
            return true
        }
        func isHash(_ p: Int, _ pEnd: Int) -> Bool { pEnd - p == 1 && pattern[p] == UInt8(ascii: "#") }
        var p = 0
        var k = 0
        var lastHash: (pattern: Int, key: Int)? = nil
        while k < keyEnd {
            if p < patternEnd {
                let (pWordEnd, pNext) = word(pattern, at: p)
                let (kWordEnd, kNext) = word(key, at: k)
                if isHash(p, pWordEnd) {
                    lastHash = (p, k)  // first try: `#` matches no word
                    p = pNext
                    continue
                }
                if (pWordEnd - p == 1 && pattern[p] == UInt8(ascii: "*")) || equal(p, pWordEnd, k, kWordEnd) {
                    p = pNext
                    k = kNext
                    continue
                }
            }
            // Mismatch: let the last `#` swallow one more key word, or fail.
            guard let hash = lastHash else { return false }
            let swallowed = word(key, at: hash.key).next
            lastHash = (hash.pattern, swallowed)
            p = word(pattern, at: hash.pattern).next
            k = swallowed
        }
        while p < patternEnd {
            let (pWordEnd, pNext) = word(pattern, at: p)
            guard isHash(p, pWordEnd) else { return false }
            p = pNext
        }
        return true
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
