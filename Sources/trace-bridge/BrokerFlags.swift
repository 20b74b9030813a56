import ArgumentParser
import Foundation
import Agent
import RabbitMQ

/// Where the broker is and what the agent binds: shared by `run` and `capture`.
struct BrokerFlags: ParsableArguments {
    @Option(
        name: .customLong("amqp-url"),
        help: ArgumentHelp(
            "The broker, as amqp://USER:PASS@HOST:5672/VHOST (amqps:// for TLS). A cluster's nodes, for failover, as oslo.messaging's transport_url lists them (amqp://U:P@HOST1:5672,U:P@HOST2:5672/VHOST) or with the flag repeated. Default: $TRACE_BRIDGE_AMQP_URL, else amqp://guest:guest@localhost:5672/.",
            discussion: "Prefer the environment variable or --amqp-url-file for the password: command lines are visible to every user of the host. With several addresses the agent starts with the first, stays on a node while it works and moves to the next one (round robin) when it fails.",
            valueName: "url"))
    var amqpURL: [String] = []

    @Option(
        name: .customLong("bus"),
        help: ArgumentHelp(
            "run: one of several buses to read at once, as NAME=URL[;queue=NAME] (repeat the flag per bus). Instead of --amqp-url.",
            discussion: "Nova cells v2 gives the API and each cell a RabbitMQ (or vhost) of its own, and a boot crosses them: one agent reading every bus into one synthesis keeps the boot in one trace, where one agent per bus splits it. NAME labels the bus in logs, metrics and /readyz; URL is as --amqp-url (a cluster's nodes for failover), or @PATH to read it from a file; queue= names our queue on that bus (default: as --queue). Every bus uses the same --mode and --role. Example: --bus 'api=@/etc/trace-bridge/api.url' --bus 'cell1=amqp://tracer:secret@rabbit-cell1:5672/nova_cell1'.",
            valueName: "name=url"))
    var bus: [String] = []

    @Option(name: .customLong("amqp-url-file"), help: ArgumentHelp("Read the AMQP URL from this file (e.g. a mounted secret); several, one per line or comma-separated, for a cluster.", valueName: "path"))
    var amqpURLFile: String?

    @OptionGroup(title: "Source mode")
    var source: SourceModeFlags

    @Option(help: ArgumentHelp("control-plane (beside RabbitMQ, binds what --mode needs) or hypervisor (deliveries to compute.HOST only).", valueName: "role"))
    var role: RoleName = .controlPlane

    @Option(help: ArgumentHelp("The hypervisor's host name as nova-compute knows it (its queue is compute.HOST). Default: this machine's host name.", valueName: "host"))
    var host: String?

    @Option(help: ArgumentHelp("Our queue's name. Default: trace-bridge.firehose (control plane), trace-bridge.hypervisor.HOST, or trace-bridge.tap.", valueName: "name"))
    var queue: String?

    @Option(name: .customLong("queue-max-length"), help: "x-max-length of our queue: the most trace messages the broker keeps for us.")
    var queueMaxLength: Int64 = 100_000

    @Option(name: .customLong("queue-ttl"), help: "x-message-ttl of our queue in seconds: older trace messages are dropped.")
    var queueTTLSeconds: Int64 = 600

    @Option(name: .customLong("queue-expires"), help: ArgumentHelp(
        "x-expires of our queue in seconds (0: never): the broker deletes it after this long without a consumer. Default: 1800 (transient: 0, as trace-bridge 0.x declared it).",
        valueName: "seconds"))
    var queueExpiresSeconds: Int64?

    @Option(name: .customLong("queue-type"), help: ArgumentHelp(
        "Our queue: classic (durable, the default), quorum (durable, replicated; writes every trace message to disk on each replica) or transient (non-durable, non-exclusive, as trace-bridge 0.x declared it: RabbitMQ 4.3 refuses it).",
        discussion: "Use transient only to keep an existing queue of an older trace-bridge on RabbitMQ before 4.3; otherwise delete that queue once (rabbitmqctl delete_queue NAME -p VHOST) and let the agent declare it again. If the broker refuses the declaration (406 PRECONDITION_FAILED: a queue of that name exists with other arguments), run exits with code 76 and says which argument differs and what to do.",
        valueName: "type"))
    var queueType: QueueSettings.QueueType = .classic

    @Flag(name: .customLong("durable-queue"), help: "Deprecated, has no effect: classic and quorum queues are durable (--queue-type transient is the non-durable one). Accepted so older configurations still load.")
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

    /// The first address (what a single-broker setting means).
    func url() throws -> AMQPURL {
        try addresses()[0]
    }

