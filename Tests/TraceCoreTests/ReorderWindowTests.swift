import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Cluster order (issue 13, item 5): every shipped capture, replayed as a three-node cluster would deliver it
/// (`ClusterSimulation`), must score exactly like the capture itself with the default reorder window.
@Suite("Reorder window: cluster order")
struct ReorderWindowTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]
    static let milliseconds: Int64 = 1_000_000

    /// Captures whose three-node replay the default window does not hold yet. Their per-capture checks still run,
    /// as known issues (so a fix shows as "no longer failing", not as a failure); the measured-window tallies leave
    /// them out. Take a capture out of this list once the window holds it.
    /// - o_migration_resize: at D = 10 ms some calls lose the SERVER span, and some caused publishes (prep_resize's,
    ///   pre_live_migration's) lose their parent; a confirm_resize cast in a request of its own is attributed to
    ///   nova-conductor (seeds 6, 7).
    /// - p_neutron: the same kinds at D = 10 ms, on the agents' calls and the later roots of their long-lived request
    ///   IDs (a delivery synthesized before its publish gets the request-ID trace, the publish its own). Halved
    ///   (83 -> 46 recorded issues, o_ 28 -> 26) once a publish stopped waiting for a handler queued behind its own
    ///   delivery.
    /// m_multicreate_one_host and n_multicreate_two_hosts left the list when a call stopped holding back the
    /// publishes of handlers about other instances (`ReorderWindow.mayBeSameHandler`): nova-compute's concurrent
    /// builds share a connection, and each build's object_action call held the others' for the whole window.
    static let clusterOrderPending: Set<String> = [
        "o_migration_resize", "p_neutron",
    ]

    /// Runs `body`, whose issues are known ones for a capture in `clusterOrderPending`.
    static func checking(_ fixture: String, _ body: () throws -> Void) rethrows {
        guard clusterOrderPending.contains(fixture) else { return try body() }
        withKnownIssue("three-node order of \(fixture) not held yet (ReorderWindowTests.clusterOrderPending)",
                       isIntermittent: true) { try body() }
    }

    /// Mismatches and lost-fidelity counts over every capture and seed, for one link drift and one window.
    struct Tally: CustomStringConvertible {
        var runs = 0, failedRuns = 0, failures = 0, serversLost = 0, wrongServices = 0, overtakes = 0
        var firstFailure: String?
        var description: String {
            "\(failedRuns)/\(runs) runs lose fidelity: \(failures) mismatches (SERVER spans lost \(serversLost), "
                + "wrong services \(wrongServices)); \(overtakes) messages overtaken"
                + (firstFailure.map { "; e.g. \($0)" } ?? "")
        }
    }

    static func tally(maxDelay: Int64, window: Int64, timestamps: Bool = false, seeds: [UInt64] = seeds) throws -> Tally {
        var tally = Tally()
        for fixture in GroundTruthTests.fixtures where !clusterOrderPending.contains(fixture) {
            let original = try ClusterSimulation.records(fixture: fixture)
            for seed in seeds {
                let records = ClusterSimulation.reorder(original, seed: seed, maxDelay: maxDelay, timestamps: timestamps)
                tally.overtakes += ClusterSimulation.overtakes(records, original: original)
                let outcome = try lostFidelity(fixture: fixture, records: records, window: window)
                tally.runs += 1
                if !outcome.failures.isEmpty {
                    tally.failedRuns += 1
                    tally.firstFailure = tally.firstFailure ?? "seed \(seed): \(outcome.failures[0])"
                }
                tally.failures += outcome.failures.count
                tally.serversLost += outcome.serversLost
                tally.wrongServices += outcome.wrongServices
            }
        }
        return tally
    }

    /// The checks `records` fail that the capture as shipped passes (GroundTruthTests reports the capture's own).
    static func lostFidelity(fixture: String, records: [BusMessage], window: Int64) throws -> GroundTruthTests.Outcome {
        let shipped = try GroundTruthTests.check(fixture: fixture, reorderWindow: 0, strict: false)
        var outcome = try GroundTruthTests.check(fixture: fixture, records: records, reorderWindow: window, strict: false)
        outcome.failures.removeAll { Set(shipped.failures).contains($0) }
        outcome.serversLost -= shipped.serversLost
        outcome.wrongServices -= shipped.wrongServices
        return outcome
    }

    @Test("without the window, nodes whose links drift by 3 or 10 ms lose fidelity")
    func baselineLosesFidelity() throws {
        for delay: Int64 in [3, 10] {
            let tally = try Self.tally(maxDelay: delay * Self.milliseconds, window: 0)
            report("no window, D = \(delay) ms: \(tally)")
            if delay == 10 { #expect(tally.failures > 0, "the simulation must be able to break the synthesis") }
        }
    }

    @Test("with the default window, every capture and seed keeps every check at D = 10 ms", arguments: GroundTruthTests.fixtures)
    func defaultWindowHolds(fixture: String) throws {
        let original = try ClusterSimulation.records(fixture: fixture)
        try Self.checking(fixture) {
            for seed in Self.seeds {
                let records = ClusterSimulation.reorder(original, seed: seed, maxDelay: 10 * Self.milliseconds)
                let outcome = try Self.lostFidelity(
                    fixture: fixture, records: records, window: SynthesisOptions.defaultReorderWindow)
                for failure in outcome.failures { Issue.record("seed \(seed): \(failure)") }
            }
        }
    }

    @Test("with timestamp_in_ms (RabbitMQ 3.12+), the default window holds at D = 10 ms too")
    func timestampsHold() throws {
        let tally = try Self.tally(
            maxDelay: 10 * Self.milliseconds, window: SynthesisOptions.defaultReorderWindow, timestamps: true)
        report("timestamp_in_ms, default window, D = 10 ms: \(tally)")
        #expect(tally.failures == 0, "\(tally)")
    }

    /// The measured basis of the default: fidelity per window length, per drift.
    @Test("the default window is the smallest that holds at D = 10 ms, with margin")
    func defaultIsMeasured() throws {
        var smallest: Int64?
        for window: Int64 in [0, 2, 5, 8, 10, 15, 20] {
            let tally = try Self.tally(maxDelay: 10 * Self.milliseconds, window: window * Self.milliseconds)
            report("D = 10 ms, W = \(window) ms: \(tally)")
            if tally.failures == 0, smallest == nil { smallest = window }
        }
        for delay: Int64 in [3, 20] {
            let tally = try Self.tally(maxDelay: delay * Self.milliseconds, window: SynthesisOptions.defaultReorderWindow)
            report("D = \(delay) ms, default W: \(tally)")
        }
        let found = try #require(smallest, "no window up to 20 ms holds at 10 ms")
        report("smallest window holding at D = 10 ms: \(found) ms; default \(SynthesisOptions.defaultReorderWindow / Self.milliseconds) ms")
        #expect(SynthesisOptions.defaultReorderWindow >= found * Self.milliseconds)
    }

    @Test("trace-bridge replay of a reordered capture keeps every SERVER span; --reorder-window 0 loses some")
    func replayCommand() throws {
        let records = ClusterSimulation.reorder(
            try ClusterSimulation.records(fixture: "a_boot"), seed: 1, maxDelay: 10 * Self.milliseconds)
        var input: [UInt8] = []
        for record in records { input += record.jsonLine() + [0x0A] }
        /// SERVER spans that saw their reply: a call whose reply overtook its delivery gets one that ends unobserved.
        func servers(_ extra: [String]) throws -> Int {
            let result = try CLI.run(["replay", "-", "--format", "otlp-json"] + extra, stdin: Data(input))
            #expect(result.status == 0, "\(result.stderr)")
            return try decodeOTLPJSONLines(result.stdout).filter { $0.kind == 2 && $0.callEnd == nil }.count
        }
        #expect(try servers([]) == 8, "a_boot answers 8 calls")
        let summary = try CLI.run(["replay", "-", "--format", "otlp-json"], stdin: Data(input)).stderr
        #expect(summary.contains("reorder window (3 nodes): "), "\(summary)")
        #expect(try servers(["--reorder-window", "0"]) < 8)
    }

    static func firstDifference(_ spans: [Span], _ expected: [Span]) -> String {
        for (index, (span, other)) in zip(spans, expected).enumerated() where span != other {
            return "span \(index): \(span.kind.name) \(span.name) \(span.resource) vs \(other.kind.name) \(other.name) \(other.resource)"
        }
        return "\(spans.count) spans vs \(expected.count)"
    }

    @Test("a single node's capture gives identical spans with the window on (and three nodes without delay too)",
          arguments: GroundTruthTests.fixtures)
    func inOrderIsUnchanged(fixture: String) throws {
        var off = GroundTruthTests.options(for: fixture)
        off.reorderWindow = 0
        var on = off
        on.reorderWindow = SynthesisOptions.defaultReorderWindow
        let records = try ClusterSimulation.records(fixture: fixture)
        let expected = Replay(records: records, options: off).spans
        let shipped = Replay(records: records, options: on)
        #expect(shipped.spans == expected, "\(Self.firstDifference(shipped.spans, expected))")
        #expect(shipped.pipeline.window.counters.reordered == 0 && shipped.pipeline.window.counters.timesAdjusted == 0)
        let threeNodes = ClusterSimulation.reorder(records, seed: 1, maxDelay: 0)
        // The simulation moves connections to other nodes: `server.address` (the node) changes by design, so its
        // value is masked on both sides (where it is present still counts).
        func nodeMasked(_ spans: [Span]) -> [Span] {
            spans.map { span in
                var span = span
                for index in span.attributes.indices where span.attributes[index].key == AttributeKey.serverAddress {
                    span.attributes[index].value = .string("node")
                }
                return span
            }
        }
        let relabelled = nodeMasked(Replay(records: threeNodes, options: on).spans)
        let unmoved = nodeMasked(expected)
        Self.checking(fixture) {
            #expect(relabelled.count == unmoved.count && relabelled == unmoved,
                    "\(fixture): three nodes with no delay must change nothing; first difference: \(Self.firstDifference(relabelled, unmoved))")
        }
    }
}

