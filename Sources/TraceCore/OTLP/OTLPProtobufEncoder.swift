/// Encodes spans as a binary OTLP `ExportTraceServiceRequest` directly, without building swift-protobuf messages.
///
/// Why not swift-protobuf on the hot path: building the message tree copies every string into six levels of nested
/// messages, and serializing recomputes each nested message's size at every level it is nested in (OTLP nests a
/// span's attribute values five deep), which made encoding about a third of the replay's CPU. Here each span's size
/// is computed once, the request's exact size is known before writing, and the bytes go into one allocation.
///
/// The output is byte for byte what `ExportTraceServiceRequest(spans:).serializedBytes()` produces (fields in field
/// number order, proto3 defaults left out, oneof values always written); `OTLPProtobufEncoderTests` checks that on every
/// capture and on generated edge cases, and an independent receiver decodes it with the official bindings.
public struct OTLPProtobufEncoder {
    /// Each span's encoded size, computed once per request (reused between requests).
    private var spanSizes: [Int] = []

    public init() {}

    /// One request for `spans`, grouped per resource like `ResourceGroup.group`.
    public static func encode(_ spans: [Span], extraResourceAttributes: [Attribute] = []) -> [UInt8] {
        var encoder = OTLPProtobufEncoder()
        return encoder.encode(ResourceGroup.group(spans, extraResourceAttributes: extraResourceAttributes))
    }

