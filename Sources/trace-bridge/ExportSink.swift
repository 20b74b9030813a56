import Foundation
import OTLPExport
import RabbitMQ
import TraceCore

/// Where `run` sends spans: a file or terminal (`LiveSpanSink`) or a collector (`ExportSink`). Either way a
/// delivery is acknowledged only when every span derived from it is settled.
protocol RunSink: AnyObject {
    func accept(_ spans: [Span], from tag: DeliveryTag?, now: Int64)
    func tick(now: Int64)
    func takeAckable() -> DeliveryTag?
    /// `acknowledge` gets what becomes acknowledgeable later, outside `accept` and `tick` (an export finishing).
    func onAckable(_ acknowledge: @escaping @Sendable (DeliveryTag) -> Void)
    /// Writes or exports what is buffered, waiting at most `grace`.
    func finish(grace: Duration) async
    var summary: [String: String] { get }
}

extension LiveSpanSink: RunSink {
    func finish(grace: Duration) async { flushAll() }

    /// Writing is synchronous: what `accept` and `tick` write is acknowledgeable right after them.
    func onAckable(_ acknowledge: @escaping @Sendable (DeliveryTag) -> Void) {}

    var summary: [String: String] { ["spans_written": "\(spansWritten)"] }
}

/// Exports to an OpenTelemetry Collector over OTLP, batching and retrying per the specification.
final class ExportSink: RunSink {
    let exporter: BatchingExporter<DeliveryTag>

    /// `observe` hears every notice too (the readiness check follows failing/recovered).
    init(configuration: OTLPExporterConfiguration, policy: BatchingPolicy, resourceAttributes: [Attribute],
         observe: @escaping @Sendable (ExporterNotice) -> Void = { _ in }) throws {
        exporter = BatchingExporter(
            transport: try makeTransport(configuration), policy: policy, resourceAttributes: resourceAttributes,
            notice: { notice in
                ExportSink.report(notice)
                observe(notice)
            })
        log("exporting", ["otlp": configuration.summary])
    }

    func accept(_ spans: [Span], from tag: DeliveryTag?, now: Int64) { exporter.accept(spans, from: tag) }

    func tick(now: Int64) { exporter.tick() }

    func takeAckable() -> DeliveryTag? { exporter.takeAckable() }

    func onAckable(_ acknowledge: @escaping @Sendable (DeliveryTag) -> Void) {
        exporter.onSettled { [exporter] in
            if let tag = exporter.takeAckable() { acknowledge(tag) }
        }
    }

    func finish(grace: Duration) async { await exporter.shutdown(within: grace) }

    var summary: [String: String] {
        let counters = exporter.counters
        return ["spans_exported": "\(counters.spansExported)", "spans_rejected": "\(counters.spansRejected)",
                "spans_dropped": "\(counters.spansDropped)", "export_retries": "\(counters.retries)"]
    }

    /// Once per outage and once per recovery, not once per attempt.
    @Sendable static func report(_ notice: ExporterNotice) {
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