/// One test per ordering rule of the reorder window, its bounds, and the acknowledgement watermark.
@Suite("Reorder window: rules and bounds")
struct ReorderWindowRuleTests {
    static let ms: Int64 = 1_000_000
    static let window: Int64 = 20 * ms

    static func event(
        _ kind: BusEvent.Kind, node: String, at time: Int64, exchange: String = "nova", routingKey: String = "conductor",
        queue: String? = nil, connection: String? = nil, routed: [String]? = nil, timestampMillis: Int64? = nil
    ) -> BusEvent {
        var properties = MessageProperties()
        if let timestampMillis {
            properties.headers = AMQPTable([("timestamp_in_ms", .integer(timestampMillis, tag: UInt8(ascii: "l")))])
        }
        return BusEvent(
            kind: kind, time: time * ms, exchange: exchange, routingKey: routingKey, queue: queue,
            routedQueues: kind == .publish ? (routed ?? [queue ?? routingKey]) : nil, properties: properties,
            connection: connection, node: node, source: .firehose, body: [])
    }

    static func request(_ id: String, call msgID: String? = nil, replyQueue: String? = nil, request: String = "req-1") -> OsloMessage {
        var message = OsloMessage(kind: .request)
        message.uniqueID = id
        message.method = "m"
        message.msgID = msgID
        message.replyQueue = replyQueue ?? (msgID != nil ? "reply_q" : nil)
        message.context.requestID = request
        return message
    }

