import Foundation
import TraceCore

/// How synthesized spans are written when not exported to a collector.
public enum OutputFormat: String, Sendable, CaseIterable {
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

public enum ColourChoice: String, Sendable, CaseIterable {
    case auto, always, never

    /// `auto` colours only standard output on a terminal, unless NO_COLOR is set; files get colour only with `always`.
    public func enabled(for handle: FileHandle) -> Bool {
        switch self {
        case .always: true
        case .never: false
        case .auto:
            handle === FileHandle.standardOutput && isatty(STDOUT_FILENO) != 0
                && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        }
    }
}
