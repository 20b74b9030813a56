/// Who emitted a span, as an OpenTelemetry resource: the OpenStack service and, when the wire tells, its host.
public struct ServiceIdentity: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var service: String
    public var host: String?

    public init(service: String, host: String? = nil) {
        self.service = service
        self.host = host
    }

    /// The attribution used when the wire cannot tell: never a guess.
    public static let unknown = ServiceIdentity(service: "unknown")

    public var isUnknown: Bool { service == Self.unknown.service }

    public var description: String { host.map { "\(service)@\($0)" } ?? service }

    public static func < (lhs: ServiceIdentity, rhs: ServiceIdentity) -> Bool {
        (lhs.service, lhs.host ?? "") < (rhs.service, rhs.host ?? "")
    }

    /// Same service, and the same host where both are known.
    func mayBe(_ other: ServiceIdentity) -> Bool {
        service == other.service && (host == nil || other.host == nil || host == other.host)
    }
}

/// A span attribute value (the subset of OTLP AnyValue the agent emits).
public enum AttributeValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
}

public struct Attribute: Equatable, Sendable {
    public var key: String
    public var value: AttributeValue

    public init(_ key: String, _ value: AttributeValue) {
        self.key = key
        self.value = value
    }
}

/// A synthesized span, independent of any encoding (OTLP protobuf, OTLP/JSON and the tree view all read it).
public struct Span: Equatable, Sendable {
    /// OTLP `Span.SpanKind` numbering.
    public enum Kind: Int, Sendable {
        case `internal` = 1
        case server = 2
        case client = 3
        case producer = 4
        case consumer = 5

        public var name: String {
            switch self {
            case .internal: "INTERNAL"
            case .server: "SERVER"
            case .client: "CLIENT"
            case .producer: "PRODUCER"
            case .consumer: "CONSUMER"
            }
        }
    }

    public struct Status: Equatable, Sendable {
        /// OTLP `Status.StatusCode` numbering.
        public enum Code: Int, Sendable {
            case unset = 0
            case ok = 1
            case error = 2
        }

        public var code: Code
        public var message: String

        public static let unset = Status(code: .unset, message: "")

        public static func error(_ message: String) -> Status { Status(code: .error, message: message) }
    }

    public struct Event: Equatable, Sendable {
        public var name: String
        public var time: Int64
        public var attributes: [Attribute]
    }

    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    /// True when the parent is another process's span (a traceparent, a trace_info or the other side of the bus).
    public var parentIsRemote: Bool
    public var traceState: String?
    public var name: String
    public var kind: Kind
    /// Unix nanoseconds.
    public var startTime: Int64
    public var endTime: Int64
    public var attributes: [Attribute]
    public var events: [Event]
    public var status: Status
    public var resource: ServiceIdentity

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID?, parentIsRemote: Bool = true, traceState: String? = nil,
        name: String, kind: Kind, startTime: Int64, endTime: Int64, attributes: [Attribute] = [],
        events: [Event] = [], status: Status = .unset, resource: ServiceIdentity
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.parentIsRemote = parentIsRemote
        self.traceState = traceState
        self.name = name
        self.kind = kind
        self.startTime = startTime
        self.endTime = max(endTime, startTime)
        self.attributes = attributes
        self.events = events
        self.status = status
        self.resource = resource
    }

    public subscript(attribute key: String) -> AttributeValue? {
        attributes.first { $0.key == key }?.value
    }
}
