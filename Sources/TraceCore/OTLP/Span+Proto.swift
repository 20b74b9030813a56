import Foundation
import OTLPProto

public typealias ExportTraceServiceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest

extension Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
    /// The OTLP export request for a batch of spans, one ResourceSpans per (service, host).
    public init(spans: [Span], extraResourceAttributes: [Attribute] = []) {
        self.init()
        resourceSpans = ResourceGroup.group(spans, extraResourceAttributes: extraResourceAttributes).map {
            Opentelemetry_Proto_Trace_V1_ResourceSpans($0)
        }
    }
}

extension Opentelemetry_Proto_Trace_V1_ResourceSpans {
    init(_ group: ResourceGroup) {
        self.init()
        resource.attributes = group.attributes.map(Opentelemetry_Proto_Common_V1_KeyValue.init)
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope.name = TraceBridgeScope.name
        scopeSpans.scope.version = TraceBridgeScope.version
        scopeSpans.spans = group.spans.map(Opentelemetry_Proto_Trace_V1_Span.init)
        scopeSpans.schemaURL = TraceBridgeScope.schemaURL
        self.scopeSpans = [scopeSpans]
        schemaURL = TraceBridgeScope.schemaURL
    }
}

extension Opentelemetry_Proto_Trace_V1_Span {
    init(_ span: Span) {
        self.init()
        traceID = Data(span.traceID.bytes)
        spanID = Data(span.spanID.bytes)
        if let parent = span.parentSpanID { parentSpanID = Data(parent.bytes) }
        if let state = span.traceState { traceState = state }
        flags = span.otlpFlags
        name = span.name
        kind = Opentelemetry_Proto_Trace_V1_Span.SpanKind(rawValue: span.kind.rawValue) ?? .unspecified
        startTimeUnixNano = UInt64(clamping: span.startTime)
        endTimeUnixNano = UInt64(clamping: span.endTime)
        attributes = span.attributes.map(Opentelemetry_Proto_Common_V1_KeyValue.init)
        events = span.events.map { event in
            var proto = Opentelemetry_Proto_Trace_V1_Span.Event()
            proto.name = event.name
            proto.timeUnixNano = UInt64(clamping: event.time)
            proto.attributes = event.attributes.map(Opentelemetry_Proto_Common_V1_KeyValue.init)
            return proto
        }
        if span.status.code != .unset {
            status.code = Opentelemetry_Proto_Trace_V1_Status.StatusCode(rawValue: span.status.code.rawValue) ?? .unset
            status.message = span.status.message
        }
    }
}

extension Opentelemetry_Proto_Common_V1_KeyValue {
    init(_ attribute: Attribute) {
        self.init()
        key = attribute.key
        switch attribute.value {
        case .string(let text): value.stringValue = text
        case .int(let number): value.intValue = number
        case .bool(let flag): value.boolValue = flag
        case .double(let number): value.doubleValue = number
        }
    }
}