    static func reply(_ id: String, to msgID: String) -> OsloMessage {
        var message = OsloMessage(kind: .reply)
        message.uniqueID = id
        message.msgID = msgID
        message.ending = true
        return message
    }

    static func notification(_ id: String, publisher: String, request: String = "req-1") -> OsloMessage {
        var message = OsloMessage(kind: .notification)
        message.messageID = id
        message.publisherID = publisher
        message.eventType = "compute.instance.pause.start"
        message.context.requestID = request
        return message
    }

    /// Feeds events in arrival order; returns the released ones as "identity@ms" (or the identity alone).
    struct Run {
        var window = ReorderWindow(window: ReorderWindowRuleTests.window)
        var out: [ReorderWindow.Entry] = []
        var sequence: Int64 = 0

        mutating func add(_ event: BusEvent, _ message: OsloMessage) {
            sequence += 1
            out += window.insert(event, message, location: "", sequence: sequence)
        }

        var order: [String] { out.map { "\($0.event.kind == .publish ? "P" : "D"):\($0.message.uniqueID ?? $0.message.messageID ?? "")" } }
        func time(_ label: String) -> Int64? {
            out.first { "\($0.event.kind == .publish ? "P" : "D"):\($0.message.uniqueID ?? $0.message.messageID ?? "")" == label }?.event.time
        }
    }