    /// One request holding `groups` in order.
    public mutating func encode(_ groups: [ResourceGroup]) -> [UInt8] {
        spanSizes.removeAll(keepingCapacity: true)
        var resourceSpansSizes: [Int] = []
        resourceSpansSizes.reserveCapacity(groups.count)
        var total = 0
        for group in groups {
            let size = resourceSpansSize(group)
            resourceSpansSizes.append(size)
            total += Self.lengthDelimited(size)
        }
        guard total > 0 else { return [] }
        let sizes = spanSizes
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var out = ProtobufCursor(buffer.baseAddress!)
            var spanIndex = 0
            for (group, size) in zip(groups, resourceSpansSizes) {
                out.tag(1, .lengthDelimited)  // ExportTraceServiceRequest.resource_spans
                out.varint(UInt64(size))
                writeResourceSpans(group, &out, sizes: sizes, spanIndex: &spanIndex)
            }
            initialized = out.pointer - buffer.baseAddress!
            precondition(initialized == total, "OTLP size computation and writing disagree")
        }
    }

    // MARK: Sizes (each mirrors the writer below it)

    private mutating func resourceSpansSize(_ group: ResourceGroup) -> Int {
        var spans = 0
        for span in group.spans {
            let size = Self.spanSize(span)
            spanSizes.append(size)
            spans += Self.lengthDelimited(size)
        }
        let scopeSpans = Self.lengthDelimited(Self.scopeSize) + spans + Self.schemaURLSize
        return Self.lengthDelimited(Self.attributesSize(group.attributes)) + Self.lengthDelimited(scopeSpans)
            + Self.schemaURLSize
    }

    /// `schema_url` (field 3 of both ResourceSpans and ScopeSpans).
    private static let schemaURLSize = stringFieldSize(TraceBridgeScope.schemaURL)

    private static let scopeSize =
        stringFieldSize(TraceBridgeScope.name) + stringFieldSize(TraceBridgeScope.version)

    private static func spanSize(_ span: Span) -> Int {
        var size = (2 + 16) + (2 + 8)  // trace_id, span_id: tag, length, bytes
        if let state = span.traceState { size += stringFieldSize(state) }
        if span.parentSpanID != nil { size += 2 + 8 }
        size += stringFieldSize(span.name)
        size += 1 + varintSize(UInt64(span.kind.rawValue))
        if span.startTime > 0 { size += 1 + 8 }
        if span.endTime > 0 { size += 1 + 8 }
        for attribute in span.attributes { size += lengthDelimited(keyValueSize(attribute)) }
        for event in span.events { size += lengthDelimited(eventSize(event)) }
        if span.status.code != .unset { size += lengthDelimited(statusSize(span.status)) }
        size += 2 + 4  // flags: a two-byte tag (field 16), fixed32; never 0
        return size
    }

    private static func eventSize(_ event: Span.Event) -> Int {
        (event.time > 0 ? 1 + 8 : 0) + stringFieldSize(event.name) + attributesSize(event.attributes)
    }

    private static func statusSize(_ status: Span.Status) -> Int {
        stringFieldSize(status.message) + 1 + varintSize(UInt64(status.code.rawValue))
    }

    private static func attributesSize(_ attributes: [Attribute]) -> Int {
        var size = 0
        for attribute in attributes { size += lengthDelimited(keyValueSize(attribute)) }
        return size
    }

    private static func keyValueSize(_ attribute: Attribute) -> Int {
        stringFieldSize(attribute.key) + lengthDelimited(anyValueSize(attribute.value))
    }

    private static func anyValueSize(_ value: AttributeValue) -> Int {
        switch value {
        case .string(let text): 1 + lengthDelimitedPayload(text.utf8.count)  // a oneof: written even when empty
        case .bool: 1 + 1
        case .int(let number): 1 + varintSize(UInt64(bitPattern: number))
        case .double: 1 + 8
        }
    }

    /// A one-byte tag, the length and the payload; 0 for an empty string (a proto3 default).
    @inline(__always)
    private static func stringFieldSize(_ text: String) -> Int {
        let count = text.utf8.count
        return count == 0 ? 0 : 1 + lengthDelimitedPayload(count)
    }

    /// A nested message with a one-byte tag: tag, length, payload.
    @inline(__always)
    private static func lengthDelimited(_ size: Int) -> Int { 1 + lengthDelimitedPayload(size) }

    @inline(__always)
    private static func lengthDelimitedPayload(_ size: Int) -> Int { varintSize(UInt64(size)) + size }

    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int { (64 - (value | 1).leadingZeroBitCount + 6) / 7 }

    // MARK: Writing

    private func writeResourceSpans(
        _ group: ResourceGroup, _ out: inout ProtobufCursor, sizes: [Int], spanIndex: inout Int
    ) {
        out.tag(1, .lengthDelimited)  // ResourceSpans.resource
        out.varint(UInt64(Self.attributesSize(group.attributes)))
        for attribute in group.attributes { Self.writeKeyValue(attribute, field: 1, &out) }
        var spans = 0
        for index in spanIndex..<spanIndex + group.spans.count { spans += Self.lengthDelimited(sizes[index]) }
        out.tag(2, .lengthDelimited)  // ResourceSpans.scope_spans
        out.varint(UInt64(Self.lengthDelimited(Self.scopeSize) + spans + Self.schemaURLSize))
        out.tag(1, .lengthDelimited)  // ScopeSpans.scope
        out.varint(UInt64(Self.scopeSize))
        out.string(1, TraceBridgeScope.name)
        out.string(2, TraceBridgeScope.version)
        for span in group.spans {
            out.tag(2, .lengthDelimited)  // ScopeSpans.spans
            out.varint(UInt64(sizes[spanIndex]))
            spanIndex += 1
            Self.writeSpan(span, &out)
        }
        // Field order as SwiftProtobuf writes it (the byte-for-byte test compares): ScopeSpans.schema_url after
        // its spans, then ResourceSpans.schema_url after its scope_spans.
        out.string(3, TraceBridgeScope.schemaURL)
        out.string(3, TraceBridgeScope.schemaURL)
    }

    private static func writeSpan(_ span: Span, _ out: inout ProtobufCursor) {
        out.tag(1, .lengthDelimited)
        out.varint(16)
        out.bigEndian(span.traceID.high)
        out.bigEndian(span.traceID.low)
        out.tag(2, .lengthDelimited)
        out.varint(8)
        out.bigEndian(span.spanID.value)
        if let state = span.traceState { out.string(3, state) }
        if let parent = span.parentSpanID {
            out.tag(4, .lengthDelimited)
            out.varint(8)
            out.bigEndian(parent.value)
        }
        out.string(5, span.name)
        out.tag(6, .varint)
        out.varint(UInt64(span.kind.rawValue))
        if span.startTime > 0 {
            out.tag(7, .fixed64)
            out.fixed64(UInt64(span.startTime))
        }
        if span.endTime > 0 {
            out.tag(8, .fixed64)
            out.fixed64(UInt64(span.endTime))
        }
        for attribute in span.attributes { writeKeyValue(attribute, field: 9, &out) }
        for event in span.events {
            out.tag(11, .lengthDelimited)
            out.varint(UInt64(eventSize(event)))
            if event.time > 0 {
                out.tag(1, .fixed64)
                out.fixed64(UInt64(event.time))
            }
            out.string(2, event.name)
            for attribute in event.attributes { writeKeyValue(attribute, field: 3, &out) }
        }
        if span.status.code != .unset {
            out.tag(15, .lengthDelimited)
            out.varint(UInt64(statusSize(span.status)))
            out.string(2, span.status.message)
            out.tag(3, .varint)
            out.varint(UInt64(span.status.code.rawValue))
        }
        out.tag(16, .fixed32)
        out.fixed32(span.otlpFlags)
    }

    private static func writeKeyValue(_ attribute: Attribute, field: Int, _ out: inout ProtobufCursor) {
        out.tag(field, .lengthDelimited)
        out.varint(UInt64(keyValueSize(attribute)))
        out.string(1, attribute.key)
        out.tag(2, .lengthDelimited)
        out.varint(UInt64(anyValueSize(attribute.value)))
        switch attribute.value {
        case .string(let text):
            out.tag(1, .lengthDelimited)
            out.varint(UInt64(text.utf8.count))
            out.utf8(text)
        case .bool(let flag):
            out.tag(2, .varint)
            out.varint(flag ? 1 : 0)
        case .int(let number):
            out.tag(3, .varint)
            out.varint(UInt64(bitPattern: number))
        case .double(let number):
            out.tag(4, .fixed64)
            out.fixed64(number.bitPattern)
        }
    }
}

