import BodyDecompression

/// Why an input made no span: the closed set of `reason` labels of `trace_bridge_decode_failures_total` and
/// `trace_bridge_events_without_span_total`, and the keys of replay's summary.
///
/// The raw values are the label strings dashboards, alerts and docs/operations.md §10 use, so they never change; a
/// new reason is a new case (and a new row in that table: `SkipReasonTests` compares the two both ways). Being an
/// enum, every label the agent can emit is listed here, not assembled from strings at the place of failure.
public enum SkipReason: String, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    // MARK: A fixture line that is not a captured message (`BusMessage`)
    case fixtureInvalidJSON = "fixture_invalid_json"
    case fixtureNotAnObject = "fixture_not_an_object"
    case fixtureMissingField = "fixture_missing_field"
    case fixtureInvalidField = "fixture_invalid_field"
    case fixtureInvalidBase64 = "fixture_invalid_base64"
    case fixtureInvalidHeaders = "fixture_invalid_headers"

    // MARK: A captured message that is not a bus event (`BusEvent`)
    case firehoseUnknownTraceRoutingKey = "firehose_unknown_trace_routing_key"

    // MARK: A compressed body that yields nothing to decode (`BusEvent.decodableBody`)
    case compressionUnknownCodec = "compression_unknown_codec"
    case compressionTooLarge = "compression_too_large"
    case compressionCorrupt = "compression_corrupt"
    case compressionDecoderFailed = "compression_decoder_failed"

    // MARK: A body that is not an oslo.messaging message the agent can use (`OsloDecoder`)
    case osloNotJSONObject = "oslo_not_json_object"
    case osloEnvelopeMessageNotString = "oslo_envelope_message_not_string"
    case osloInnerNotJSONObject = "oslo_inner_not_json_object"
    case osloWrongType = "oslo_wrong_type"
    case osloNotOslo = "oslo_not_oslo"
    case osloJSONUnexpectedEnd = "oslo_json_unexpected_end"
    case osloJSONUnexpectedByte = "oslo_json_unexpected_byte"
    case osloJSONInvalidEscape = "oslo_json_invalid_escape"
    case osloJSONInvalidUTF8 = "oslo_json_invalid_utf8"
    case osloJSONInvalidNumber = "oslo_json_invalid_number"
    case osloJSONTooDeep = "oslo_json_too_deep"
    case osloJSONTrailingData = "oslo_json_trailing_data"
    case osloInnerJSONUnexpectedEnd = "oslo_inner_json_unexpected_end"
    case osloInnerJSONUnexpectedByte = "oslo_inner_json_unexpected_byte"
    case osloInnerJSONInvalidEscape = "oslo_inner_json_invalid_escape"
    case osloInnerJSONInvalidUTF8 = "oslo_inner_json_invalid_utf8"
    case osloInnerJSONInvalidNumber = "oslo_inner_json_invalid_number"
    case osloInnerJSONTooDeep = "oslo_inner_json_too_deep"
    case osloInnerJSONTrailingData = "oslo_inner_json_trailing_data"

    // MARK: A decoded event that makes no span, on purpose (`SpanSynthesizer`)
    case duplicatePublish = "duplicate_publish"
    case inferredDeliveryToUnmappedQueue = "inferred_delivery_to_unmapped_queue"
    case inferredDeliveryToStreamQueue = "inferred_delivery_to_stream_queue"
    case ownQueue = "own_queue"
    case duplicateDelivery = "duplicate_delivery"
    case foreignQueue = "foreign_queue"
    case replyToUnknownCall = "reply_to_unknown_call"
    case duplicateReply = "duplicate_reply"
    case replyAfterTimeout = "reply_after_timeout"

    /// The two counters a reason can label.
    public enum Counter: String, Sendable {
        /// `trace_bridge_decode_failures_total`: the message could not be read (`PipelineStats.skipped`).
        case decodeFailures = "decode_failures_total"
        /// `trace_bridge_events_without_span_total`: read, and left out by a synthesis rule
        /// (`SynthesisCounters.skipped`).
        case eventsWithoutSpan = "events_without_span_total"
    }

    /// The counter this reason labels.
    public var counter: Counter {
        switch self {
        case .duplicatePublish, .inferredDeliveryToUnmappedQueue, .inferredDeliveryToStreamQueue, .ownQueue,
             .duplicateDelivery, .foreignQueue, .replyToUnknownCall, .duplicateReply, .replyAfterTimeout:
            return .eventsWithoutSpan
        default:
            return .decodeFailures
        }
    }

    /// The label without its stage prefix (`missing_field` for `fixture_missing_field`): what an error's own
    /// description names, since the stage is already clear where it is printed.
    public var detailName: String {
        for prefix in ["fixture_", "firehose_", "compression_", "oslo_"] where rawValue.hasPrefix(prefix) {
            return String(rawValue.dropFirst(prefix.count))
        }
        return rawValue
    }

    /// The label itself, so summaries and logs print `oslo_not_oslo`, never the case name.
    public var description: String { rawValue }

    /// Ordered by label, as the replay summary lists them.
    public static func < (lhs: SkipReason, rhs: SkipReason) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The reason for a JSON error in the envelope (`inner == false`) or in the `oslo.message` string it carries.
    static func oslo(_ code: JSONError.Code, inner: Bool) -> SkipReason {
        switch code {
        case .unexpectedEnd: inner ? .osloInnerJSONUnexpectedEnd : .osloJSONUnexpectedEnd
        case .unexpectedByte: inner ? .osloInnerJSONUnexpectedByte : .osloJSONUnexpectedByte
        case .invalidEscape: inner ? .osloInnerJSONInvalidEscape : .osloJSONInvalidEscape
        case .invalidUTF8: inner ? .osloInnerJSONInvalidUTF8 : .osloJSONInvalidUTF8
        case .invalidNumber: inner ? .osloInnerJSONInvalidNumber : .osloJSONInvalidNumber
        case .tooDeep: inner ? .osloInnerJSONTooDeep : .osloJSONTooDeep
        case .trailingData: inner ? .osloInnerJSONTrailingData : .osloJSONTrailingData
        }
    }

    /// The reason for a body the decompressor gave up on.
    static func compression(_ reason: DecompressionError.Reason) -> SkipReason {
        switch reason {
        case .tooLarge: .compressionTooLarge
        case .corrupt: .compressionCorrupt
        case .failed: .compressionDecoderFailed
        }
    }
}