    @Test("a delivery waits for its publish from another node, and is never earlier than it")
    func deliveryFollowsPublish() {
        var run = Run()
        run.add(Self.event(.deliver, node: "b", at: 100, queue: "conductor"), Self.request("m1"))
        #expect(run.out.isEmpty, "the delivery is held: its publish has not arrived")
        run.add(Self.event(.publish, node: "a", at: 104), Self.request("m1"))
        #expect(run.order == ["P:m1", "D:m1"])
        #expect(run.time("D:m1") == 104 * Self.ms, "clamped to the publish: no negative queue wait")
    }

    @Test("a node's events keep their order: one held event holds its successors")
    func perNodeOrder() {
        var run = Run()
        run.add(Self.event(.deliver, node: "b", at: 100, queue: "conductor"), Self.request("m1"))
        run.add(Self.event(.publish, node: "b", at: 101, routingKey: "scheduler"), Self.request("m2"))
        #expect(run.out.isEmpty, "m2's publish is behind m1's held delivery on node b")
        run.add(Self.event(.publish, node: "c", at: 102, routingKey: "compute"), Self.request("m3", request: "req-2"))
        #expect(run.order == ["P:m3"], "another node's events are not held by it")
        run.add(Self.event(.publish, node: "a", at: 103), Self.request("m1"))
        #expect(run.order == ["P:m3", "P:m1", "D:m1", "P:m2"])
    }

    @Test("a reply's publish waits for the delivery of its call")
    func replyFollowsCallDelivery() {
        var run = Run()
        run.add(Self.event(.publish, node: "a", at: 100, routingKey: "scheduler", connection: "conductor"), Self.request("c1", call: "msg-1"))
        run.add(Self.event(.publish, node: "c", at: 103, exchange: "", routingKey: "reply_q", connection: "scheduler"), Self.reply("r1", to: "msg-1"))
        #expect(run.order == ["P:c1"], "the reply is held: the call's delivery has not arrived")
        run.add(Self.event(.deliver, node: "b", at: 105, routingKey: "scheduler", queue: "scheduler"), Self.request("c1", call: "msg-1"))
        #expect(run.order == ["P:c1", "D:c1", "P:r1"])
        #expect(run.time("P:r1")! >= run.time("D:c1")!, "SERVER spans never end before they start")
    }

    @Test("a handler blocked on a call publishes after the reply's delivery")
    func blockedHandlerFollowsReply() {
        var run = Run()
        run.add(Self.event(.publish, node: "a", at: 100, routingKey: "scheduler", connection: "conductor-pool"), Self.request("c1", call: "msg-1"))
        run.add(Self.event(.deliver, node: "b", at: 101, routingKey: "scheduler", queue: "scheduler"), Self.request("c1", call: "msg-1"))
        run.add(Self.event(.publish, node: "b", at: 110, exchange: "", routingKey: "reply_q", connection: "scheduler-pool"), Self.reply("r1", to: "msg-1"))
        // The conductor's next cast, on the call's connection, overtakes the reply's delivery (node c).
        run.add(Self.event(.publish, node: "a", at: 111, routingKey: "compute.host-1", connection: "conductor-pool"), Self.request("k1"))
        #expect(run.order == ["P:c1", "D:c1", "P:r1"], "the cast waits: its handler is blocked until the reply is delivered")
        run.add(Self.event(.deliver, node: "c", at: 113, exchange: "", routingKey: "reply_q", queue: "reply_q"), Self.reply("r1", to: "msg-1"))
        #expect(run.order == ["P:c1", "D:c1", "P:r1", "D:r1", "P:k1"])
        #expect(run.time("P:k1") == 113 * Self.ms, "never before the reply that unblocked it")
    }

