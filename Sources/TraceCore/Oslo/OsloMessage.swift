/// What the agent keeps of an oslo.messaging message: routing facts, an allow-listed context and the instance UUID
/// it is about, never the rest of `args`, `result`, `auth_token`, `service_catalog` or `trace_info.hmac_key` (they
/// never leave the decoder).
public struct OsloMessage: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// An RPC cast, call or fanout cast (has `method`).
        case request
        /// An RPC reply or call-monitor heartbeat (has `ending`).
        case reply
        /// A notification (has `event_type`).
        case notification
    }

    public var kind: Kind
    /// `oslo.version` of the envelope; nil for a bare (v1) message.
    public var envelopeVersion: String?

    /// `_unique_id`: unique per published message; the dedup key and the span identity.
    public var uniqueID: String?

    // RPC request
    public var method: String?
    public var namespace: String?
    public var version: String?
    /// `_msg_id` (calls and replies): the call/reply correlation ID.
    public var msgID: String?
    /// `_reply_q` (calls): the caller's reply queue.
    public var replyQueue: String?
    /// `_timeout` (calls): the call-monitor interval in seconds, not the call timeout.
    public var monitorTimeout: Double?

    // RPC reply
    /// `ending`: true for the final reply, false for a call-monitor heartbeat.
    public var ending: Bool?
    public var failure: RemoteFailure?

    // Notification
    public var messageID: String?
    public var publisherID: String?
    public var eventType: String?
    public var priority: String?
    public var timestamp: String?

    /// The instance the message is about (`MessageSubject`'s allow-list: the `uuid` of the `Instance` in `args`,
    /// the instance ID of a notification payload); the only value ever read from `args` or `payload`.
    public var subject: String?

    public var context: OsloContext

    public init(kind: Kind, context: OsloContext = OsloContext()) {
        self.kind = kind
        self.context = context
    }

    /// True for a call (a request that expects a reply).
    public var isCall: Bool { kind == .request && msgID != nil }
    /// True for a heartbeat reply (`ending: false`): it extends a call, it is not its reply.
    public var isHeartbeat: Bool { kind == .reply && ending == false }
}

/// The allow-listed part of a flattened request context (`_context_<key>`).
public struct OsloContext: Equatable, Sendable {
    public var requestID: String?
    public var globalRequestID: String?
    public var userID: String?
    public var projectID: String?
    /// Valid W3C trace context from `_context_traceparent` (oslo.messaging's own tracing).
    public var traceParent: TraceParent?
    public var traceState: String?
    /// osprofiler `trace_info`: `base_id` and `parent_id` only (its `hmac_key` is a secret and is dropped).
    public var traceInfo: ProfilerTraceInfo?
    /// Problems with trace-context fields that were dropped while the rest of the message was kept.
    public var rejectedFields: [String] = []

    public init() {}

    /// True when the context names a user (an API request rather than a periodic or admin task).
    public var namesUser: Bool { userID != nil }
}

/// osprofiler's propagated trace point.
public struct ProfilerTraceInfo: Equatable, Sendable {
    /// The request's trace (as a UUID): the trace ID.
    public var baseID: TraceID
    /// The sender's trace point (as a UUID): its low 64 bits are the span osprofiler's OTLP driver exported.
    public var parentSpanID: SpanID
}

/// A remote exception carried by a failure reply. Only the class, module and message are kept: the traceback
/// (`tb`) leaks file paths and stays in the decoder.
public struct RemoteFailure: Equatable, Sendable {
    public var className: String
    public var module: String?
    public var message: String

    /// `module.class`, the exception's full name.
    public var qualifiedName: String {
        if let module, !module.isEmpty { return "\(module).\(className)" }
        return className
    }
}
