import CRabbitMQ

/// Facts about the linked rabbitmq-c library.
///
/// The package links librabbitmq from the first commit, so a missing `librabbitmq-dev` fails the build at once
/// instead of on the day live consumption lands.
public enum RabbitMQLibrary {
    /// The version string the linked rabbitmq-c reports, e.g. `0.11.0`.
    public static var version: String {
        String(cString: amqp_version())
    }
}
