import ArgumentParser
import Foundation
import TraceCore

/// How synthesized spans are written when not exported to a collector.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// One indented waterfall per trace, for people.
    case tree
    /// OTLP/JSON, one ExportTraceServiceRequest per line (the Collector file exporter's format).
    case otlpJSON = "otlp-json"
    /// One binary OTLP ExportTraceServiceRequest (protobuf) holding every span: written in batches, each an encoded
    /// request; protobuf reads concatenated messages as one whose repeated `resource_spans` are joined.
    case otlpProto = "otlp-proto"
    /// Export to an OpenTelemetry Collector over OTLP (gRPC or HTTP): `run` only.
    case otlp
}

/// Writes spans in one format to a file or standard output.
final class SpanWriter {
    private let format: OutputFormat
    private let handle: FileHandle
    private let colour: Bool
    private let extraResourceAttributes: [Attribute]
    private var buffered: [Span] = []
    /// OTLP/JSON lines and protobuf requests are flushed in batches of this many spans (the Collector batch
    /// processor's default), so memory stays bounded however long the capture.
    private let batchSize = 1024

    init(format: OutputFormat, path: String?, colour: ColourChoice, extraResourceAttributes: [Attribute]) throws {
        precondition(format != .otlp, "export goes through BatchingExporter, not a file")
        self.format = format
        self.extraResourceAttributes = extraResourceAttributes
        handle = try openOutput(path, append: false)
        self.colour = colour.enabled(for: handle)
    }

    func write(_ spans: [Span]) {
        buffered.append(contentsOf: spans)
        if format != .tree, buffered.count >= batchSize { flush() }
    }

    func finish() throws {
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

enum ColourChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never

    /// `auto` colours only standard output on a terminal, unless NO_COLOR is set; files get colour only with `always`.
    func enabled(for handle: FileHandle) -> Bool {
        switch self {
        case .always: true
        case .never: false
        case .auto:
            handle === FileHandle.standardOutput && isatty(STDOUT_FILENO) != 0
                && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        }
    }
}

/// Opens where spans or captures go: standard output for nil or "-", else the file, truncated or appended to (a
/// restarted `run` or `capture` adds to what the previous one wrote).
func openOutput(_ path: String?, append: Bool) throws -> FileHandle {
    guard let path, path != "-" else { return FileHandle.standardOutput }
    if !append || !FileManager.default.fileExists(atPath: path) {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ValidationError("cannot create output file \(path): check the directory exists and is writable")
        }
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    if append { try handle.seekToEnd() }
    return handle
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