    /// Every broker address, in the order given (`--amqp-url` repeated or comma-separated, as `transport_url`).
    func addresses() throws -> [AMQPURL] {
        let environment = ProcessInfo.processInfo.environment
        var text = amqpURL.isEmpty ? nil : amqpURL.joined(separator: ",")
        if text == nil, let file = amqpURLFile {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read --amqp-url-file \(file) (amqp.url_file, TRACE_BRIDGE_AMQP_URL_FILE): check the path and its permissions")
            }
            // One address per line, or a comma-separated list.
            text = contents.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: ",")
        }
        text = text ?? environment["TRACE_BRIDGE_AMQP_URL"] ?? "amqp://guest:guest@localhost:5672/"
        do {
            return try AMQPURL.list(text!)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The buses `run` reads: the `--bus` list, or the one bus of `--amqp-url` (named `default`).
    func buses(purpose: String) throws -> [Bus] {
        let topology = try topology()
        guard !bus.isEmpty else {
            return [Bus(name: "default", settings: try connectionSettings(purpose: purpose), addresses: try addresses(),
                        topology: topology)]
        }
        if !amqpURL.isEmpty || amqpURLFile != nil {
            throw ValidationError("--bus and --amqp-url/--amqp-url-file both given: use --bus for every bus (NAME=URL), or --amqp-url for one")
        }
        var buses: [Bus] = []
        for spec in bus {
            let parsed = try BusSpec(spec)
            guard !buses.contains(where: { $0.name == parsed.name }) else {
                throw ValidationError("--bus \(parsed.name) is given twice: each bus needs a name of its own")
            }
            var settings = try connectionSettings(purpose: purpose)
            settings.url = parsed.addresses[0]
            var busTopology = topology
            if let queue = parsed.queue { busTopology.queue.name = queue }
            let bus = Bus(name: parsed.name, settings: settings, addresses: parsed.addresses, topology: busTopology)
            // Two consumers on one queue would each see half the traffic.
            if let other = buses.first(where: { $0.settings.url.host == settings.url.host && $0.settings.url.port == settings.url.port
                && $0.settings.url.vhost == settings.url.vhost && $0.topology.queue.name == busTopology.queue.name })
            {
                throw ValidationError("--bus \(other.name) and --bus \(parsed.name) would share queue '\(busTopology.queue.name)' in vhost '\(settings.url.vhost)' of \(settings.url.host): give one of them ;queue=ANOTHER_NAME, or point it at its own vhost")
            }
            buses.append(bus)
        }
        return buses
    }

    func resolvedRole() -> Role {
        switch role {
        case .controlPlane: .controlPlane
        case .hypervisor: .hypervisor(host: host ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")
        }
    }

    func topology() throws -> SourceTopology {
        let role = resolvedRole()
        let (bindings, tap) = try source.bindings(role: role)
        let name = queue ?? (tap ? "trace-bridge.tap" : role.defaultQueueName)
        let settings = QueueSettings(
            name: name, maxLength: queueMaxLength, messageTTLMilliseconds: queueTTLSeconds * 1000,
            expiresMilliseconds: queueExpiresSeconds.map { $0 * 1000 }, type: queueType)
        return tap ? .tap(exchanges: bindings.map(\.exchange), queue: settings, prefetch: prefetch)
            : SourceTopology(queue: settings, bindings: bindings, prefetch: prefetch)
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

extension QueueSettings.QueueType: ExpressibleByArgument {}

/// One `--bus NAME=URL[;queue=NAME]` value.
struct BusSpec {
    var name: String
    var addresses: [AMQPURL]
    var queue: String?

    init(_ spec: String) throws {
        guard let equals = spec.firstIndex(of: "=") else {
            throw ValidationError("--bus '\(AMQPURL.maskList(spec))' has no name: write NAME=URL, e.g. cell1=amqp://tracer:secret@rabbit-cell1:5672/")
        }
        name = String(spec[..<equals])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--bus name '\(name)' is not a name: use letters, digits, '-', '_' or '.' (it labels metrics)")
        }
        var parts = spec[spec.index(after: equals)...].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        var location = parts.removeFirst().trimmingCharacters(in: .whitespaces)
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0] == "queue", !pair[1].isEmpty else {
                throw ValidationError("--bus \(name): unknown option '\(part)': the only option is ;queue=NAME")
            }
            queue = pair[1]
        }
        if location.hasPrefix("@") {
            let path = String(location.dropFirst())
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("--bus \(name): cannot read the URL file \(path): check the path and its permissions")
            }
            location = contents.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: ",")
        }
        do {
            addresses = try AMQPURL.list(location)
        } catch {
            throw ValidationError("--bus \(name): \(error.description)")
        }
    }
}
