import Foundation
import TraceCore

/// Writes the agent's spans to a file or standard output (`--format tree|otlp-json`) and says how far its inputs
/// are settled: an input is settled once every span derived from it, and from every earlier input, has been written
/// (docs/operations.md §5).
///
/// OTLP/JSON is written in batches (every 1024 spans or 100 deliveries, and on each tick); the tree view prints a trace once no span
/// of it has arrived for `idleFlush`, so a trace appears whole as soon as it goes quiet.
public final class StreamSink: SpanSink {
    private let format: OutputFormat
    private let handle: FileHandle
    private let colour: Bool
    private let extraResourceAttributes: [Attribute]
    private let idleFlush: Int64
    private let batchSize = 1024
    /// OTLP/JSON is also written after this many deliveries, so acknowledgements keep pace with prefetch.
    private let deliveriesPerWrite = 100

    /// Spans not yet written, by trace, with the time the trace last grew.
    private var buffered: [TraceID: (spans: [Span], updated: Int64)] = [:]
    private var bufferedCount = 0
    /// Inputs in order with the traces their spans went to; settled once all those traces are written.
    private var pending: [(input: Int64, traces: Set<TraceID>)] = []
    private var pendingHead = 0
    private var settled: Int64?
    private(set) var spansWritten = 0
    private(set) var tracesWritten = 0

    public init(format: OutputFormat, path: String?, colour: ColourChoice, extraResourceAttributes: [Attribute],
                idleFlush: Duration) throws {
        precondition(format == .tree || format == .otlpJSON, "a stream sink writes tree or otlp-json")
        self.format = format
        self.extraResourceAttributes = extraResourceAttributes
        self.idleFlush = Int64(idleFlush.components.seconds) * 1_000_000_000 + idleFlush.components.attoseconds / 1_000_000_000
        handle = try openOutput(path, append: true)
        self.colour = colour.enabled(for: handle)
    }

    /// Takes the spans that complete the inputs through `input`, or that time produced (`input` nil: timeouts).
    public func accept(_ spans: [Span], through input: Int64?, now: Int64) {
        var traces = Set<TraceID>()
        for span in spans {
            traces.insert(span.traceID)
            buffered[span.traceID, default: ([], now)].spans.append(span)
            buffered[span.traceID]!.updated = now
        }
        bufferedCount += spans.count
        if let input { pending.append((input, traces)) }
        if format == .otlpJSON, bufferedCount >= batchSize || pending.count - pendingHead >= deliveriesPerWrite {
            flush(buffered.keys)
        }
        advanceAcks()
    }

    /// Writes what is due: everything for OTLP/JSON, quiet traces for the tree.
    public func tick(now: Int64) {
        switch format {
        case .otlpJSON: flush(buffered.keys)
        default: flush(buffered.filter { now - $0.value.updated >= idleFlush }.keys)
        }
        advanceAcks()
    }

    /// Writes everything (shutdown).
    func flushAll() {
        flush(buffered.keys)
        advanceAcks()
    }

    /// The highest input whose spans, and every earlier input's, are written; nil when nothing new.
    public func takeSettled() -> Int64? {
        defer { settled = nil }
        return settled
    }

    /// Writing is synchronous: what `accept` and `tick` write is settled right after them.
    public func onSettled(_ settled: @escaping @Sendable (Int64) -> Void) {}

    public func finish(grace: Duration) async { flushAll() }

    public var summary: [String: String] { ["spans_written": "\(spansWritten)"] }

    private func flush(_ traces: some Collection<TraceID>) {
        let selected = Array(traces)
        guard !selected.isEmpty else { return }
        var spans: [Span] = []
        for trace in selected {
            if let entry = buffered.removeValue(forKey: trace) { spans += entry.spans }
        }
        bufferedCount -= spans.count
        spansWritten += spans.count
        tracesWritten += selected.count
        switch format {
        case .otlpJSON:
            var line = OTLPJSONEncoder.encode(spans, extraResourceAttributes: extraResourceAttributes)
            line.append(0x0A)
            handle.write(Data(line))
        default:
            handle.write(Data(TraceTreeRenderer(colour: colour).render(spans).utf8))
        }
    }

    private func advanceAcks() {
        while pendingHead < pending.count {
            let entry = pending[pendingHead]
            guard entry.traces.allSatisfy({ buffered[$0] == nil }) else { break }
            settled = entry.input
            pendingHead += 1
        }
        if pendingHead > 4096, pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
    }
}
