import AgentHTTP
import ArgumentParser

/// The agent's own HTTP listener and readiness: what an operator watches.
struct OperationsFlags: ParsableArguments {
    @Option(name: .customLong("http-listen"), help: ArgumentHelp(
        "Serve /metrics (Prometheus), /healthz, /readyz and /traces on HOST:PORT; 'off' for none. Manifests open it to the pod network with 0.0.0.0:9464.",
        valueName: "host:port"))
    var httpListen = "127.0.0.1:9464"

    @Option(name: .customLong("traces-kept"), help: "How many recent traces /traces shows (each up to 500 spans).")
    var tracesKept = 50

    @Option(name: .customLong("unready-after"), help: ArgumentHelp(
        "/readyz fails once exports have been failing for this many seconds (it also fails while the broker is unreachable).",
        valueName: "seconds"))
    var unreadyAfterSeconds = 60.0

    /// The listener's address, or nil for `off`.
    func listenAddress() throws -> (host: String, port: Int)? {
        if httpListen == "off" { return nil }
        guard let address = HTTPListener.parse(httpListen) else {
            throw ValidationError("--http-listen \(httpListen) is not HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464) or off")
        }
        return address
    }
}

/// `--config FILE`: applied before parsing (ConfigResolver); declared here so that --help shows it.
struct ConfigFileFlag: ParsableArguments {
    @Option(help: ArgumentHelp(
        "YAML configuration file (else $TRACE_BRIDGE_CONFIG). Flags win over variables, variables over the file; see `trace-bridge config keys`.",
        valueName: "path"))
    var config: String?
}
