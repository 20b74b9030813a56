/// The AMQP basic properties of a message (the 14 of basic.properties), each absent when not set.
public struct MessageProperties: Equatable, Sendable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable?
    public var deliveryMode: Int64?
    public var priority: Int64?
    public var correlationID: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a decimal string. oslo.messaging sets it on RPC calls only: the call timeout.
    public var expiration: String?
    public var messageID: String?
    public var timestamp: Int64?
    public var type: String?
    public var userID: String?
    public var appID: String?
    public var clusterID: String?

    public init() {}

    /// The expiration as milliseconds, when it is a valid non-negative integer.
    public var expirationMilliseconds: Int64? {
        guard let expiration, let value = Int64(expiration), value >= 0 else { return nil }
        return value
    }

    /// The property names as they appear in a firehose `properties` table and in fixtures.
    public static let fieldNames = [
        "content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to", "expiration",
        "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id",
    ]

    /// Reads the properties from a table keyed by the names above plus `headers` (the firehose `properties` header).
    public init(table: AMQPTable) {
        self.init()
        for (key, value) in table.entries {
            switch key {
            case "content_type": contentType = value.stringValue
            case "content_encoding": contentEncoding = value.stringValue
            case "headers": headers = value.tableValue
            case "delivery_mode": deliveryMode = value.integerValue
            case "priority": priority = value.integerValue
            case "correlation_id": correlationID = value.stringValue
            case "reply_to": replyTo = value.stringValue
            case "expiration": expiration = value.stringValue
            case "message_id": messageID = value.stringValue
            case "timestamp":
                if case .timestamp(let seconds) = value { timestamp = seconds } else { timestamp = value.integerValue }
            case "type": type = value.stringValue
            case "user_id": userID = value.stringValue
            case "app_id": appID = value.stringValue
            case "cluster_id": clusterID = value.stringValue
            default: break
            }
        }
    }
}
