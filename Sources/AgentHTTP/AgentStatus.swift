import TraceCore

/// What the agent's HTTP endpoints report, updated by the consuming loop and read by the listener's threads.
///
/// Liveness (`/healthz`) is only "the process answers": a broker or collector outage must not get the agent
/// restarted, since restarting cannot fix them and would drop what it holds. Readiness (`/readyz`) is "connected to
/// the broker, and exports not failing for longer than the threshold": what an operator's alert wants.
public final class AgentStatus: Sendable {
    private struct State {
        /// Per bus (`Bus.name`), in the order the agent registered them.
        var buses: [(name: String, connected: Bool)] = []
        var exportFailingSince: Int64?
        var exportFailureReason: String?
        var recent: RecentTraces
        var missingHeaders = FirehoseHeaderCounts()
        var busMetrics: BusREDMetrics?
    }

    private let state: Locked<State>
    /// How long exports may fail before the agent reports itself not ready.
    public let exportFailureThreshold: Int64

    public init(tracesKept: Int, exportFailureThresholdSeconds: Double) {
        state = Locked(State(recent: RecentTraces(capacity: tracesKept)))
        exportFailureThreshold = Int64(exportFailureThresholdSeconds * 1e9)
    }

    /// Bus `name` is connected (consuming) or not; the first call for a name registers it. The agent is ready
    /// only when every bus is connected: a cell whose bus is not read loses its part of every trace.
    public func busConnected(_ name: String, _ connected: Bool) {
        state.withLock { state in
            if let index = state.buses.firstIndex(where: { $0.name == name }) {
                state.buses[index].connected = connected
            } else {
                state.buses.append((name, connected))
            }
        }
    }

    /// The exporter started failing (`reason`), or recovered (`nil`).
    public func exportFailing(_ reason: String?, now: Int64) {
        state.withLock { state in
            if let reason {
                if state.exportFailingSince == nil { state.exportFailingSince = now }
                state.exportFailureReason = reason
            } else {
                state.exportFailingSince = nil
                state.exportFailureReason = nil
            }
        }
    }

    public func record(_ spans: [Span], now: Int64) {
        guard !spans.isEmpty else { return }
        state.withLock { $0.recent.add(spans, now: now) }
    }

    /// Trace messages so far without each undocumented firehose header (`FirehoseHeader`).
    public func missingFirehoseHeaders(_ counts: FirehoseHeaderCounts) {
        state.withLock { $0.missingHeaders = counts }
    }

    /// The bus's RED metrics as of the consuming loop's last tick (a copy: the loop goes on recording into its own).
    public func busMetrics(_ metrics: BusREDMetrics) {
        state.withLock { $0.busMetrics = metrics }
    }

    /// `busMetrics` in the Prometheus text format, rendered outside the lock; empty before the first tick.
    public var busMetricsExposition: String {
        state.withLock { $0.busMetrics }?.exposition() ?? ""
    }

    /// Ready, or the reason not; then one line per degradation, which does not make the agent unready (a restart
    /// cannot bring a header back) but says what its spans lack.
    public func readiness(now: Int64) -> (ready: Bool, reason: String) {
        state.withLock { state in
            let degraded = state.missingHeaders.missing.map { header, count in
                "\ndegraded: firehose header \(header.name) missing from \(count) trace messages: \(header.degradation)"
            }.joined()
            let down = state.buses.filter { !$0.connected }.map(\.name)
            if state.buses.isEmpty || (state.buses.count == 1 && !down.isEmpty) {
                return (false, "not connected to the broker" + degraded)
            }
            if !down.isEmpty {
                return (false, "not connected to the broker of bus \(down.joined(separator: ", ")) (\(state.buses.count - down.count) of \(state.buses.count) buses connected)" + degraded)
            }
            if let since = state.exportFailingSince, now - since > exportFailureThreshold {
                return (false, "exports failing for \((now - since) / 1_000_000_000) s: \(state.exportFailureReason ?? "")" + degraded)
            }
            return (true, "ready" + degraded)
        }
    }

    public var recentTraces: [(layout: TraceLayout, omitted: Int)] {
        state.withLock { $0.recent.snapshot }
    }
}
