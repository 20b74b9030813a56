/// One setting of the agent: its key in the YAML file, its flag, its environment variables and its default.
///
/// Every setting is declared once, in `ConfigKey.all`: the file loader, the environment, `config check`,
/// `config keys` (the README's table, checked by a test) and the flags all come from this table, so they cannot
/// drift apart. Precedence: flags > environment > file > defaults.
struct ConfigKey: Sendable {
    enum Kind: Sendable, Equatable {
        case string
        case integer
        case number
        /// A flag without a value: `true` in the file or `1`/`true` in the environment sets it.
        case boolean
        /// Repeatable flag; a YAML sequence (or, for KEY=VALUE lists, a mapping); comma-separated in the environment.
        case list
        case choice([String])
    }

    /// Where the key's value may come from besides flags and the file.
    enum Environment: Sendable {
        /// A `TRACE_BRIDGE_*` variable, turned into the flag when the flag is absent.
        case variable(String)
        /// OpenTelemetry's own variables (`OTEL_*`), read by the exporter with their specification's semantics
        /// (`_TRACES_` twins, endpoint paths): when any is set, the file's value is not used.
        case openTelemetry([String])
        case none
    }

    var path: String
    var flag: String
    var environment: Environment
    var kind: Kind
    /// The default as shown to people (the flag's own default is what applies).
    var defaultValue: String
    var meaning: String
    /// Masked in `config check` and never logged.
    var secret = false
    /// The commands that take the flag.
    var commands: Set<String> = ["run", "capture"]
    /// The flag's one-letter alias, if it has one.
    var short: String? = nil

    /// The section of the YAML file (`amqp` for `amqp.url`).
    var section: Substring { path.split(separator: ".").first ?? "" }
    var name: Substring { path.split(separator: ".").dropFirst().first ?? "" }

    var variables: [String] {
        switch environment {
        case .variable(let name): [name]
        case .openTelemetry(let names): names
        case .none: []
        }
    }

    static func find(_ path: String) -> ConfigKey? { all.first { $0.path == path } }
}

extension ConfigKey {
    private static let run: Set<String> = ["run"]

    private static func env(_ path: String) -> Environment {
        .variable("TRACE_BRIDGE_" + path.uppercased().replacingOccurrences(of: ".", with: "_"))
    }

    private static func otel(_ suffix: String) -> Environment {
        .openTelemetry(["OTEL_EXPORTER_OTLP_TRACES_\(suffix)", "OTEL_EXPORTER_OTLP_\(suffix)"])
    }

