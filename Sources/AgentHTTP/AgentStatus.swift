import Synchronization
import TraceCore

/// What the agent's HTTP endpoints report, updated by the consuming loop and read by the listener's threads.
///
/// Liveness (`/healthz`) is only "the process answers": a broker or collector outage must not get the agent
/// restarted, since restarting cannot fix them and would drop what it holds. Readiness (`/readyz`) is "connected to
/// the broker, and exports not failing for longer than the threshold": what an operator's alert wants.
public final class AgentStatus: Sendable {
    private struct State {
        var brokerConnected = false
        var exportFailingSince: Int64?
        var exportFailureReason: String?
        var recent: RecentTraces
        var missingHeaders = FirehoseHeaderCounts()
    }

    private let state: Mutex<State>
    /// How long exports may fail before the agent reports itself not ready.
    public let exportFailureThreshold: Int64

    public init(tracesKept: Int, exportFailureThresholdSeconds: Double) {
        state = Mutex(State(recent: RecentTraces(capacity: tracesKept)))
        exportFailureThreshold = Int64(exportFailureThresholdSeconds * 1e9)
    }

    public func brokerConnected(_ connected: Bool) {
        state.withLock { $0.brokerConnected = connected }
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

    /// Ready, or the reason not; then one line per degradation, which does not make the agent unready (a restart
    /// cannot bring a header back) but says what its spans lack.
    public func readiness(now: Int64) -> (ready: Bool, reason: String) {
        state.withLock { state in
            let degraded = state.missingHeaders.missing.map { header, count in
                "\ndegraded: firehose header \(header.name) missing from \(count) trace messages: \(header.degradation)"
            }.joined()
            if !state.brokerConnected { return (false, "not connected to the broker" + degraded) }
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
