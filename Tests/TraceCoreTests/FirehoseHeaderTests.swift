import Testing

@testable import TraceCore
import TestSupport

/// The firehose headers RabbitMQ does not document (`routed_queues`, `connection`, `channel`, `user`): a broker that
/// stops sending one must cost only what `FirehoseHeader.degradation` says, counted, never a guessed span.
///
/// Each shipped capture is replayed whole and with one header stripped from every trace message, in the modes that
/// use it differently (firehose sees deliveries; publish-only and selective infer them from `routed_queues`), and the
/// two replays are compared span by span.
@Suite("Firehose headers beyond the documented ones: missing ones are counted and degrade, never guessed")
struct FirehoseHeaderTests {
    static let fixtures = [
        "a_boot", "b_failure", "c_fanout", "d_notify", "e_otel", "f_osprofiler", "g_timeout", "h_quorum_qm", "i_stream_fanout",
        "j_gzip", "k_bz2",
    ]
    static let modes: [SourceMode] = [.firehose, .publishOnly, .selective]

    struct Run {
        var spans: [SpanID: Span] = [:]
        var stats: PipelineStats
        /// Trace messages that should carry each header (routed_queues: publishes).
        var expected: [FirehoseHeader: Int] = [:]
    }

    static func replay(_ fixture: String, mode: SourceMode, stripping header: FirehoseHeader?) throws -> Run {
        var options = SynthesisOptions()
        options.visibility = mode.visibility(controlExchanges: ["nova"], tapExchanges: [])
        var pipeline = EventPipeline(options: options, reducesToVisibility: true)
        var spans: [Span] = []
        var expected: [FirehoseHeader: Int] = [:]
        var splitter = LineSplitter()
        let handle: ([UInt8], Int) -> Void = { line, number in
            guard var record = try? BusMessage(line: line, lineNumber: number) else { return }
            let kind: BusEvent.Kind = record.routingKey.hasPrefix("publish.") ? .publish : .deliver
            for header in FirehoseHeader.allCases where header.expected(on: kind) { expected[header, default: 0] += 1 }
            if let header { record.headers.entries.removeAll { $0.key == header.name } }
            spans += pipeline.process(record: record, location: "line \(number)")
        }
        splitter.feed(try Repository.bytes(Repository.fixture("\(fixture).jsonl")), handle)
        splitter.finish(handle)
        spans += pipeline.finish()
        var run = Run(stats: pipeline.stats, expected: expected)
        for span in spans {
            #expect(run.spans[span.spanID] == nil, "\(fixture): span \(span.spanID) emitted twice")
            run.spans[span.spanID] = span
        }
        return run
    }

    @Test("the shipped captures carry every header: nothing counted")
    func capturesAreComplete() throws {
        for fixture in Self.fixtures {
            let full = try Self.replay(fixture, mode: .firehose, stripping: nil)
            #expect(full.stats.missingFirehoseHeaders.total == 0, "\(fixture): \(full.stats.missingFirehoseHeaders.missing)")
        }
    }