    @Test("a call about one instance does not hold back a publish about another on the same connection")
    func concurrentHandlersOfOtherInstances() {
        func about(_ message: OsloMessage, _ instance: String) -> OsloMessage {
            var message = message
            message.subject = instance
            return message
        }
        var run = Run()
        // nova-compute builds instances A and B of one request at once, on one connection: A's object_action call
        // is unanswered when B's build calls too. B's call is not A's handler's, so it leaves at once.
        run.add(Self.event(.publish, node: "a", at: 100, routingKey: "conductor", connection: "compute-pool"),
                about(Self.request("a1", call: "msg-a"), "instance-a"))
        run.add(Self.event(.publish, node: "a", at: 101, routingKey: "conductor", connection: "compute-pool"),
                about(Self.request("b1", call: "msg-b"), "instance-b"))
        #expect(run.order == ["P:a1", "P:b1"])
        // A's next call, about A, waits for the reply to A's first (its handler is blocked on it).
        run.add(Self.event(.deliver, node: "b", at: 102, routingKey: "conductor", queue: "conductor"),
                about(Self.request("a1", call: "msg-a"), "instance-a"))
        run.add(Self.event(.publish, node: "b", at: 103, exchange: "", routingKey: "reply_q", connection: "conductor-pool"),
                Self.reply("ra", to: "msg-a"))
        run.add(Self.event(.publish, node: "a", at: 104, routingKey: "conductor", connection: "compute-pool"),
                about(Self.request("a2", call: "msg-a2"), "instance-a"))
        #expect(run.order == ["P:a1", "P:b1", "D:a1", "P:ra"], "A's second call waits for the reply's delivery")
        run.add(Self.event(.deliver, node: "c", at: 105, exchange: "", routingKey: "reply_q", queue: "reply_q"),
                Self.reply("ra", to: "msg-a"))
        #expect(run.order == ["P:a1", "P:b1", "D:a1", "P:ra", "D:ra", "P:a2"])
    }

    @Test("a publish does not wait for a handler whose delivery is queued behind the publish's own delivery")
    func noWaitForWhatCannotComeFirst() {
        var run = Run()
        // nova-compute's object_action call to the conductor (released, its delivery to come).
        run.add(Self.event(.publish, node: "a", at: 100, routingKey: "conductor", connection: "compute-x"), Self.request("k2"))
        // Node b traces the delivery of nova-compute's next call p1 (its publish, on node c, is late), then k2's.
        run.add(Self.event(.deliver, node: "b", at: 101, routingKey: "compute.compute-2", queue: "compute.compute-2"), Self.request("p1"))
        run.add(Self.event(.deliver, node: "b", at: 102, routingKey: "conductor", queue: "conductor"), Self.request("k2"))
        #expect(run.order == ["P:k2"])
        // p1's publish could be the conductor's (k2's handler) by rule 5, but k2's delivery cannot leave before
        // p1's, which waits for this publish: p1 leaves now, not at the deadline.
        run.add(Self.event(.publish, node: "c", at: 103, routingKey: "compute.compute-2", connection: "compute-y"), Self.request("p1"))
        #expect(run.order == ["P:k2", "P:p1", "D:p1", "D:k2"])
        #expect(run.window.counters.releasedAtDeadline == 0)
    }

    @Test("a handler's notification waits for the delivery that opens the handler")
    func notificationFollowsItsHandler() {
        var run = Run()
        run.add(Self.event(.publish, node: "a", at: 100, routingKey: "compute.compute-1", connection: "api"), Self.request("k1"))
        run.add(Self.event(.publish, node: "c", at: 102, routingKey: "notifications.info", connection: "compute-pool"),
                Self.notification("n1", publisher: "compute.compute-1"))
        #expect(run.order == ["P:k1"], "nova-compute's notification is held: its handler's delivery is on its way")
        run.add(Self.event(.deliver, node: "b", at: 104, routingKey: "compute.compute-1", queue: "compute.compute-1"), Self.request("k1"))
        #expect(run.order == ["P:k1", "D:k1", "P:n1"])
    }

    @Test("a request waits for an undelivered request of its request ID to another service, not one from its own connection")
    func requestFollowsOtherHandlers() {
        var run = Run()
        run.add(Self.event(.publish, node: "a", at: 100, routingKey: "compute.compute-1", connection: "api"), Self.request("k1"))
        // The API's own next publish (same connection): it cannot be caused by k1's handler.
        run.add(Self.event(.publish, node: "a", at: 101, routingKey: "conductor", connection: "api"), Self.request("k2"))
        #expect(run.order == ["P:k1", "P:k2"])
        // nova-compute's call to the conductor overtakes the delivery of k1 that opened its handler.
        run.add(Self.event(.publish, node: "c", at: 102, routingKey: "conductor", connection: "compute-pool"), Self.request("k3", call: "msg-3"))
        #expect(run.order == ["P:k1", "P:k2"])
        run.add(Self.event(.deliver, node: "b", at: 103, routingKey: "compute.compute-1", queue: "compute.compute-1"), Self.request("k1"))
        #expect(run.order == ["P:k1", "P:k2", "D:k1", "P:k3"])
    }

