import TraceCore

/// Where the agent's spans go: a collector (`ExportSink`), a file or the terminal (`StreamSink`), or memory
/// (`InMemorySink`, for tests and embedding).
///
/// A sink speaks in the pipeline's input sequence (`EventPipeline.inputs`: 1 for the first message the agent took,
/// from any bus), not in delivery tags: `accept(_:through:now:)` says "with these spans, every input up to `through`
/// has produced all its spans", and the sink reports back how far everything is settled (written, or accepted by the
/// collector). The agent maps that back to each bus's delivery tags (`DeliveryLedger`), so a sink knows nothing of
/// brokers and one sink serves several buses. A delivery is acknowledged only once its input is settled
/// (docs/operations.md §5).
public protocol SpanSink: AnyObject {
    /// Takes spans; `through` is the highest input whose spans are now all handed over (nil: nothing new, as for
    /// timeouts on a tick).
    func accept(_ spans: [Span], through: Int64?, now: Int64)
    /// Lets time pass: writes what is due (idle traces, batches).
    func tick(now: Int64)
    /// The highest input settled since the last call, nil when nothing new.
    func takeSettled() -> Int64?
    /// `settled` hears what becomes settled later, outside `accept` and `tick` (an export finishing).
    func onSettled(_ settled: @escaping @Sendable (Int64) -> Void)
    /// Writes or exports what is buffered, waiting at most `grace`.
    func finish(grace: Duration) async
    /// For the agent's last log line.
    var summary: [String: String] { get }
}
