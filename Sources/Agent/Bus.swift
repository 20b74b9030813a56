import RabbitMQ

/// One message bus the agent reads: a broker (or a cluster of nodes, for failover) and vhost, with our queue and its
/// bindings on it.
///
/// Nova cells v2 gives the API and each cell their own RabbitMQ or vhost, and a boot crosses them (the
/// super-conductor on the API bus casts to a compute on a cell's bus): one agent that reads every bus into one
/// synthesis sees both sides of such a cast, where one agent per bus splits the boot into two trees.
/// Several *addresses* of one bus are failover (one connection at a time); several *buses* are read at once.
public struct Bus: Sendable {
    /// Names the bus in logs, metrics (`bus` label) and `/readyz`: `default` for the one bus of `--amqp-url`.
    public var name: String
    public var settings: ConnectionSettings
    /// The bus's nodes, tried in turn (`settings.url` is the first).
    public var addresses: [AMQPURL]
    public var topology: SourceTopology

    public init(name: String, settings: ConnectionSettings, addresses: [AMQPURL], topology: SourceTopology) {
        self.name = name
        self.settings = settings
        self.addresses = addresses.isEmpty ? [settings.url] : addresses
        self.topology = topology
    }

    /// Where log lines say the bus is: the first address (credentials are never part of `AMQPURL.description`).
    public var location: String { addresses.map(\.description).joined(separator: ",") }
}
