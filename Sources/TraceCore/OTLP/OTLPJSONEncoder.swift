/// OTLP/JSON per the OTLP specification's JSON mapping: lowerCamelCase keys, trace and span IDs as hex (not
/// base64), enums as integers, 64-bit integers as decimal strings. One `ExportTraceServiceRequest` per call, the
/// line format of the Collector's file exporter.
public enum OTLPJSONEncoder {
    public static func encode(_ spans: [Span], extraResourceAttributes: [Attribute] = []) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("resourceSpans")
        writer.beginArray()
        for group in ResourceGroup.group(spans, extraResourceAttributes: extraResourceAttributes) {
            writer.beginObject()
            writer.key("resource")
            writer.beginObject()
            writer.key("attributes")
            write(group.attributes, to: &writer)
            writer.endObject()
            writer.key("scopeSpans")
            writer.beginArray()
            writer.beginObject()
            writer.key("scope")
            writer.beginObject()
            writer.key("name"); writer.string(TraceBridgeScope.name)
            writer.key("version"); writer.string(TraceBridgeScope.version)
            writer.endObject()
            writer.key("spans")
            writer.beginArray()
            for span in group.spans { write(span, to: &writer) }
            writer.endArray()
            writer.key("schemaUrl"); writer.string(TraceBridgeScope.schemaURL)
            writer.endObject()
            writer.endArray()
            writer.key("schemaUrl"); writer.string(TraceBridgeScope.schemaURL)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    private static func write(_ span: Span, to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("traceId"); writer.string(span.traceID.hex)
        writer.key("spanId"); writer.string(span.spanID.hex)
        if let state = span.traceState { writer.key("traceState"); writer.string(state) }
        if let parent = span.parentSpanID { writer.key("parentSpanId"); writer.string(parent.hex) }
        writer.key("flags"); writer.int(span.otlpFlags)
        writer.key("name"); writer.string(span.name)
        writer.key("kind"); writer.int(span.kind.rawValue)
        writer.key("startTimeUnixNano"); writer.string(String(span.startTime))
        writer.key("endTimeUnixNano"); writer.string(String(span.endTime))
        writer.key("attributes"); write(span.attributes, to: &writer)
        if !span.events.isEmpty {
            writer.key("events")
            writer.beginArray()
            for event in span.events {
                writer.beginObject()
                writer.key("timeUnixNano"); writer.string(String(event.time))
                writer.key("name"); writer.string(event.name)
                writer.key("attributes"); write(event.attributes, to: &writer)
                writer.endObject()
            }
            writer.endArray()
        }
        writer.key("status")
        writer.beginObject()
        if span.status.code != .unset {
            writer.key("code"); writer.int(span.status.code.rawValue)
            writer.key("message"); writer.string(span.status.message)
        }
        writer.endObject()
        writer.endObject()
    }

    private static func write(_ attributes: [Attribute], to writer: inout JSONWriter) {
        writer.beginArray()
        for attribute in attributes {
            writer.beginObject()
            writer.key("key"); writer.string(attribute.key)
            writer.key("value")
            writer.beginObject()
            switch attribute.value {
            case .string(let text): writer.key("stringValue"); writer.string(text)
            case .int(let number): writer.key("intValue"); writer.string(String(number))
            case .bool(let flag): writer.key("boolValue"); writer.bool(flag)
            case .double(let number): writer.key("doubleValue"); writer.double(number)
            }
            writer.endObject()
            writer.endObject()
        }
        writer.endArray()
    }
}