    @Test("timestamp_in_ms is the publish time: a lagging node's publish is moved back into its millisecond")
    func timestampInMillis() {
        var run = Run()
        run.add(Self.event(.publish, node: "a", at: 109, timestampMillis: 100), Self.request("m1"))
        #expect(run.time("P:m1") == 100 * Self.ms + 999_999)
        run.add(Self.event(.publish, node: "a", at: 120, timestampMillis: 120), Self.request("m2", request: "req-2"))
        #expect(run.time("P:m2") == 120 * Self.ms, "already in its millisecond: unchanged")
    }

    @Test("through the pipeline, an event that leaves at once is synthesized at its settled time")
    func pipelineSynthesizesSettledTime() {
        // The pipeline synthesizes such an event itself (not a copy out of the window), so it must take the time the
        // window settled on: here `timestamp_in_ms` moves the publish back, and the delivery is clamped to it.
        var pipeline = EventPipeline()
        let published = pipeline.process(
            event: Self.event(.publish, node: "a", at: 109, timestampMillis: 100), message: Self.request("m1"),
            location: "test")
        #expect(published.map(\.kind) == [.producer])
        #expect(published.map(\.startTime) == [100 * Self.ms + 999_999], "moved into its millisecond")
        let delivered = pipeline.process(
            event: Self.event(.deliver, node: "a", at: 100, queue: "conductor"), message: Self.request("m1"),
            location: "test")
        #expect(delivered.map(\.kind) == [.consumer])
        #expect(delivered.map(\.startTime) == [100 * Self.ms + 999_999], "never before its publish")
        let unmoved = pipeline.process(
            event: Self.event(.publish, node: "a", at: 120), message: Self.request("m2", request: "req-2"),
            location: "test")
        #expect(unmoved.map(\.startTime) == [120 * Self.ms], "an unmoved event keeps its own time")
        #expect(pipeline.window.held == 0)
        #expect(pipeline.window.counters.timesAdjusted == 2)
    }

    @Test("an event whose dependency never comes leaves after the window, not before")
    func deadline() {
        var run = Run()
        run.add(Self.event(.deliver, node: "b", at: 100, queue: "conductor"), Self.request("orphan"))
        run.out += run.window.advance(to: 119 * Self.ms)
        #expect(run.out.isEmpty)
        run.out += run.window.advance(to: 120 * Self.ms)
        #expect(run.order == ["D:orphan"])
        #expect(run.window.counters.releasedAtDeadline == 1)
    }

    @Test("memory is bounded: beyond the capacity the oldest event leaves early, counted")
    func capacity() {
        var window = ReorderWindow(window: Self.window, capacity: 3)
        var released: [Int64] = []
        for index in 0..<5 {
            let event = Self.event(.deliver, node: "n\(index)", at: 100 + Int64(index), queue: "conductor")
            released += window.insert(event, Self.request("m\(index)"), location: "", sequence: Int64(index + 1)).map(\.sequence)
            #expect(window.held <= 3)
        }
        #expect(released == [1, 2], "the oldest leave first")
        #expect(window.counters.releasedEarly == 2 && window.counters.heldMaximum == 4)
    }

    @Test("the acknowledgement watermark never passes a held event", arguments: [1, 2, 3] as [UInt64])
    func watermark(seed: UInt64) throws {
        let records = ClusterSimulation.reorder(
            try ClusterSimulation.records(fixture: "a_boot"), seed: seed, maxDelay: 10 * Self.ms)
        var pipeline = EventPipeline(options: SynthesisOptions())
        var heldSome = false
        for record in records {
            _ = pipeline.process(record: record)
            let through = pipeline.releasedThrough
            #expect(through <= pipeline.inputs)
            if let oldest = pipeline.window.oldestHeldSequence {
                heldSome = true
                #expect(through == oldest - 1, "a delivery after a held one must not be acknowledged")
            } else {
                #expect(through == pipeline.inputs)
            }
        }
        #expect(heldSome, "the reordered capture must exercise the window")
        _ = pipeline.finish()
        #expect(pipeline.releasedThrough == pipeline.inputs && pipeline.window.held == 0)
    }
}