/// Writes protobuf wire primitives into memory the caller sized exactly.
struct ProtobufCursor {
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    var pointer: UnsafeMutablePointer<UInt8>

    init(_ pointer: UnsafeMutablePointer<UInt8>) { self.pointer = pointer }

    @inline(__always)
    mutating func tag(_ field: Int, _ wireType: WireType) { varint(UInt64(field) << 3 | wireType.rawValue) }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            pointer.pointee = UInt8(truncatingIfNeeded: value) | 0x80
            pointer += 1
            value >>= 7
        }
        pointer.pointee = UInt8(value)
        pointer += 1
    }

    @inline(__always)
    mutating func fixed64(_ value: UInt64) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value.littleEndian, as: UInt64.self)
        pointer += 8
    }

    @inline(__always)
    mutating func fixed32(_ value: UInt32) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value.littleEndian, as: UInt32.self)
        pointer += 4
    }

    /// Eight bytes of an ID, most significant first (the wire order of trace and span IDs).
    @inline(__always)
    mutating func bigEndian(_ value: UInt64) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value.bigEndian, as: UInt64.self)
        pointer += 8
    }

    /// A string field, left out when empty (the proto3 default).
    @inline(__always)
    mutating func string(_ field: Int, _ text: String) {
        let count = text.utf8.count
        guard count > 0 else { return }
        tag(field, .lengthDelimited)
        varint(UInt64(count))
        utf8(text)
    }

    @inline(__always)
    mutating func utf8(_ text: String) {
        let copied = text.utf8.withContiguousStorageIfAvailable { source in
            pointer.initialize(from: source.baseAddress!, count: source.count)
            return source.count
        }
        if let copied {
            pointer += copied
        } else {
            for byte in text.utf8 {
                pointer.pointee = byte
                pointer += 1
            }
        }
    }
}
