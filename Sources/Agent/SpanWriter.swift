import Foundation
import TraceCore

/// Writes spans in one format to a file or standard output: the sink of `replay`, which needs no acknowledgement
/// (the live agent's are `StreamSink` and `ExportSink`).
public final class SpanWriter {
    private let format: OutputFormat
    private let handle: FileHandle
    private let colour: Bool
    private let extraResourceAttributes: [Attribute]
    private var buffered: [Span] = []
    /// OTLP/JSON lines and protobuf requests are flushed in batches of this many spans (the Collector batch
    /// processor's default), so memory stays bounded however long the capture.
    private let batchSize = 1024

    public init(format: OutputFormat, path: String?, colour: ColourChoice, extraResourceAttributes: [Attribute]) throws {
        precondition(format != .otlp, "export goes through BatchingExporter, not a file")
        self.format = format
        self.extraResourceAttributes = extraResourceAttributes
        handle = try openOutput(path, append: false)
        self.colour = colour.enabled(for: handle)
    }

    public func write(_ spans: [Span]) {
        buffered.append(contentsOf: spans)
        if format != .tree, buffered.count >= batchSize { flush() }
    }

    public func finish() throws {
        switch format {
        case .tree:
            handle.write(Data(TraceTreeRenderer(colour: colour).render(buffered).utf8))
        case .otlpJSON, .otlpProto:
            flush()
        case .otlp:
            break
        }
        buffered.removeAll()
        if handle !== FileHandle.standardOutput { try handle.close() }
    }

    private func flush() {
        guard !buffered.isEmpty else { return }
        if format == .otlpProto {
            handle.write(Data(OTLPProtobufEncoder.encode(buffered, extraResourceAttributes: extraResourceAttributes)))
        } else {
            var line = OTLPJSONEncoder.encode(buffered, extraResourceAttributes: extraResourceAttributes)
            line.append(0x0A)
            handle.write(Data(line))
        }
        buffered.removeAll(keepingCapacity: true)
    }
}
