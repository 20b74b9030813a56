import CRabbitMQ

/// The linked rabbitmq-c library.
public enum RabbitMQLibraryVersion {
    /// The version string the linked rabbitmq-c reports, e.g. `0.11.0`.
    public static var current: String { String(cString: amqp_version()) }
}
