import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// `BusREDMetrics` against the captures' ground truth: call counts by caller, callee, method and outcome, queue
/// waits per observed delivery, publishes by kind, and the series cap against a hostile bus.
@Suite struct BusREDMetricsTests {
    @Test("call counts by caller, callee, method and outcome equal the truth's calls", arguments: GroundTruthTests.fixtures)
    func callsMatchTruth(fixture: String) throws {
        let options = GroundTruthTests.options(for: fixture)
        let replay = try Replay(fixture: fixture, options: options)
        let truth = try Truth(fixture: fixture)
        var metrics = BusREDMetrics(serviceMap: options.serviceMap)
        metrics.record(replay.spans)

        // Expected: one CLIENT per call; its outcome from the truth (a failure seen on the wire, a timeout).
        var expected: [[String]: UInt64] = [:]
        for op in truth.operations where op["kind"]?.stringValue == "call" {
            guard let uid = op["unique_id"]?.stringValue,
                let client = replay.spans(kind: .client, messageID: uid).first
            else { continue }
            let target = options.serviceMap.target(
                exchange: op["exchange"]?.stringValue ?? "", routingKey: op["routing_key"]?.stringValue ?? "")
            let peer = options.serviceMap.service(of: target)?.service ?? "unknown"
            let outcome = op["outcome"]?.stringValue == "timeout" ? "timeout"
                : (op["failure_visible_on_wire"] == .bool(true) ? "error" : "ok")
            // `rpc.method` fully qualified: the endpoint's namespace, else the topic (semantic conventions v1.44.0).
            let method = "\(op["namespace"]?.stringValue ?? op["topic"]?.stringValue ?? "-")/\(op["method"]?.stringValue ?? "unknown")"
            expected[[client.resource.service, peer, method, outcome], default: 0] += 1
        }
        let actual = Dictionary(uniqueKeysWithValues: metrics.calls.histograms.map { (Array($0.key), $0.value.count) })
        #expect(actual == expected, "\(fixture): calls \(actual), truth \(expected)")
        #expect(metrics.calls.overflowed == 0)
    }

