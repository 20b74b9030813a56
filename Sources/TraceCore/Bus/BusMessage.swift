import Foundation

/// One message from the bus, as captured or as delivered: the unit everything after the source works on. A line of the
/// fixture format (docs/fixture-format.md; the shipped captures are in `fixtures/`) decodes to one.
///
/// `trace-bridge capture` writes these, `replay` and the tests read them, and the live consumer builds the same value
/// from a delivery, so that everything after the source is one code path.
public struct BusMessage: Equatable, Sendable {
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
    public var reason: SkipReason
    public var detail: String

    public var description: String { "line \(line): \(reason.detailName): \(detail)" }
}

extension BusMessage {
    /// Decodes one line of the fixture format. Unknown fields are ignored; a line that is not JSON or lacks
    /// `routing_key`, `captured_at` or `body_b64` is rejected. As in any JSON object lookup here, the first of
    /// duplicate members counts.
    ///
    /// Lines of the shape `trace-bridge capture` writes are read by `fastLine` without building JSON values; any
    /// other line (and every invalid one, so errors read the same) by the reference reader.
    public init(line: [UInt8], lineNumber: Int) throws(FixtureError) {
        if let record = Self.fastLine(line, lineNumber: lineNumber) {
            self = record
        } else {
            try self.init(referenceLine: line, lineNumber: lineNumber)
        }
    }

    /// The reference reader, for every line: one pass over the line, the base64 body decoded from the line's bytes in
    /// place, the small members (headers, properties) built as `JSONValue`s and converted. `fastLine` must agree with
    /// it wherever it reads a line (tests compare them on every capture and fuzz input; so does the fuzzer).
    public init(referenceLine line: [UInt8], lineNumber: Int) throws(FixtureError) {
        func fail(_ reason: SkipReason, _ detail: String) -> FixtureError {
            FixtureError(line: lineNumber, reason: reason, detail: detail)
        }
        var members = LineMembers()
        do {
            try JSONScanner.scan(line) { (scanner) throws(JSONError) in
                guard scanner.peek() == UInt8(ascii: "{") else {
                    _ = try scanner.parseValue()
                    try scanner.expectEnd()
                    members.notAnObject = true
                    return
                }
                try scanner.readObject { (key, scanner) throws(JSONError) in try members.read(key, &scanner) }
                try scanner.expectEnd()
            }
        } catch {
            throw fail(.fixtureInvalidJSON, error.description)
        }
        guard !members.notAnObject else { throw fail(.fixtureNotAnObject, "a fixture line must be a JSON object") }
        guard let routingKey = members.routingKey.value?.stringValue else {
            throw fail(.fixtureMissingField, "routing_key (string) is required")
        }
        guard let capturedAt = members.capturedAt.value?.int64Value else {
            throw fail(.fixtureMissingField, "captured_at (integer nanoseconds) is required")
        }
        // Unix nanoseconds between 1970 and 2191: time arithmetic on the rest can then never overflow.
        guard (0...7_000_000_000_000_000_000).contains(capturedAt) else {
            throw fail(.fixtureInvalidField, "captured_at \(capturedAt) is not Unix nanoseconds between 1970 and 2191")
        }
        guard let decodedBody = members.body.value else {
            throw fail(.fixtureMissingField, "body_b64 (base64 string) is required")
        }
        guard let body = decodedBody else { throw fail(.fixtureInvalidBase64, "body_b64 is not valid base64") }
        let mode: Mode
        switch members.mode.value?.stringValue {
        case "firehose": mode = .firehose
        // Captures by other tools may leave the mode out: the firehose's routing keys tell.
        case nil: mode = routingKey.hasPrefix("publish.") || routingKey.hasPrefix("deliver.") ? .firehose : .tap
        case "tap": mode = .tap
        case let other?: throw fail(.fixtureInvalidField, "mode \"\(other)\" is neither firehose nor tap")
        }
        let headers: AMQPTable
        do {
            headers = try AMQPTable(json: members.headers.value ?? .object([]), types: members.headerTypes.value)
        } catch {
            throw fail(.fixtureInvalidHeaders, error.detail)
        }
        var properties = MessageProperties()
        if case .object(let members) = members.properties.value ?? .null {
            let table = AMQPTable(members.compactMap { member in
                guard member.value != .null, let value = try? AMQPValue(json: member.value, type: nil) else {
                    return nil
                }
                return (member.key, value)
            })
            properties = MessageProperties(table: table)
        }
        self.init(
            seq: members.seq.value?.int64Value ?? Int64(lineNumber),
            capturedAt: capturedAt,
            mode: mode,
            exchange: members.exchange.value?.stringValue ?? (mode == .firehose ? "amq.rabbitmq.trace" : ""),
            routingKey: routingKey,
            redelivered: members.redelivered.value?.boolValue ?? false,
            properties: properties,
            headers: headers,
            body: body
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

/// The members of a fixture line that `BusMessage(line:)` reads; the first of duplicates wins.
private struct LineMembers {
    /// A member seen at most once.
    struct First<Value> {
        private(set) var value: Value?
        private(set) var seen = false

        mutating func set(_ read: () throws(JSONError) -> Value?) throws(JSONError) -> Bool {
            guard !seen else { return false }
            seen = true
            value = try read()
            return true
        }
    }

    var notAnObject = false
    var seq = First<JSONValue>()
    var capturedAt = First<JSONValue>()
    var mode = First<JSONValue>()
    var exchange = First<JSONValue>()
    var routingKey = First<JSONValue>()
    var redelivered = First<JSONValue>()
    var properties = First<JSONValue>()
    var headers = First<JSONValue>()
    var headerTypes = First<JSONValue>()
    /// Present: the decoded body, or nil when it is not base64 (a non-string counts as absent, as before).
    var body = First<[UInt8]?>()

    mutating func read(_ key: JSONKey, _ scanner: inout JSONScanner) throws(JSONError) {
        var taken = false
        switch key {
        case "seq": taken = try seq.set { () throws(JSONError) in try scanner.parseValue() }
        case "captured_at": taken = try capturedAt.set { () throws(JSONError) in try scanner.parseValue() }
        case "mode": taken = try mode.set { () throws(JSONError) in try scanner.parseValue() }
        case "exchange": taken = try exchange.set { () throws(JSONError) in try scanner.parseValue() }
        case "routing_key": taken = try routingKey.set { () throws(JSONError) in try scanner.parseValue() }
        case "redelivered": taken = try redelivered.set { () throws(JSONError) in try scanner.parseValue() }
        case "properties": taken = try properties.set { () throws(JSONError) in try scanner.parseValue() }
        case "headers": taken = try headers.set { () throws(JSONError) in try scanner.parseValue() }
        case "header_types": taken = try headerTypes.set { () throws(JSONError) in try scanner.parseValue() }
        case "body_b64":
            taken = try body.set { () throws(JSONError) -> [UInt8]?? in
                guard scanner.peek() == UInt8(ascii: "\"") else {
                    try scanner.skipValue()
                    return nil  // not a string: as if absent
                }
                return .some(try scanner.withStringBytes { Base64.decode($0) })
            }
        default: break
        }
        if !taken { try scanner.skipValue() }
    }
}
