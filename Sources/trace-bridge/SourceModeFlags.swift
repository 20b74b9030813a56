import ArgumentParser
import RabbitMQ
import TraceCore

/// What the agent binds, and so what it can see and what it costs the broker (docs/operations.md §1). Shared by
/// `run` and `capture`, and by `replay`, which can reduce a full capture to what a mode would have seen.
struct SourceModeFlags: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Control-plane source mode: firehose (publish.# + deliver.#: every span, queue wait included; costs the broker most), publish-only (publish.#: deliveries inferred from routed_queues, no queue wait), selective (the control exchanges, replies and deliver.compute.*) or tap (no firehose: publishes on --tap-exchange exchanges only).",
        discussion: "Default: publish-only, the cheapest mode that keeps every trace link (measured: Benchmarks/RESULTS.md). The hypervisor role always binds deliver.compute.HOST only. See docs/operations.md for what each mode costs and keeps.",
        valueName: "mode"))
    var mode: SourceMode?

    @Option(name: .customLong("control-exchange"), help: ArgumentHelp(
        "The services' control exchanges, for selective and tap modes (repeatable; default nova).", valueName: "exchange"))
    var controlExchanges: [String] = []

    @Option(name: .customLong("tap-exchange"), help: ArgumentHelp(
        "Tap mode: bind our queue with # to this exchange (repeatable; implies --mode tap; default: the control exchanges), e.g. --tap-exchange nova --tap-exchange scheduler_fanout. Sees publishes only: no replies, no deliveries.",
        valueName: "exchange"))
    var tapExchanges: [String] = []

    @Option(name: .customLong("bind"), help: ArgumentHelp(
        "Bind our queue to EXCHANGE:ROUTING_KEY instead of the mode's bindings (repeatable), e.g. --bind amq.rabbitmq.trace:publish.nova.",
        valueName: "exchange:key"))
    var bindings: [String] = []

    /// The mode asked for: `--tap-exchange` implies tap.
    func resolvedMode() throws -> SourceMode {
        if !tapExchanges.isEmpty {
            if let mode, mode != .tap {
                throw ValidationError("--tap-exchange is tap mode; it cannot be combined with --mode \(mode.rawValue)")
            }
            return .tap
        }
        return mode ?? .publishOnly
    }

    /// Our queue's bindings and whether they are a tap. `--bind` replaces the mode's bindings; the hypervisor role
    /// binds only its host's compute queue.
    func bindings(role: Role) throws -> (bindings: [QueueBinding], tap: Bool) {
        let mode = try resolvedMode()
        if !bindings.isEmpty {
            guard mode != .tap else {
                throw ValidationError("--tap-exchange/--mode tap and --bind cannot be combined: choose tap or firehose bindings")
            }
            return (try bindings.map { text in
                guard let binding = QueueBinding(parsing: text) else {
                    throw ValidationError("--bind \"\(text)\" is not EXCHANGE:ROUTING_KEY, e.g. amq.rabbitmq.trace:publish.#")
                }
                return binding
            }, false)
        }
        if case .hypervisor = role {
            if let explicit = self.mode, explicit != .firehose {
                throw ValidationError("--mode \(explicit.rawValue) is for the control plane; the hypervisor role binds deliver.compute.HOST only")
            }
            return (role.firehoseBindings, false)
        }
        let control = controlExchanges.isEmpty ? ["nova"] : controlExchanges
        if mode == .tap {
            return ((tapExchanges.isEmpty ? control : tapExchanges).map { QueueBinding(exchange: $0, routingKey: "#") }, true)
        }
        return (mode.firehosePatterns(controlExchanges: control).map {
            QueueBinding(exchange: QueueBinding.firehoseExchange, routingKey: $0)
        }, false)
    }

    /// What those bindings let the agent see.
    func visibility(role: Role) throws -> SourceVisibility {
        let (bindings, tap) = try bindings(role: role)
        return SourceTopology.visibility(of: bindings, tap: tap)
    }
}

extension SourceMode: ExpressibleByArgument {}
