import Foundation

/// What one export attempt came to, classified per the OTLP specification
/// (https://opentelemetry.io/docs/specs/otlp/#failures).
public enum ExportResult: Sendable, Equatable {
    /// The collector took the batch; `rejectedSpans` > 0 is a partial success: logged and counted, never retried.
    case accepted(rejectedSpans: Int64, message: String)
    /// Try again later: after `retryAfter` when the collector said (Retry-After, RetryInfo), else after backoff.
    case retryable(reason: String, retryAfter: Duration?)
    /// The batch will never be accepted (bad request, unauthenticated...): its spans are dropped on purpose.
    case permanent(reason: String)

    /// OTLP/HTTP: 429, 502, 503 and 504 are retryable (with `Retry-After`); any other error status is permanent.
    public static func http(status: Int, retryAfter: String?, body: String) -> ExportResult {
        switch status {
        case 200..<300:
            return .accepted(rejectedSpans: 0, message: "")
        case 429, 502, 503, 504:
            return .retryable(reason: "HTTP \(status)", retryAfter: retryAfter.flatMap(parseRetryAfter))
        default:
            let detail = body.isEmpty ? "" : ": \(body.prefix(200))"
            return .permanent(reason: "HTTP \(status)\(detail)")
        }
    }

    /// gRPC status codes: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are
    /// retryable; RESOURCE_EXHAUSTED only when the server sent RetryInfo (it can recover); the rest are permanent.
    public static func grpc(code: Int, message: String, retryInfo: Duration?) -> ExportResult {
        switch code {
        case 1, 4, 10, 11, 14, 15:
            return .retryable(reason: "gRPC \(Self.grpcCodeName(code)): \(message)", retryAfter: retryInfo)
        case 8 where retryInfo != nil:
            return .retryable(reason: "gRPC RESOURCE_EXHAUSTED: \(message)", retryAfter: retryInfo)
        default:
            return .permanent(reason: "gRPC \(Self.grpcCodeName(code)): \(message)")
        }
    }

    static func grpcCodeName(_ code: Int) -> String {
        let names = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                     "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]
        return code >= 0 && code < names.count ? names[code] : "code \(code)"
    }

    /// `Retry-After` as delay-seconds (the HTTP-date form is treated as "no hint": the backoff applies).
    static func parseRetryAfter(_ text: String) -> Duration? {
        guard let seconds = Int(text.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 3600))
    }

    /// The retry delay in a gRPC `grpc-status-details-bin` trailer: a serialized `google.rpc.Status` whose
    /// `details` hold a `google.rpc.RetryInfo`. Read by hand (three small messages) rather than generating the
    /// googleapis protos.
    public static func retryInfo(statusDetails bytes: [UInt8]) -> Duration? {
        // google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
        for (field, value) in ProtobufFields(bytes) where field == 3 {
            guard case .bytes(let any) = value else { continue }
            // google.protobuf.Any { string type_url = 1; bytes value = 2; }
            var typeURL = ""
            var payload: [UInt8] = []
            for (anyField, anyValue) in ProtobufFields(any) {
                if anyField == 1, case .bytes(let text) = anyValue { typeURL = String(decoding: text, as: UTF8.self) }
                if anyField == 2, case .bytes(let data) = anyValue { payload = data }
            }
            guard typeURL.hasSuffix("/google.rpc.RetryInfo") else { continue }
            // google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }
            for (retryField, retryValue) in ProtobufFields(payload) where retryField == 1 {
                guard case .bytes(let duration) = retryValue else { continue }
                var seconds: Int64 = 0
                var nanos: Int64 = 0
                for (durationField, durationValue) in ProtobufFields(duration) {
                    if case .varint(let number) = durationValue {
                        if durationField == 1 { seconds = Int64(bitPattern: number) }
                        if durationField == 2 { nanos = Int64(bitPattern: number) }
                    }
                }
                guard seconds >= 0, nanos >= 0 else { return nil }
                return .seconds(min(seconds, 3600)) + .nanoseconds(nanos)
            }
        }
        return nil
    }
}

/// Iterates the top-level fields of a protobuf message (varint and length-delimited; stops at anything else or at
/// malformed input, so hostile bytes end the walk instead of crashing it).
struct ProtobufFields: Sequence, IteratorProtocol {
    enum Value {
        case varint(UInt64)
        case bytes([UInt8])
    }

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func readVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    mutating func next() -> (Int, Value)? {
        guard offset < bytes.count, let key = readVarint() else { return nil }
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            guard let value = readVarint() else { return nil }
            return (field, .varint(value))
        case 2:
            guard let length = readVarint(), length <= UInt64(bytes.count - offset) else { return nil }
            let value = Array(bytes[offset..<(offset + Int(length))])
            offset += Int(length)
            return (field, .bytes(value))
        default:
            return nil
        }
    }
}