    @Test("each header stripped from each capture: every message without it counted, no new span, no wrong one",
          arguments: FirehoseHeader.allCases)
    func stripped(header: FirehoseHeader) throws {
        var degraded = 0, lost = 0, streamLost = 0
        for mode in Self.modes {
            for fixture in Self.fixtures {
                let full = try Self.replay(fixture, mode: mode, stripping: nil)
                var stripped = try Self.replay(fixture, mode: mode, stripping: header)
                streamLost += Self.matchStreamDeliveries(full: full, stripped: &stripped, header: header)
                let context = "\(fixture) --mode \(mode.rawValue) without \(header.name)"
                // Counted: once per trace message that should have had it, the others untouched.
                let counts = stripped.stats.missingFirehoseHeaders
                #expect(counts[header] == stripped.expected[header, default: 0] && counts[header] > 0, "\(context)")
                #expect(counts.total == counts[header], "\(context): only \(header.name) is counted")
                #expect(stripped.stats.skipped == full.stats.skipped, "\(context): nothing more skipped")

                #expect(Set(stripped.spans.keys).isSubset(of: Set(full.spans.keys)), "\(context): an invented span")
                for (id, span) in full.spans {
                    guard let other = stripped.spans[id] else {
                        // Only routing-inferred deliveries may go: without routed_queues nothing says where a
                        // publish went, and nothing is guessed.
                        #expect(header == .routedQueues && [.consumer, .server].contains(span.kind)
                                && span[attribute: "trace_bridge.delivery_observed"] == .bool(false),
                                "\(context): lost \(span.kind) \(span.name)")
                        lost += 1
                        continue
                    }
                    if other == span { continue }
                    degraded += 1
                    #expect(header == .routedQueues, "\(context): \(span.kind) \(span.name) changed")
                    Self.expectDocumentedDegradation(full: span, stripped: other, context: context)
                }
            }
        }
        print("firehose header \(header.name) stripped from \(Self.fixtures.count) captures in \(Self.modes.count) modes: \(lost) inferred deliveries not made, \(streamLost) stream deliveries merged, \(degraded) spans degraded, the rest identical")
    }

    /// A stream's deliveries are told apart by the consumer's connection and channel, which their span IDs hash:
    /// without either, the same spans come out under other IDs. They are matched by content and renamed to the full
    /// replay's IDs (parents too). Without `connection`, the listeners of one stream cannot be told apart at all:
    /// one CONSUMER span per message and stream remains, the others are counted here (returned), never invented.
    static func matchStreamDeliveries(full: Run, stripped: inout Run, header: FirehoseHeader) -> Int {
        guard header == .connection || header == .channel else { return 0 }
        let map = SynthesisOptions().serviceMap
        func isStreamDelivery(_ span: Span) -> Bool {
            guard span.kind == .consumer, case .string(let queue)? = span[attribute: "messaging.destination.subscription.name"]
            else { return false }
            return map.target(ofQueue: queue).isStreamQueue
        }
        struct Content: Hashable {
            var trace: TraceID, parent: SpanID?, name: String, start: Int64, end: Int64, resource: ServiceIdentity
        }
        func content(_ span: Span) -> Content {
            Content(trace: span.traceID, parent: span.parentSpanID, name: span.name, start: span.startTime,
                    end: span.endTime, resource: span.resource)
        }
        var unmatched = Dictionary(grouping: full.spans.values.filter(isStreamDelivery), by: content)
        var renamed: [SpanID: SpanID] = [:]
        for span in stripped.spans.values where isStreamDelivery(span) && full.spans[span.spanID] == nil {
            let candidates = unmatched[content(span)] ?? []
            guard let match = candidates.first(where: { $0.attributes == span.attributes }) else {
                Issue.record("a stream delivery without \(header.name) that the full replay does not have: \(span.name) \(span.resource)")
                continue
            }
            unmatched[content(span)] = candidates.filter { $0.spanID != match.spanID }
            renamed[span.spanID] = match.spanID
        }
        var spans: [SpanID: Span] = [:]
        for var span in stripped.spans.values {
            span.spanID = renamed[span.spanID] ?? span.spanID
            span.parentSpanID = span.parentSpanID.map { renamed[$0] ?? $0 }
            spans[span.spanID] = span
        }
        stripped.spans = spans
        // Whatever the full replay has beyond them: the listeners that could not be told apart.
        let merged = unmatched.values.joined().filter { stripped.spans[$0.spanID] == nil }
        #expect(header == .connection || merged.isEmpty, "without channel every listener keeps its span: \(merged.map(\.name))")
        for span in merged { stripped.spans[span.spanID] = span }  // compared as equal below: counted, not a failure
        return merged.count
    }

    /// Without `routed_queues`: an unroutable publish is not marked; a sender the handlers routing would have shown
    /// becomes unknown (never the API by elimination); a publish whose handler routing would have shown starts its
    /// request's trace instead of continuing the handler. Everything else is as in the full replay.
    static func expectDocumentedDegradation(full: Span, stripped: Span, context: String) {
        let what = "\(context): \(full.kind) \(full.name)"
        #expect(stripped.resource == full.resource || stripped.resource.isUnknown,
                "\(what): attributed to \(stripped.resource), was \(full.resource)")
        #expect(stripped.parentSpanID == full.parentSpanID || stripped.parentSpanID == nil, "\(what): another parent")
        if stripped.parentSpanID != full.parentSpanID {
            #expect(full.kind == .producer || full.kind == .client, "\(what): only a publish loses its handler")
        } else {
            #expect(stripped.traceID == full.traceID, "\(what): another trace")
        }
        if stripped.status != full.status {
            #expect(full[attribute: "trace_bridge.unroutable"] == .bool(true) && stripped.status.code == .unset,
                    "\(what): status \(stripped.status)")
        }
        // Unroutable is marked twice: `trace_bridge.unroutable` and `error.type` (semantic conventions).
        let ignored: Set<String> = full[attribute: "trace_bridge.unroutable"] == .bool(true) ? ["trace_bridge.unroutable", "error.type"] : []
        #expect(stripped.attributes.filter { !ignored.contains($0.key) } == full.attributes.filter { !ignored.contains($0.key) },
                "\(what): attributes")
        #expect(stripped.startTime == full.startTime && stripped.endTime == full.endTime && stripped.name == full.name
                && stripped.kind == full.kind && stripped.events == full.events, "\(what): timing or name")
    }

    @Test("a tap message has no firehose headers to miss: nothing counted")
    func tapIsNotCounted() throws {
        var options = SynthesisOptions()
        options.visibility = SourceMode.tap.visibility(controlExchanges: ["nova"], tapExchanges: ["nova"])
        var pipeline = EventPipeline(options: options)
        let record = BusMessage(
            seq: 1, capturedAt: 1, mode: .tap, exchange: "nova", routingKey: "conductor", redelivered: false,
            properties: MessageProperties(), headers: AMQPTable(), body: Array(#"{"oslo.version": "2.0", "oslo.message": "{}"}"#.utf8))
        _ = pipeline.process(record: record)
        #expect(pipeline.stats.missingFirehoseHeaders.total == 0)
    }
}
