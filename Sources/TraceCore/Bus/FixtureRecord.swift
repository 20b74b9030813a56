import Foundation

/// One captured message: a line of the fixture format (docs/fixture-format.md in the shared docs, and `fixtures/`).
///
/// `trace-bridge capture` writes these, `replay` and the tests read them, and the live consumer builds the same value
/// from a delivery, so that everything after the source is one code path.
public struct FixtureRecord: Equatable, Sendable {
    public enum Mode: String, Sendable {
        case firehose
        case tap
    }

    public var seq: Int64
    /// Unix time in nanoseconds when the capturing consumer received the message: the event time.
    public var capturedAt: Int64
    public var mode: Mode
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    /// The captured message's own basic properties other than headers.
    public var properties: MessageProperties
    /// The captured message's headers table (for the firehose: the broker's trace headers).
    public var headers: AMQPTable
    public var body: [UInt8]

    public init(
        seq: Int64, capturedAt: Int64, mode: Mode, exchange: String, routingKey: String, redelivered: Bool = false,
        properties: MessageProperties = MessageProperties(), headers: AMQPTable = AMQPTable(), body: [UInt8]
    ) {
        self.seq = seq
        self.capturedAt = capturedAt
        self.mode = mode
        self.exchange = exchange
        self.routingKey = routingKey
        self.redelivered = redelivered
        self.properties = properties
        self.headers = headers
        self.body = body
    }
}

/// Why a fixture line was rejected; `reason` labels the skip counter.
public struct FixtureError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var detail: String

    public var description: String { "line \(line): \(reason): \(detail)" }
}

extension FixtureRecord {
    /// Decodes one line of the fixture format. Unknown fields are ignored; a line that is not JSON or lacks
    /// `routing_key`, `captured_at` or `body_b64` is rejected.
    public init(line: [UInt8], lineNumber: Int) throws(FixtureError) {
        func fail(_ reason: String, _ detail: String) -> FixtureError {
            FixtureError(line: lineNumber, reason: reason, detail: detail)
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: line)
        } catch {
            throw fail("invalid_json", error.description)
        }
        guard case .object = json else { throw fail("not_an_object", "a fixture line must be a JSON object") }
        guard let routingKey = json["routing_key"]?.stringValue else {
            throw fail("missing_field", "routing_key (string) is required")
        }
        guard let capturedAt = json["captured_at"]?.int64Value else {
            throw fail("missing_field", "captured_at (integer nanoseconds) is required")
        }
        // Unix nanoseconds between 1970 and 2191: time arithmetic on the rest can then never overflow.
        guard (0...7_000_000_000_000_000_000).contains(capturedAt) else {
            throw fail("invalid_field", "captured_at \(capturedAt) is not Unix nanoseconds between 1970 and 2191")
        }
        guard let bodyText = json["body_b64"]?.stringValue else {
            throw fail("missing_field", "body_b64 (base64 string) is required")
        }
        guard let body = Data(base64Encoded: bodyText) else {
            throw fail("invalid_base64", "body_b64 is not valid base64")
        }
        let mode: Mode
        switch json["mode"]?.stringValue {
        case "firehose": mode = .firehose
        // Captures by other tools may leave the mode out: the firehose's routing keys tell.
        case nil: mode = routingKey.hasPrefix("publish.") || routingKey.hasPrefix("deliver.") ? .firehose : .tap
        case "tap": mode = .tap
        case let other?: throw fail("invalid_field", "mode \"\(other)\" is neither firehose nor tap")
        }
        let headers: AMQPTable
        do {
            headers = try AMQPTable(json: json["headers"] ?? .object([]), types: json["header_types"])
        } catch {
            throw fail("invalid_headers", error.detail)
        }
        var properties = MessageProperties()
        if case .object(let members) = json["properties"] ?? .null {
            let table = AMQPTable(members.compactMap { member in
                guard member.value != .null, let value = try? AMQPValue(json: member.value, type: nil) else {
                    return nil
                }
                return (member.key, value)
            })
            properties = MessageProperties(table: table)
        }
        self.init(
            seq: json["seq"]?.int64Value ?? Int64(lineNumber),
            capturedAt: capturedAt,
            mode: mode,
            exchange: json["exchange"]?.stringValue ?? (mode == .firehose ? "amq.rabbitmq.trace" : ""),
            routingKey: routingKey,
            redelivered: json["redelivered"]?.boolValue ?? false,
            properties: properties,
            headers: headers,
            body: [UInt8](body)
        )
    }

    /// The record as one fixture line (without the newline), the exact format `replay` reads.
    public func jsonLine() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("seq"); writer.int(seq)
        writer.key("captured_at"); writer.int(capturedAt)
        writer.key("mode"); writer.string(mode.rawValue)
        writer.key("exchange"); writer.string(exchange)
        writer.key("routing_key"); writer.string(routingKey)
        writer.key("redelivered"); writer.bool(redelivered)
        writer.key("properties")
        writer.beginObject()
        let table = properties.table()
        for name in MessageProperties.fieldNames {
            writer.key(name)
            if let value = table[name] { writer.value(value.jsonValue) } else { writer.null() }
        }
        writer.endObject()
        writer.key("headers"); writer.value(AMQPValue.table(headers).jsonValue)
        writer.key("header_types")
        if case .object(let types) = AMQPValue.table(headers).typeJSON, let inner = types.first?.value {
            writer.value(inner)
        } else {
            writer.value(.object([]))
        }
        writer.key("body_b64"); writer.string(Data(body).base64EncodedString())
        writer.key("body_len"); writer.int(body.count)
        writer.endObject()
        return writer.bytes
    }
}

extension MessageProperties {
    /// The properties as a field table (absent ones left out), the shape of a firehose `properties` header.
    public func table() -> AMQPTable {
        var entries: [(key: String, value: AMQPValue)] = []
        func add(_ key: String, _ value: AMQPValue?) {
            if let value { entries.append((key, value)) }
        }
        add("content_type", contentType.map(AMQPValue.string))
        add("content_encoding", contentEncoding.map(AMQPValue.string))
        add("headers", headers.map(AMQPValue.table))
        add("delivery_mode", deliveryMode.map { .integer($0, tag: UInt8(ascii: "I")) })
        add("priority", priority.map { .integer($0, tag: UInt8(ascii: "I")) })
        add("correlation_id", correlationID.map(AMQPValue.string))
        add("reply_to", replyTo.map(AMQPValue.string))
        add("expiration", expiration.map(AMQPValue.string))
        add("message_id", messageID.map(AMQPValue.string))
        add("timestamp", timestamp.map(AMQPValue.timestamp))
        add("type", type.map(AMQPValue.string))
        add("user_id", userID.map(AMQPValue.string))
        add("app_id", appID.map(AMQPValue.string))
        add("cluster_id", clusterID.map(AMQPValue.string))
        return AMQPTable(entries)
    }
}
