import TraceCore

/// Keeps spans in memory: for tests of the whole agent, and for a program that embeds it.
///
/// Settles what it accepts at once, unless `holding` is set: then nothing is settled until `release()`, as with a
/// collector that has not answered yet, so tests can check that no acknowledgement passes an unsettled input.
public final class InMemorySink: SpanSink, Sendable {
    private struct State {
        var spans: [Span] = []
        var accepted: Int64?
        var settled: Int64?
        var takenUpTo: Int64?
        var holding: Bool
        var finished = false
        var onSettled: (@Sendable (Int64) -> Void)?
    }
    private let state: Locked<State>

    public init(holding: Bool = false) {
        state = Locked(State(holding: holding))
    }

    public func accept(_ spans: [Span], through input: Int64?, now: Int64) {
        state.withLock { state in
            state.spans += spans
            if let input { state.accepted = max(state.accepted ?? input, input) }
            if !state.holding { state.settled = state.accepted }
        }
    }

    public func tick(now: Int64) {}

    public func takeSettled() -> Int64? {
        state.withLock { state in
            guard let settled = state.settled, settled > (state.takenUpTo ?? 0) else { return nil }
            state.takenUpTo = settled
            return settled
        }
    }

    public func onSettled(_ settled: @escaping @Sendable (Int64) -> Void) {
        state.withLock { $0.onSettled = settled }
    }

    /// Settles everything accepted so far and stops holding; reports it as an export finishing would.
    public func release() {
        let (settled, report) = state.withLock { state in
            state.holding = false
            state.settled = state.accepted
            return (state.accepted, state.onSettled)
        }
        if let settled, let report { report(settled) }
    }

    public func finish(grace: Duration) async {
        state.withLock { $0.finished = true }
    }

    public var spans: [Span] { state.withLock { $0.spans } }
    /// The highest input accepted as complete (what the agent told the sink).
    public var accepted: Int64? { state.withLock { $0.accepted } }
    public var finished: Bool { state.withLock { $0.finished } }

    public var summary: [String: String] { ["spans_kept": "\(spans.count)"] }
}