    @Test("every observed delivery with a seen publish is one queue-wait sample, by queue template", arguments: GroundTruthTests.fixtures)
    func queueWaits(fixture: String) throws {
        let options = GroundTruthTests.options(for: fixture)
        let replay = try Replay(fixture: fixture, options: options)
        var metrics = BusREDMetrics(serviceMap: options.serviceMap)
        metrics.record(replay.spans)
        // A call's delivery is its SERVER span, any other's a CONSUMER: both start at the delivery and carry the wait.
        let known = replay.spans.filter { [.consumer, .server].contains($0.kind) && $0[attribute: AttributeKey.traceBridgeQueueWaitKnown] == nil }
        let total = metrics.queueWait.histograms.values.reduce(0) { $0 + $1.count }
        #expect(total == UInt64(known.count))
        let sum = metrics.queueWait.histograms.values.reduce(0.0) { $0 + $1.sum }
        let waits = known.compactMap { span -> Int64? in
            if case .int(let value)? = span[attribute: AttributeKey.traceBridgeQueueWaitNS] { return value }
            return nil
        }
        #expect(waits.count == known.count && abs(sum - Double(waits.reduce(0, +)) / 1e9) < 1e-6, "\(fixture): the samples are the spans' waits")
        for labels in metrics.queueWait.histograms.keys {
            #expect(!labels[0].contains("compute-1") && labels[0].range(of: "[0-9a-f]{32}", options: .regularExpression) == nil,
                    "\(fixture): destination \(labels[0]) names a host or an ID")
        }
    }

    @Test("publishes: notifications by event type and priority, casts by method, calls once each")
    func publishes() throws {
        let options = GroundTruthTests.options(for: "d_notify")
        let replay = try Replay(fixture: "d_notify", options: options)
        let truth = try Truth(fixture: "d_notify")
        var metrics = BusREDMetrics(serviceMap: options.serviceMap)
        metrics.record(replay.spans)
        let notifications = truth.operations.filter { $0["kind"]?.stringValue == "notify" }.count
        let counted = metrics.publishes.histograms.filter { $0.key[1] == "notification" }.values.reduce(0) { $0 + $1.count }
        #expect(counted == UInt64(notifications))
        let calls = truth.operations.filter { $0["kind"]?.stringValue == "call" }.count
        let callPublishes = metrics.publishes.histograms.filter { $0.key[1] == "call" }.values.reduce(0) { $0 + $1.count }
        #expect(callPublishes == UInt64(calls))
    }

    @Test("a timed-out call is outcome timeout; an unroutable cast is outcome unroutable")
    func timeoutAndUnroutable() throws {
        let replay = try Replay(fixture: "g_timeout", options: GroundTruthTests.options(for: "g_timeout"))
        var metrics = BusREDMetrics()
        metrics.record(replay.spans)
        #expect(metrics.calls.count(["nova-api", "nova-compute", "compute/get_console_output", "timeout"]) == 1)
        #expect(metrics.publishes.histograms.keys.contains { $0[0] == "nova-api" && $0[4] == "unroutable" })
    }

    @Test("label sets are capped: past the cap, samples go to the `other` series and are counted")
    func cardinalityCap() {
        var metrics = BusREDMetrics(maximumSeries: 10)
        for index in 0..<100 {
            metrics.record(Span(
                traceID: TraceID(uuid: "00000000-0000-0000-0000-000000000001")!, spanID: SpanID(bytes: Array(repeating: UInt8(index + 1), count: 8)),
                parentSpanID: nil, name: "x", kind: .server, startTime: 0, endTime: 1_000_000,
                attributes: [Attribute(AttributeKey.rpcMethod, .string("hostile_\(index)"))],
                resource: ServiceIdentity(service: "nova-conductor")))
        }
        #expect(metrics.serverProcessing.histograms.count == 10)
        #expect(metrics.serverProcessing.count(["other", "other", "other"]) == 91)
        #expect(metrics.serverProcessing.overflowed == 91)
    }

    @Test("exposition: cumulative buckets up to +Inf = count, sum, label values escaped, one sample per line")
    func exposition() {
        var metrics = BusREDMetrics()
        let hostile = "a\"b\\c\nd"
        for (index, nanoseconds) in [30_000_000, 3_000_000_000].enumerated() {
            metrics.record(Span(
                traceID: TraceID(uuid: "00000000-0000-0000-0000-000000000001")!, spanID: SpanID(bytes: Array(repeating: UInt8(index + 1), count: 8)),
                parentSpanID: nil, name: "x", kind: .server, startTime: 0, endTime: Int64(nanoseconds),
                attributes: [Attribute(AttributeKey.rpcMethod, .string(hostile))],
                resource: ServiceIdentity(service: "nova-compute")))
        }
        let text = metrics.exposition()
        let labels = #"service_name="nova-compute",rpc_method="a\"b\\c\nd",outcome="ok""#
        for (le, count) in [("0.025", 0), ("0.05", 1), ("2.5", 1), ("5.0", 2), ("+Inf", 2)] {
            #expect(text.contains("rpc_server_call_duration_seconds_bucket{\(labels),le=\"\(le)\"} \(count)\n"), "le \(le)")
        }
        #expect(text.contains("rpc_server_call_duration_seconds_count{\(labels)} 2\n"))
        #expect(text.contains("rpc_server_call_duration_seconds_sum{\(labels)} 3.03\n"))
        #expect(text.contains("# TYPE messaging_client_sent_messages_total counter\n"))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.wholeMatch(of: /[a-z_]+\{[^\n]*\} [0-9.e+-]+/) != nil, "sample line \(line)")
        }
    }
}