    /// The table. Order is the README's.
    static let all: [ConfigKey] = [
        ConfigKey(path: "amqp.url", flag: "--amqp-url", environment: env("amqp.url"), kind: .list,
                  defaultValue: "amqp://guest:guest@localhost:5672/",
                  meaning: "The broker (amqps:// for TLS); a cluster's nodes for failover as in transport_url (amqp://U:P@H1:5672,U:P@H2:5672/VHOST) or as a list. Prefer amqp.url_file or the variable: command lines are visible to every user.",
                  secret: true),
        ConfigKey(path: "amqp.buses", flag: "--bus", environment: .none, kind: .list, defaultValue: "",
                  meaning: "run: several buses read at once into one synthesis (nova cells: the API's and each cell's RabbitMQ or vhost), each NAME=URL[;queue=NAME]; URL as amqp.url (failover addresses allowed) or @PATH to read it from a file. Instead of amqp.url. Every bus uses the same source mode.",
                  secret: true, commands: ["run"]),
        ConfigKey(path: "amqp.url_file", flag: "--amqp-url-file", environment: env("amqp.url_file"), kind: .string,
                  defaultValue: "", meaning: "Read the AMQP URL(s) from this file (a mounted secret; one per line or comma-separated)."),
        ConfigKey(path: "amqp.ca_file", flag: "--ca-file", environment: env("amqp.ca_file"), kind: .string,
                  defaultValue: "", meaning: "amqps: CA bundle that signs the broker's certificate."),
        ConfigKey(path: "amqp.cert_file", flag: "--cert-file", environment: env("amqp.cert_file"), kind: .string,
                  defaultValue: "", meaning: "amqps: client certificate."),
        ConfigKey(path: "amqp.key_file", flag: "--key-file", environment: env("amqp.key_file"), kind: .string,
                  defaultValue: "", meaning: "amqps: client key."),
        ConfigKey(path: "amqp.tls_insecure_skip_verify", flag: "--tls-insecure-skip-verify",
                  environment: env("amqp.tls_insecure_skip_verify"), kind: .boolean, defaultValue: "false",
                  meaning: "amqps: do not verify the broker (testing only)."),
        ConfigKey(path: "amqp.heartbeat", flag: "--heartbeat", environment: env("amqp.heartbeat"), kind: .integer,
                  defaultValue: "30", meaning: "AMQP heartbeat, seconds (0: off)."),
        ConfigKey(path: "source.mode", flag: "--mode", environment: env("source.mode"),
                  kind: .choice(["firehose", "publish-only", "selective", "tap"]), defaultValue: "publish-only",
                  meaning: "What the control-plane agent binds, and so what it costs the broker (docs/operations.md §1)."),
        ConfigKey(path: "source.role", flag: "--role", environment: env("source.role"),
                  kind: .choice(["control-plane", "hypervisor"]), defaultValue: "control-plane",
                  meaning: "control-plane (beside RabbitMQ) or hypervisor (deliveries to compute.HOST only)."),
        ConfigKey(path: "source.host", flag: "--host", environment: env("source.host"), kind: .string,
                  defaultValue: "this host's name", meaning: "Hypervisor role: the host name nova-compute uses."),
        ConfigKey(path: "source.control_exchanges", flag: "--control-exchange", environment: env("source.control_exchanges"),
                  kind: .list, defaultValue: "nova", meaning: "Control exchanges, for selective and tap modes."),
        ConfigKey(path: "source.tap_exchanges", flag: "--tap-exchange", environment: env("source.tap_exchanges"),
                  kind: .list, defaultValue: "", meaning: "Tap mode: exchanges to bind with # (implies mode tap)."),
        ConfigKey(path: "source.bindings", flag: "--bind", environment: env("source.bindings"), kind: .list,
                  defaultValue: "", meaning: "EXCHANGE:KEY bindings replacing the mode's."),
        ConfigKey(path: "source.prefetch", flag: "--prefetch", environment: env("source.prefetch"), kind: .integer,
                  defaultValue: "1000", meaning: "basic.qos prefetch: unacknowledged messages in flight."),
        ConfigKey(path: "queue.name", flag: "--queue", environment: env("queue.name"), kind: .string,
                  defaultValue: "trace-bridge.firehose", meaning: "Our queue (hypervisor: trace-bridge.hypervisor.HOST; tap: trace-bridge.tap)."),
        ConfigKey(path: "queue.max_length", flag: "--queue-max-length", environment: env("queue.max_length"),
                  kind: .integer, defaultValue: "100000", meaning: "x-max-length (overflow drop-head): the most the broker keeps for us."),
        ConfigKey(path: "queue.ttl_seconds", flag: "--queue-ttl", environment: env("queue.ttl_seconds"), kind: .integer,
                  defaultValue: "600", meaning: "x-message-ttl: older trace messages are dropped."),
        ConfigKey(path: "queue.expires_seconds", flag: "--queue-expires", environment: env("queue.expires_seconds"),
                  kind: .integer, defaultValue: "1800 (transient: 0)",
                  meaning: "x-expires: delete our queue after this long unused (0: never)."),
        ConfigKey(path: "queue.type", flag: "--queue-type", environment: env("queue.type"),
                  kind: .choice(["classic", "quorum", "transient"]), defaultValue: "classic",
                  meaning: "classic (durable), quorum (durable, replicated) or transient (trace-bridge 0.x's queue; refused by RabbitMQ 4.3)."),
        ConfigKey(path: "queue.durable", flag: "--durable-queue", environment: env("queue.durable"), kind: .boolean,
                  defaultValue: "true", meaning: "Deprecated, no effect: queues are durable unless queue.type is transient."),
        ConfigKey(path: "synthesis.sender_traced", flag: "--sender-traced", environment: env("synthesis.sender_traced"),
                  kind: .choice(["complement", "full"]), defaultValue: "complement",
                  meaning: "Senders that trace themselves: complement their spans, or emit the full set.", commands: run),
        ConfigKey(path: "synthesis.service_map", flag: "--service-map", environment: env("synthesis.service_map"),
                  kind: .list, defaultValue: "OpenStack defaults", meaning: "TOPIC=SERVICE attributions (a mapping in the file).",
                  commands: run),
        ConfigKey(path: "synthesis.correlation_capacity", flag: "--correlation-capacity",
                  environment: env("synthesis.correlation_capacity"), kind: .integer, defaultValue: "100000",
                  meaning: "Entries per correlation table; the oldest are evicted (counted) beyond it.", commands: run),
        ConfigKey(path: "synthesis.foreign_queues", flag: "--foreign-queue", environment: env("synthesis.foreign_queues"),
                  kind: .list, defaultValue: "",
                  meaning: "Queue patterns whose CONSUMER spans another agent emits (compute.* with hypervisor agents).",
                  commands: run),
        ConfigKey(path: "synthesis.resource_attributes", flag: "--resource-attribute",
                  environment: .openTelemetry(["OTEL_RESOURCE_ATTRIBUTES"]), kind: .list, defaultValue: "",
                  meaning: "KEY=VALUE added to every resource, e.g. cluster=region-1 (a mapping in the file).", commands: run),
        ConfigKey(path: "synthesis.reorder_window_ms", flag: "--reorder-window",
                  environment: env("synthesis.reorder_window_ms"), kind: .integer, defaultValue: "20",
                  meaning: "Milliseconds an event may wait for a message of another RabbitMQ node that must come first (cluster order); 0: off. Spans leave up to this much later.", commands: run),
        ConfigKey(path: "synthesis.decompression_limit", flag: "--decompression-limit",
                  environment: env("synthesis.decompression_limit"), kind: .integer, defaultValue: "16777216",
                  meaning: "Most bytes a compressed body (kombu_compression) may decompress to; beyond it the message is skipped and counted (compression_too_large).", commands: run),
        ConfigKey(path: "export.endpoint", flag: "--otlp-endpoint", environment: otel("ENDPOINT"), kind: .string,
                  defaultValue: "http://localhost:4317", meaning: "The gateway collector.", commands: run),
        ConfigKey(path: "export.protocol", flag: "--otlp-protocol", environment: otel("PROTOCOL"),
                  kind: .choice(["grpc", "http/protobuf", "http/json"]), defaultValue: "grpc", meaning: "OTLP transport.",
                  commands: run),
        ConfigKey(path: "export.headers", flag: "--otlp-header", environment: otel("HEADERS"), kind: .list,
                  defaultValue: "", meaning: "NAME=VALUE sent with every export (prefer export.headers_file for tokens).",
                  secret: true, commands: run),
        ConfigKey(path: "export.headers_file", flag: "--otlp-headers-file", environment: env("export.headers_file"),
                  kind: .string, defaultValue: "", meaning: "Read NAME=VALUE,... headers from this file (a mounted secret).",
                  commands: run),
        ConfigKey(path: "export.compression", flag: "--otlp-compression", environment: otel("COMPRESSION"),
                  kind: .choice(["gzip", "none"]), defaultValue: "none", meaning: "Compress export bodies.", commands: run),
        ConfigKey(path: "export.timeout_ms", flag: "--otlp-timeout", environment: otel("TIMEOUT"), kind: .integer,
                  defaultValue: "10000", meaning: "Per-attempt timeout, milliseconds.", commands: run),
        ConfigKey(path: "export.certificate", flag: "--otlp-certificate", environment: otel("CERTIFICATE"), kind: .string,
                  defaultValue: "", meaning: "CA bundle that signs the collector's certificate.", commands: run),
        ConfigKey(path: "export.client_certificate", flag: "--otlp-client-certificate", environment: otel("CLIENT_CERTIFICATE"),
                  kind: .string, defaultValue: "", meaning: "mTLS client certificate.", commands: run),
        ConfigKey(path: "export.client_key", flag: "--otlp-client-key", environment: otel("CLIENT_KEY"), kind: .string,
                  defaultValue: "", meaning: "mTLS client key.", commands: run),
        ConfigKey(path: "export.insecure", flag: "--otlp-insecure", environment: otel("INSECURE"), kind: .boolean,
                  defaultValue: "false", meaning: "gRPC without TLS when the endpoint has no scheme.", commands: run),
        ConfigKey(path: "export.tls_insecure_skip_verify", flag: "--otlp-tls-insecure-skip-verify",
                  environment: env("export.tls_insecure_skip_verify"), kind: .boolean, defaultValue: "false",
                  meaning: "Do not verify the collector (testing only).", commands: run),
        ConfigKey(path: "export.batch_size", flag: "--export-batch-size", environment: env("export.batch_size"),
                  kind: .integer, defaultValue: "1024", meaning: "Send when this many spans are buffered.", commands: run),
        ConfigKey(path: "export.delay_seconds", flag: "--export-delay", environment: env("export.delay_seconds"),
                  kind: .number, defaultValue: "5", meaning: "Send what is buffered after this long.", commands: run),
        ConfigKey(path: "export.max_in_flight", flag: "--export-max-in-flight", environment: env("export.max_in_flight"),
                  kind: .integer, defaultValue: "2", meaning: "Exports in flight at once.", commands: run),
        ConfigKey(path: "export.max_elapsed_seconds", flag: "--export-max-elapsed", environment: env("export.max_elapsed_seconds"),
                  kind: .number, defaultValue: "300", meaning: "Retry one batch this long, then drop it (counted).", commands: run),
        ConfigKey(path: "output.format", flag: "--format", environment: env("output.format"),
                  kind: .choice(["otlp", "tree", "otlp-json"]), defaultValue: "otlp",
                  meaning: "otlp (export), tree (terminal) or otlp-json (file).", commands: run, short: "-f"),
        ConfigKey(path: "output.path", flag: "--output", environment: env("output.path"), kind: .string,
                  defaultValue: "standard output", meaning: "tree/otlp-json: write here.", commands: run, short: "-o"),
        ConfigKey(path: "http.listen", flag: "--http-listen", environment: env("http.listen"), kind: .string,
                  defaultValue: "127.0.0.1:9464", meaning: "/metrics, /healthz, /readyz and /traces (off: no listener).",
                  commands: run),
        ConfigKey(path: "http.traces_kept", flag: "--traces-kept", environment: env("http.traces_kept"), kind: .integer,
                  defaultValue: "50", meaning: "How many recent traces /traces shows.", commands: run),
        ConfigKey(path: "health.export_failure_seconds", flag: "--unready-after",
                  environment: env("health.export_failure_seconds"), kind: .number, defaultValue: "60",
                  meaning: "/readyz fails once exports have failed for this long.", commands: run),
        ConfigKey(path: "log.format", flag: "--log-format", environment: env("log.format"),
                  kind: .choice(["text", "logfmt", "json"]), defaultValue: "text", meaning: "Log lines on standard error: text (for people), logfmt or json."),
        ConfigKey(path: "log.level", flag: "--log-level", environment: env("log.level"),
                  kind: .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
                  defaultValue: "info", meaning: "Least severe level logged."),
        ConfigKey(path: "shutdown.grace_seconds", flag: "--shutdown-grace", environment: env("shutdown.grace_seconds"),
                  kind: .number, defaultValue: "10",
                  meaning: "On SIGTERM, time to export before exiting; the rest stays unacknowledged in the broker.",
                  commands: run),
    ]
}
