import RabbitMQ
import TraceCore

/// Where the agent's messages come from: a broker (`BrokerSource`) today, anything that can report `SourceEvent`s
/// and take acknowledgements tomorrow (`InMemorySource` for tests and embedding).
///
/// The contract is `BrokerSource`'s: events in order (`.connected`, `.deliveries`, `.tick`, ..., `.stopped` after
/// `stopConsuming()`), delivery tags that grow within a connection generation, and `acknowledge(upTo:)` meaning
/// "everything up to this tag is handled". `events` ends after `.failed` or after `close()`.
public protocol MessageSource: AnyObject, Sendable {
    var events: AsyncStream<SourceEvent> { get }
    /// Starts connecting and consuming; events follow.
    func start()
    func acknowledge(upTo tag: DeliveryTag)
    /// The highest delivery acknowledged on the current connection (nil before the first and after a reconnect).
    var acknowledged: DeliveryTag? { get }
    /// Stops new deliveries; `.stopped` follows the last one.
    func stopConsuming()
    /// Sends what is acknowledged, disconnects and ends `events`.
    func close()
}

extension BrokerSource: MessageSource {}
