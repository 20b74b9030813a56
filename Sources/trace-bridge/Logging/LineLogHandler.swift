import Foundation
import Logging
import TraceCore

/// The agent's log lines on standard error, one per event: constant messages with metadata, in one of three shapes.
///
/// - `text` (default): `trace-bridge: connected url=amqp://guest:****@rabbit-1:5672/` — for people at a terminal.
/// - `logfmt`: `ts=2026-11-30T07:20:22.123Z level=info msg=connected url=...` — for Loki and friends.
/// - `json`: `{"ts":"...","level":"info","msg":"connected","url":"..."}` — for log pipelines that parse JSON.
///
/// Messages are constant (`connected`, `broker unavailable, retrying`) and the variable parts are metadata, so a
/// log pipeline can count them. Secrets never reach a log line: URLs are printed masked by `AMQPURL`.
struct LineLogHandler: LogHandler {
    enum Format: String, CaseIterable, Sendable {
        case text, logfmt, json
    }

    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
        let line: String
        switch format {
        case .text:
            line = (["trace-bridge: \(event.message)"] + fields.map { "\($0)=\(Self.logfmtValue($1))" }).joined(separator: " ")
        case .logfmt:
            let head = [("ts", Self.timestamp()), ("level", event.level.rawValue), ("msg", "\(event.message)")]
            line = (head + fields).map { "\($0)=\(Self.logfmtValue($1))" }.joined(separator: " ")
        case .json:
            var writer = JSONWriter()
            writer.beginObject()
            for (key, value) in [("ts", Self.timestamp()), ("level", event.level.rawValue), ("msg", "\(event.message)")] + fields {
                writer.key(key)
                writer.string(value)
            }
            writer.endObject()
            line = String(decoding: writer.bytes, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func logfmtValue(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
