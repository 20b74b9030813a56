import CRabbitMQ
import TraceCore

extension Delivery {
    /// Copies everything out of rabbitmq-c's decoded frames (their buffers are reused for the next delivery).
    /// Strings the connection's `interner` already holds are shared instead of copied: the result is the same.
    init(deliver: amqp_basic_deliver_t, properties: amqp_basic_properties_t, body: [UInt8], interner: StringInterner?) {
        deliveryTag = deliver.delivery_tag
        exchange = AMQPConnection.string(deliver.exchange, interner)
        routingKey = AMQPConnection.string(deliver.routing_key, interner)
        redelivered = deliver.redelivered != 0
        (self.properties, headers) = Self.decode(properties, interner)
        self.body = body
    }

    private static func decode(_ p: amqp_basic_properties_t, _ interner: StringInterner?) -> (MessageProperties, AMQPTable) {
        var properties = MessageProperties()
        func has(_ flag: amqp_flags_t) -> Bool { p._flags & flag != 0 }
        func text(_ bytes: amqp_bytes_t) -> String { AMQPConnection.string(bytes, interner) }
        if has(TB_BASIC_CONTENT_TYPE_FLAG) { properties.contentType = text(p.content_type) }
        if has(TB_BASIC_CONTENT_ENCODING_FLAG) { properties.contentEncoding = text(p.content_encoding) }
        if has(TB_BASIC_DELIVERY_MODE_FLAG) { properties.deliveryMode = Int64(p.delivery_mode) }
        if has(TB_BASIC_PRIORITY_FLAG) { properties.priority = Int64(p.priority) }
        if has(TB_BASIC_CORRELATION_ID_FLAG) { properties.correlationID = text(p.correlation_id) }
        if has(TB_BASIC_REPLY_TO_FLAG) { properties.replyTo = text(p.reply_to) }
        if has(TB_BASIC_EXPIRATION_FLAG) { properties.expiration = text(p.expiration) }
        if has(TB_BASIC_MESSAGE_ID_FLAG) { properties.messageID = text(p.message_id) }
        if has(TB_BASIC_TIMESTAMP_FLAG) { properties.timestamp = Int64(truncatingIfNeeded: p.timestamp) }
        if has(TB_BASIC_TYPE_FLAG) { properties.type = text(p.type) }
        if has(TB_BASIC_USER_ID_FLAG) { properties.userID = text(p.user_id) }
        if has(TB_BASIC_APP_ID_FLAG) { properties.appID = text(p.app_id) }
        if has(TB_BASIC_CLUSTER_ID_FLAG) { properties.clusterID = text(p.cluster_id) }
        let headers = has(TB_BASIC_HEADERS_FLAG) ? AMQPTable(p.headers, depth: 0, interner: interner) : AMQPTable()
        return (properties, headers)
    }

    /// The delivery as a fixture record: what `capture` writes and what `run` feeds the pipeline, so that a replay
    /// of a capture gives the same spans as the live run.
    public func record(seq: Int64, receivedAt: Int64, mode: BusMessage.Mode) -> BusMessage {
        BusMessage(
            seq: seq, capturedAt: receivedAt, mode: mode,
            exchange: exchange, routingKey: routingKey, redelivered: redelivered, properties: properties,
            headers: headers, body: body)
    }
}

extension AMQPTable {
    /// Nested tables and arrays deeper than this become void: a hostile header cannot recurse us off the stack, and
    /// a capture of it stays readable (its `header_types` spend two JSON levels per AMQP level, and the capture
    /// reader stops at JSONScanner.maximumDepth, 128). Real headers nest 3 or 4 levels. Found by fuzzing.
    static let maximumDepth = 32

    init(_ table: amqp_table_t, depth: Int, interner: StringInterner?) {
        var entries: [(key: String, value: AMQPValue)] = []
        if table.num_entries > 0, let base = table.entries {
            entries.reserveCapacity(Int(table.num_entries))
            for index in 0..<Int(table.num_entries) {
                let entry = base[index]
                entries.append((AMQPConnection.string(entry.key, interner),
                                AMQPValue(entry.value, depth: depth + 1, interner: interner)))
            }
        }
        self.init(entries)
    }
}

extension AMQPValue {
    init(_ field: amqp_field_value_t, depth: Int, interner: StringInterner?) {
        let tag = field.kind
        let value = field.value
        switch tag {
        case UInt8(ascii: "t"): self = .boolean(value.boolean != 0)
        case UInt8(ascii: "b"): self = .integer(Int64(value.i8), tag: tag)
        case UInt8(ascii: "B"): self = .integer(Int64(value.u8), tag: tag)
        case UInt8(ascii: "s"): self = .integer(Int64(value.i16), tag: tag)
        case UInt8(ascii: "u"): self = .integer(Int64(value.u16), tag: tag)
        case UInt8(ascii: "I"): self = .integer(Int64(value.i32), tag: tag)
        case UInt8(ascii: "i"): self = .integer(Int64(value.u32), tag: tag)
        case UInt8(ascii: "l"): self = .integer(value.i64, tag: tag)
        case UInt8(ascii: "L"): self = .integer(Int64(truncatingIfNeeded: value.u64), tag: tag)
        case UInt8(ascii: "f"): self = .float(Double(value.f32), tag: tag)
        case UInt8(ascii: "d"): self = .float(value.f64, tag: tag)
        case UInt8(ascii: "D"):
            self = .decimal(Self.decimalDigits(value.decimal.value, scale: Int(value.decimal.decimals)))
        case UInt8(ascii: "S"):
            let buffer = AMQPConnection.buffer(value.bytes)
            if let text = interner?.string(buffer) ?? UTF8Text.string(buffer) {
                self = .string(text)
            } else {
                self = .bytes(AMQPConnection.bytes(value.bytes), tag: tag)
            }
        case UInt8(ascii: "x"): self = .bytes(AMQPConnection.bytes(value.bytes), tag: tag)
        case UInt8(ascii: "T"): self = .timestamp(Int64(truncatingIfNeeded: value.u64))
        case UInt8(ascii: "F"):
            self = depth > AMQPTable.maximumDepth ? .void : .table(AMQPTable(value.table, depth: depth, interner: interner))
        case UInt8(ascii: "A"):
            guard depth <= AMQPTable.maximumDepth else {
                self = .void
                return
            }
            var values: [AMQPValue] = []
            if value.array.num_entries > 0, let base = value.array.entries {
                values.reserveCapacity(Int(value.array.num_entries))
                for index in 0..<Int(value.array.num_entries) {
                    values.append(AMQPValue(base[index], depth: depth + 1, interner: interner))
                }
            }
            self = .array(values)
        default:
            self = .void
        }
    }

    static func decimalDigits(_ value: UInt32, scale: Int) -> String {
        var digits = String(value)
        guard scale > 0 else { return digits }
        if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
        digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        return digits
    }
}
