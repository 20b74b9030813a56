import Metrics
import OTLPExport
import TraceCore

/// The agent's Prometheus metrics, through swift-metrics (bootstrapped with swift-prometheus's factory in `run`).
///
/// The pipeline and the exporter keep plain counters (the pure core has no metrics dependency, and the hot path
/// stays free of atomics); `sync` turns their growth into swift-metrics increments once per tick. Every name and
/// label is documented in docs/operations.md ("Metrics").
struct AgentMetrics {
    private var last: [String: Int] = [:]
    private let source: String
    /// The buses' names, the `bus` label of the per-bus series.
    private let buses: [String]
    /// Trace messages per bus, then per broker node, counted as they arrive (`count`), published by `sync`.
    private var nodes: [NodeMessageCounts]
    private var received: [Int]

    init(source: String, buses: [String]) {
        self.source = source
        self.buses = buses
        nodes = Array(repeating: NodeMessageCounts(), count: buses.count)
        received = Array(repeating: 0, count: buses.count)
    }

    /// Counts a message received from bus number `bus`, and under its broker node (the firehose's `node` header).
    mutating func count(_ message: BusMessage, bus: Int) {
        received[bus] += 1
        nodes[bus].count(message)
    }

    /// The connection series of every bus (`bus` label), and the agent-wide ones they add up to (unlabelled, as
    /// before the agent read several buses: dashboards and alerts on them keep working). Called on every tick,
    /// before `sync`, with one entry per bus in `buses`' order.
    mutating func syncBuses(_ buses: [(prefetchInUse: Int, reconnects: Int, connected: Bool)]) {
        var nodeTotals: [String: Int] = [:]
        for (index, bus) in buses.enumerated() {
            let label = [("bus", self.buses[index])]
            add("trace_bridge_bus_messages_received_total", label, received[index])
            add("trace_bridge_bus_reconnects_total", label, bus.reconnects)
            Gauge(label: "trace_bridge_bus_prefetch_in_use", dimensions: label).record(bus.prefetchInUse)
            Gauge(label: "trace_bridge_bus_connected", dimensions: label).record(bus.connected ? 1 : 0)
            for (node, count) in nodes[index].counts { nodeTotals[node, default: 0] += count }
        }
        for (node, count) in nodeTotals {
            add("trace_bridge_firehose_messages_by_node_total", [("node", node)], count)
        }
        add("trace_bridge_amqp_reconnects_total", [], buses.map(\.reconnects).reduce(0, +))
        Gauge(label: "trace_bridge_prefetch_in_use").record(buses.map(\.prefetchInUse).reduce(0, +))
        // 1 only when every bus is connected, as /readyz.
        Gauge(label: "trace_bridge_broker_connected").record(buses.allSatisfy(\.connected) ? 1 : 0)
    }

    /// Brings the pipeline's and exporter's counters up to date; called on every tick (and at the end).
    mutating func sync(pipeline: EventPipeline, export: ExportCounters?) {
        let stats = pipeline.stats
        let counters = pipeline.synthesizer.counters
        for (kind, count) in stats.events {
            add("trace_bridge_messages_consumed_total", [("source", source), ("kind", kind)], count)
        }
        for (kind, count) in stats.messageKinds {
            add("trace_bridge_messages_decoded_total", [("kind", kind)], count)
        }
        for (reason, count) in stats.skipped {
            add("trace_bridge_decode_failures_total", [("reason", reason.rawValue)], count)
        }
        for (kind, count) in counters.spansByKind {
            add("trace_bridge_spans_synthesized_total", [("kind", kind)], count)
        }
        for (reason, count) in counters.skipped {
            add("trace_bridge_events_without_span_total", [("reason", reason.rawValue)], count)
        }
        for (field, count) in counters.rejectedContextFields {
            add("trace_bridge_context_fields_rejected_total", [("field", field)], count)
        }
        for (table, count) in counters.evictions {
            add("trace_bridge_correlation_evictions_total", [("table", table)], count)
        }
        add("trace_bridge_calls_timed_out_total", [], counters.timeouts)
        add("trace_bridge_cause_ambiguous_total", [], counters.causeAmbiguous)
        for header in FirehoseHeader.allCases {
            add("trace_bridge_firehose_header_missing_total", [("header", header.name)], stats.missingFirehoseHeaders[header])
        }
        let reorder = pipeline.window.counters
        add("trace_bridge_reorder_released_early_total", [], reorder.releasedEarly)
        add("trace_bridge_reorder_released_at_deadline_total", [], reorder.releasedAtDeadline)
        add("trace_bridge_reorder_events_reordered_total", [], reorder.reordered)
        Gauge(label: "trace_bridge_reorder_events_held").record(pipeline.window.held)
        Gauge(label: "trace_bridge_correlation_entries").record(pipeline.synthesizer.correlationEntries)
        if let export {
            add("trace_bridge_spans_exported_total", [], export.spansExported)
            add("trace_bridge_spans_rejected_total", [], export.spansRejected)
            add("trace_bridge_spans_dropped_total", [], export.spansDropped)
            add("trace_bridge_export_retries_total", [], export.retries)
            add("trace_bridge_export_batches_total", [], export.batchesExported)
            Gauge(label: "trace_bridge_export_batches_in_flight").record(export.batchesInFlight)
        }
    }

    private mutating func add(_ name: String, _ labels: [(String, String)], _ total: Int) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = total - (last[key] ?? 0)
        // A counter created at 0 still shows up, so a dashboard sees the series before the first event.
        if last[key] == nil || delta > 0 {
            Counter(label: name, dimensions: labels).increment(by: max(delta, 0))
            last[key] = total
        }
    }
}
