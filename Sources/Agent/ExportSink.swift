import Foundation
import OTLPExport
import TraceCore

/// Exports to an OpenTelemetry Collector over OTLP, batching and retrying per the specification.
public final class ExportSink: SpanSink {
    public let exporter: BatchingExporter<Int64>

    /// `observe` hears every notice too (the readiness check follows failing/recovered).
    public init(configuration: OTLPExporterConfiguration, policy: BatchingPolicy, resourceAttributes: [Attribute],
                observe: @escaping @Sendable (ExporterNotice) -> Void = { _ in }) throws {
        exporter = BatchingExporter(
            transport: try makeTransport(configuration), policy: policy, resourceAttributes: resourceAttributes,
            notice: { notice in
                ExportSink.report(notice)
                observe(notice)
            })
        log("exporting", ["otlp": configuration.summary])
    }

    public func accept(_ spans: [Span], through input: Int64?, now: Int64) { exporter.accept(spans, from: input) }

    public func tick(now: Int64) { exporter.tick() }

    public func takeSettled() -> Int64? { exporter.takeAckable() }

    public func onSettled(_ settled: @escaping @Sendable (Int64) -> Void) {
        exporter.onSettled { [exporter] in
            if let input = exporter.takeAckable() { settled(input) }
        }
    }

    public func finish(grace: Duration) async { await exporter.shutdown(within: grace) }

    public var summary: [String: String] {
        let counters = exporter.counters
        return ["spans_exported": "\(counters.spansExported)", "spans_rejected": "\(counters.spansRejected)",
                "spans_dropped": "\(counters.spansDropped)", "export_retries": "\(counters.retries)"]
    }

    /// Once per outage and once per recovery, not once per attempt.
    @Sendable public static func report(_ notice: ExporterNotice) {
        switch notice {
        case .failing(let reason, let retryIn):
            log("collector export failing, retrying (deliveries stay unacknowledged meanwhile)",
                ["reason": reason, "retry_in": "\(retryIn)"], level: .warning)
        case .recovered(let retries):
            log("collector export recovered", ["retries": "\(retries)"])
        case .partialSuccess(let rejected, let message):
            log("collector rejected part of a batch (not retried)", ["rejected_spans": "\(rejected)", "message": message])
        case .dropped(let spans, let reason):
            log("dropped spans the collector will not accept", ["spans": "\(spans)", "reason": reason], level: .error)
        case .abandoned(let spans, let reason):
            log("the collector did not accept these spans before the deadline (run: their messages stay unacknowledged in the broker)",
                ["spans": "\(spans)", "reason": reason])
        }
    }
}
