import ArgumentParser
import Foundation
import RabbitMQ

/// Where the broker is and what the agent binds: shared by `run` and `capture`.
struct BrokerFlags: ParsableArguments {
    @Option(
        name: .customLong("amqp-url"),
        help: ArgumentHelp(
            "The broker, as amqp://USER:PASS@HOST:5672/VHOST (amqps:// for TLS). Default: $TRACE_BRIDGE_AMQP_URL, else amqp://guest:guest@localhost:5672/.",
            discussion: "Prefer the environment variable or --amqp-url-file for the password: command lines are visible to every user of the host.",
            valueName: "url"))
    var amqpURL: String?

    @Option(name: .customLong("amqp-url-file"), help: ArgumentHelp("Read the AMQP URL from this file (e.g. a mounted secret).", valueName: "path"))
    var amqpURLFile: String?

    @Option(help: ArgumentHelp("control-plane (full firehose: publishes and deliveries) or hypervisor (deliveries to compute.HOST only).", valueName: "role"))
    var role: RoleName = .controlPlane

    @Option(help: ArgumentHelp("The hypervisor's host name as nova-compute knows it (its queue is compute.HOST). Default: this machine's host name.", valueName: "host"))
    var host: String?

    @Option(name: .customLong("bind"), help: ArgumentHelp(
        "Bind our queue to EXCHANGE:ROUTING_KEY instead of the role's defaults (repeatable), e.g. --bind amq.rabbitmq.trace:publish.nova.",
        valueName: "exchange:key"))
    var bindings: [String] = []

    @Option(name: .customLong("tap-exchange"), help: ArgumentHelp(
        "Tap mode, no firehose needed: bind our queue with # to this exchange (repeatable), e.g. --tap-exchange nova --tap-exchange scheduler_fanout. Sees publishes only: no replies, no deliveries.",
        valueName: "exchange"))
    var tapExchanges: [String] = []

    @Option(help: ArgumentHelp("Our queue's name. Default: trace-bridge.firehose (control plane), trace-bridge.hypervisor.HOST, or trace-bridge.tap.", valueName: "name"))
    var queue: String?

    @Option(name: .customLong("queue-max-length"), help: "x-max-length of our queue: the most trace messages the broker keeps for us.")
    var queueMaxLength: Int64 = 100_000

    @Option(name: .customLong("queue-ttl"), help: "x-message-ttl of our queue in seconds: older trace messages are dropped.")
    var queueTTLSeconds: Int64 = 600

    @Option(name: .customLong("queue-expires"), help: "x-expires of our queue in seconds (0: never): the broker deletes it after this long without a consumer.")
    var queueExpiresSeconds: Int64 = 0

    @Flag(name: .customLong("durable-queue"), help: "Declare our queue durable (it survives a broker restart; the firehose itself does not).")
    var durableQueue = false

    @Option(help: "basic.qos prefetch: the most unacknowledged messages in flight to the agent; bounds its memory.")
    var prefetch: UInt16 = 1000

    @Option(help: "AMQP heartbeat in seconds (0: off).")
    var heartbeat: Int32 = 30

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("amqps: the CA bundle that signs the broker's certificate.", valueName: "path"))
    var caFile: String?

    @Option(name: .customLong("cert-file"), help: ArgumentHelp("amqps: our client certificate (with --key-file).", valueName: "path"))
    var certFile: String?

    @Option(name: .customLong("key-file"), help: ArgumentHelp("amqps: our client key.", valueName: "path"))
    var keyFile: String?

    @Flag(name: .customLong("tls-insecure-skip-verify"), help: "amqps: do not verify the broker's certificate (testing only).")
    var skipVerify = false

    enum RoleName: String, ExpressibleByArgument, CaseIterable {
        case controlPlane = "control-plane"
        case hypervisor
    }

    func url() throws -> AMQPURL {
        let environment = ProcessInfo.processInfo.environment
        var text = amqpURL
        if text == nil, let file = amqpURLFile {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read --amqp-url-file \(file)")
            }
            text = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        text = text ?? environment["TRACE_BRIDGE_AMQP_URL"] ?? "amqp://guest:guest@localhost:5672/"
        do {
            return try AMQPURL(text!)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func resolvedRole() -> Role {
        switch role {
        case .controlPlane: .controlPlane
        case .hypervisor: .hypervisor(host: host ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")
        }
    }

    func topology() throws -> SourceTopology {
        let role = resolvedRole()
        let name = queue ?? (tapExchanges.isEmpty ? role.defaultQueueName : "trace-bridge.tap")
        let settings = QueueSettings(
            name: name, maxLength: queueMaxLength, messageTTLMilliseconds: queueTTLSeconds * 1000,
            expiresMilliseconds: queueExpiresSeconds * 1000, durable: durableQueue)
        if !tapExchanges.isEmpty {
            guard bindings.isEmpty else { throw ValidationError("--tap-exchange and --bind cannot be combined: choose tap or firehose bindings") }
            return .tap(exchanges: tapExchanges, queue: settings, prefetch: prefetch)
        }
        var parsed: [QueueBinding] = []
        for text in bindings {
            guard let binding = QueueBinding(parsing: text) else {
                throw ValidationError("--bind \"\(text)\" is not EXCHANGE:ROUTING_KEY, e.g. amq.rabbitmq.trace:publish.#")
            }
            parsed.append(binding)
        }
        return SourceTopology(queue: settings, bindings: parsed.isEmpty ? role.firehoseBindings : parsed, prefetch: prefetch)
    }

    func connectionSettings(purpose: String) throws -> ConnectionSettings {
        let host = ProcessInfo.processInfo.hostName
        return ConnectionSettings(
            url: try url(),
            tls: TLSSettings(caFile: caFile, certificateFile: certFile, keyFile: keyFile, verifyPeer: !skipVerify,
                             verifyHostname: !skipVerify),
            heartbeatSeconds: heartbeat,
            connectionName: "trace-bridge-\(purpose):\(host):\(getpid())")
    }
}
