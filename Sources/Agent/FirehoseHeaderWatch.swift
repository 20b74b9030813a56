import AgentHTTP
import TraceCore

/// Reports undocumented firehose headers the broker stopped sending (`FirehoseHeader`): a warning the first time each
/// is missing (one line per header per process, not one per message), and the running counts to `/readyz`. The
/// counts themselves go to `/metrics` with the pipeline's other counters (`AgentMetrics`).
struct FirehoseHeaderWatch {
    private var reported = FirehoseHeaders()

    mutating func check(_ counts: FirehoseHeaderCounts, status: AgentStatus) {
        guard counts.total > 0 else { return }
        status.missingFirehoseHeaders(counts)
        for (header, count) in counts.missing where !reported.contains(header) {
            reported.insert(FirehoseHeaders(header))
            log("firehose header missing: the spans that need it degrade (counted in trace_bridge_firehose_header_missing_total)",
                ["header": header.name, "messages": "\(count)", "effect": header.degradation], level: .warning)
        }
    }
}
