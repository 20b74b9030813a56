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

    init(source: String) {
        self.source = source
    }

    /// Trace messages per broker node, counted as they arrive (`count`), published by `sync`.
    private var nodes = NodeMessageCounts()

    /// Counts a received message under its broker node (the firehose's `node` header).
    mutating func count(_ record: BusMessage) {
        nodes.count(record)
    }

    /// Brings the counters up to date; called on every tick (and at the end).
    mutating func sync(pipeline: EventPipeline, export: ExportCounters?, prefetchInUse: Int, reconnects: Int, connected: Bool) {
        for (node, count) in nodes.counts {
            add("trace_bridge_firehose_messages_by_node_total", [("node", node)], count)
        }
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
        for header in FirehoseHeader.allCases {
            add("trace_bridge_firehose_header_missing_total", [("header", header.name)], stats.missingFirehoseHeaders[header])
        }
        add("trace_bridge_amqp_reconnects_total", [], reconnects)
        let reorder = pipeline.window.counters
        add("trace_bridge_reorder_released_early_total", [], reorder.releasedEarly)
        add("trace_bridge_reorder_released_at_deadline_total", [], reorder.releasedAtDeadline)
        add("trace_bridge_reorder_events_reordered_total", [], reorder.reordered)
        Gauge(label: "trace_bridge_reorder_events_held").record(pipeline.window.held)
        Gauge(label: "trace_bridge_correlation_entries").record(pipeline.synthesizer.correlationEntries)
        Gauge(label: "trace_bridge_prefetch_in_use").record(prefetchInUse)
        Gauge(label: "trace_bridge_broker_connected").record(connected ? 1 : 0)
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
