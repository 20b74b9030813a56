import Testing

@testable import OTLPExport
@testable import TraceCore

/// The exporter's rules (docs/operations.md §6) on a test clock with a scripted transport: backoff, Retry-After, the
/// elapsed-time limit, permanent failures, acknowledgement in order, the in-flight limit, the shutdown grace.
/// Nothing here sleeps on the real clock: a wait that used it would never see the test clock move, and the suite's
/// time limit would fail it.
@Suite("BatchingExporter on a test clock", .timeLimit(.minutes(1)))
struct BatchingExporterTests {
    /// One exporter with its test clock, scripted transport, notices and settlement signal.
    struct Harness {
        let clock = TestClock()
        let transport: RecordingTransport
        let exporter: BatchingExporter<Int>
        let notices = NoticeLog()
        let settled: AsyncStream<Void>

        init(_ policy: BatchingPolicy = Self.policy(), script: [String: [RecordingTransport.Step]] = [:]) {
            transport = RecordingTransport(clock: clock, script: script)
            exporter = BatchingExporter(
                transport: transport, policy: policy, resourceAttributes: [], clock: clock,
                notice: { [notices] in notices.append($0) })
            let (stream, continuation) = AsyncStream<Void>.makeStream()
            settled = stream
            exporter.onSettled { continuation.yield() }
        }

        /// One delivery per batch, two in flight, the specification's backoff (1 s doubling to 30 s, 300 s at most).
        static func policy(maxBatchDeliveries: Int = 1, maxInFlight: Int = 2, maximumElapsed: Duration = .seconds(300))
            -> BatchingPolicy
        {
            BatchingPolicy(maxBatchSpans: 1024, maxBatchDeliveries: maxBatchDeliveries, delay: .seconds(5),
                           maxInFlight: maxInFlight, initialBackoff: .seconds(1), maximumBackoff: .seconds(30),
                           maximumElapsed: maximumElapsed)
        }

        /// The spans of delivery `tag`: three spans named `batch`, which is how the transport tells batches apart.
        func deliver(_ batch: String, tag: Int, spans: Int = 3) {
            exporter.accept((0..<spans).map { Self.span(batch, $0) }, from: tag)
        }

        static func span(_ name: String, _ index: Int) -> Span {
            Span(traceID: TraceID(high: 1, low: 2), spanID: SpanID(UInt64(index + 1)), parentSpanID: nil, name: name,
                 kind: .internal, startTime: 1_000, endTime: 2_000,
                 resource: ServiceIdentity(service: "nova-api", host: "api-1"))
        }

        /// Waits for the next "more deliveries are acknowledgeable" signal, then takes the acknowledgement.
        func nextAckable() async -> Int? {
            var iterator = settled.makeAsyncIterator()
            _ = await iterator.next()
            return exporter.takeAckable()
        }
    }

    /// What the exporter told the operator, in order.
    final class NoticeLog: Sendable {
        private let notices = Locked<[ExporterNotice]>([])

        func append(_ notice: ExporterNotice) { notices.withLock { $0.append(notice) } }

        /// Short forms: `failing`, `recovered 2`, `dropped 3`, `abandoned 3`, `partial 1`.
        var summary: [String] {
            notices.withLock { $0 }.map { notice in
                switch notice {
                case .failing: "failing"
                case .recovered(let retries): "recovered \(retries)"
                case .partialSuccess(let rejected, _): "partial \(rejected)"
                case .dropped(let spans, _): "dropped \(spans)"
                case .abandoned(let spans, _): "abandoned \(spans)"
                }
            }
        }

        var reasons: [String] {
            notices.withLock { $0 }.compactMap { notice in
                switch notice {
                case .dropped(_, let reason), .abandoned(_, let reason): reason
                default: nil
                }
            }
        }
    }

    /// Lets other tasks run until `condition` holds (the exporter's tasks run on the global executor); fails the
    /// test if it never does.
    static func eventually(_ what: Comment, sourceLocation: SourceLocation = #_sourceLocation,
                           _ condition: () -> Bool) async {
        for _ in 0..<200_000 {
            if condition() { return }
            await Task.yield()
        }
        Issue.record("never happened: \(what)", sourceLocation: sourceLocation)
    }

    // MARK: Retries

    @Test("a retryable failure is retried after a jittered, doubling backoff, and only when the clock gets there")
    func backoff() async {
        let harness = Harness(script: ["a": [.retryable(), .retryable()]])
        let clock = harness.clock
        harness.deliver("a", tag: 1)
        await clock.waitForSleepers(1)
        let first = clock.sleepers[0]
        #expect(first >= .milliseconds(500) && first <= .seconds(1), "retry 1: 1 s with jitter down to half")
        clock.advance(to: first - .milliseconds(1))
        #expect(clock.sleepers == [first] && harness.transport.attempts.count == 1, "not a moment early")
        #expect(harness.exporter.takeAckable() == nil, "nothing acknowledged while the collector fails")

        clock.advance(to: first)
        await harness.transport.waitForAttempts(2)
        await clock.waitForSleepers(1)
        let second = clock.sleepers[0]
        #expect(second - first >= .seconds(1) && second - first <= .seconds(2), "retry 2: doubled to 2 s")

        clock.advance(to: second)
        #expect(await harness.nextAckable() == 1)
        #expect(harness.transport.attempts.map(\.at) == [.zero, first, second])
        let counters = harness.exporter.counters
        #expect(counters.retries == 2 && counters.spansExported == 3 && counters.batchesExported == 1)
        #expect(counters.spansDropped == 0 && counters.batchesInFlight == 0)
        #expect(harness.notices.summary == ["failing", "recovered 2"], "one line per outage, not one per attempt")
    }

    @Test("the collector's Retry-After or RetryInfo replaces the backoff (at least 100 ms)",
          arguments: [(Duration.seconds(7), Duration.seconds(7)), (.milliseconds(20), .milliseconds(100))])
    func retryAfter(hint: Duration, expected: Duration) async {
        let harness = Harness(script: ["a": [.retryable(after: hint)]])
        harness.deliver("a", tag: 1)
        await harness.clock.waitForSleepers(1)
        #expect(harness.clock.sleepers == [expected])
        harness.clock.advance(by: expected)
        #expect(await harness.nextAckable() == 1)
        #expect(harness.transport.attempts.map(\.at) == [.zero, expected])
    }

    @Test("retrying past the elapsed-time limit drops the batch, counts it, and lets its deliveries be acknowledged")
    func elapsedLimit() async {
        let harness = Harness(Harness.policy(maximumElapsed: .seconds(10)),
                              script: ["a": Array(repeating: .retryable(after: .seconds(4)), count: 5)])
        harness.deliver("a", tag: 1)
        for attempt in 1...2 {
            await harness.clock.waitForSleepers(1)
            harness.clock.advance(by: .seconds(4))
            await harness.transport.waitForAttempts(attempt + 1)
        }
        // At 8 s a third failure: the next try would come at 12 s, past the 10 s limit, so no retry is scheduled.
        #expect(await harness.nextAckable() == 1, "dropped on purpose counts as settled")
        #expect(harness.transport.attempts.map(\.at) == [.zero, .seconds(4), .seconds(8)])
        #expect(harness.clock.sleepers.isEmpty)
        let counters = harness.exporter.counters
        // spans_dropped_total and export_retries_total on /metrics (AgentMetrics reads these two fields).
        #expect(counters.spansDropped == 3 && counters.retries == 2 && counters.spansExported == 0)
        #expect(harness.notices.summary == ["failing", "dropped 3"])
        #expect(harness.notices.reasons.first?.contains("still failing after 10.0 seconds: HTTP 503") == true,
                "\(harness.notices.reasons)")
    }

    @Test("a permanent failure drops the batch at once: one attempt, counted, no retry")
    func permanent() async {
        let harness = Harness(script: ["a": [.permanent]])
        harness.deliver("a", tag: 1)
        #expect(await harness.nextAckable() == 1)
        #expect(harness.transport.attempts.count == 1 && harness.clock.sleepers.isEmpty)
        let counters = harness.exporter.counters
        #expect(counters.spansDropped == 3 && counters.retries == 0 && counters.spansExported == 0)
        #expect(harness.notices.summary == ["dropped 3"] && harness.notices.reasons == ["HTTP 400: bad request"])
    }

    @Test("a partial success is counted as rejected and never retried")
    func partialSuccess() async {
        let harness = Harness(script: ["a": [.accept(rejectedSpans: 1)]])
        harness.deliver("a", tag: 1)
        #expect(await harness.nextAckable() == 1)
        let counters = harness.exporter.counters
        #expect(counters.spansExported == 2 && counters.spansRejected == 1 && counters.spansDropped == 0)
        #expect(harness.transport.attempts.count == 1 && harness.notices.summary == ["partial 1"])
    }

    @Test("export latency is read from the injected clock")
    func latency() async {
        let harness = Harness(script: ["a": [.take(.seconds(2))]])
        harness.deliver("a", tag: 1)
        await harness.clock.waitForSleepers(1)
        harness.clock.advance(by: .seconds(2))
        #expect(await harness.nextAckable() == 1)
        #expect(harness.exporter.counters.exportSecondsTotal == 2 && harness.exporter.counters.exportSecondsMaximum == 2)
    }

    // MARK: Order and batching

    /// How the earlier batch, still unsettled when the later one succeeds, comes to an end.
    enum EarlierEnd: String, CaseIterable, CustomTestStringConvertible {
        case accepted, acceptedOnRetry, droppedAfterElapsedLimit
        var testDescription: String { rawValue }
    }

    @Test("acknowledgement never passes an unsettled earlier batch, even when a later one succeeds first",
          arguments: EarlierEnd.allCases)
    func inOrder(end: EarlierEnd) async {
        let script: [RecordingTransport.Step] = switch end {
        case .accepted: [.hang]
        case .acceptedOnRetry: [.retryable(after: .seconds(5))]
        case .droppedAfterElapsedLimit: [.retryable(after: .seconds(5)), .retryable(after: .seconds(5))]
        }
        let harness = Harness(Harness.policy(maximumElapsed: .seconds(8)), script: ["a": script])
        harness.deliver("a", tag: 1)
        harness.deliver("b", tag: 2)
        await harness.transport.waitForAttempts(2)
        await Self.eventually("b accepted") { harness.exporter.counters.batchesExported == 1 }
        if end != .accepted { await harness.clock.waitForSleepers(1) }
        #expect(harness.exporter.takeAckable() == nil, "b is done but a is not: acknowledging 2 would acknowledge 1")

        switch end {
        case .accepted: harness.transport.release("a")
        case .acceptedOnRetry, .droppedAfterElapsedLimit: harness.clock.advance(by: .seconds(5))
        }
        #expect(await harness.nextAckable() == 2, "both settled: up to the later one at once")
        #expect(harness.exporter.takeAckable() == nil, "taken once")
        let counters = harness.exporter.counters
        #expect(counters.spansExported == (end == .droppedAfterElapsedLimit ? 3 : 6))
        #expect(counters.spansDropped == (end == .droppedAfterElapsedLimit ? 3 : 0))
    }

    @Test("at most maxInFlight exports at once; the rest waits in the buffer and goes when a slot frees")
    func inFlightLimit() async {
        let harness = Harness(Harness.policy(maxInFlight: 1), script: ["a": [.hang], "b": [.hang]])
        harness.deliver("a", tag: 1)
        harness.deliver("b", tag: 2)
        harness.deliver("c", tag: 3)
        await harness.transport.waitForAttempts(1)
        #expect(harness.exporter.counters.batchesInFlight == 1)
        harness.transport.release("a")
        await harness.transport.waitForAttempts(2)
        #expect(await harness.nextAckable() == 1)
        harness.transport.release("b")
        #expect(await harness.nextAckable() == 3)
        #expect(harness.transport.attempts.map(\.batch) == ["a", "b"], "b and c waited together and left as one batch")
        #expect(harness.transport.attempts.map(\.spans) == [3, 6])
    }

    @Test("the buffer leaves when it has waited the batch delay, on the injected clock")
    func batchDelay() async {
        let harness = Harness(Harness.policy(maxBatchDeliveries: 3))
        harness.deliver("a", tag: 1)
        harness.clock.advance(by: .milliseconds(4_999))
        harness.exporter.tick()
        harness.deliver("b", tag: 2)
        harness.clock.advance(by: .milliseconds(1))
        harness.exporter.tick()
        #expect(await harness.nextAckable() == 2)
        #expect(harness.transport.attempts.map(\.batch) == ["a"] && harness.transport.attempts.map(\.spans) == [6],
                "not sent at 4.999 s, sent at 5 s")
    }

    // MARK: Shutdown

    @Test("shutdown exports what is buffered and returns as soon as it is accepted, the clock never moving")
    func shutdownExports() async {
        let harness = Harness(Harness.policy(maxBatchDeliveries: 100))
        harness.deliver("a", tag: 1)
        harness.deliver("b", tag: 2)
        #expect(harness.transport.attempts.isEmpty)
        await harness.exporter.shutdown(within: .seconds(10))
        #expect(harness.exporter.takeAckable() == 2 && harness.exporter.counters.spansExported == 6)
        #expect(harness.clock.elapsed == .zero && harness.transport.shutdowns == 1)
        #expect(harness.notices.summary.isEmpty)
    }

    @Test("an attempt still running when the grace ends is waited for, not cancelled; failing then, it is not retried",
          arguments: [false, true])
    func shutdownWaitsForAttempt(failing: Bool) async {
        let harness = Harness(script: ["b": [.take(.seconds(15), failing: failing)]])
        harness.deliver("a", tag: 1)
        harness.deliver("b", tag: 2)
        #expect(await harness.nextAckable() == 1)
        await harness.clock.waitForSleepers(1)
        let shutdown = Task { await harness.exporter.shutdown(within: .seconds(10)) }
        await Self.eventually("shutdown started") { harness.exporter.isShuttingDown }
        harness.clock.advance(by: .seconds(10))
        #expect(harness.clock.sleepers == [.seconds(15)], "b's attempt goes on past the grace")
        harness.clock.advance(by: .seconds(5))
        await shutdown.value
        #expect(harness.transport.attempts.map(\.batch).sorted() == ["a", "b"], "b tried once, not again after the grace")
        #expect(harness.exporter.takeAckable() == (failing ? nil : 2), "a failed b is left for the broker to redeliver")
        #expect(harness.notices.summary == (failing ? ["abandoned 3"] : []))
        #expect(harness.notices.reasons == (failing ? ["HTTP 504"] : []), "the reason is the attempt's own")
        let counters = harness.exporter.counters
        #expect(counters.spansExported == (failing ? 3 : 6) && counters.spansDropped == 0, "abandoned is not dropped")
        #expect(harness.transport.shutdowns == 1)
    }

    @Test("a batch waiting to retry later than the grace allows is abandoned when shutdown starts; a sooner retry is made",
          arguments: [(Duration.seconds(30), false), (.seconds(2), true)])
    func shutdownDuringRetry(retryAfter: Duration, retried: Bool) async {
        let harness = Harness(script: ["a": [.retryable(after: retryAfter)]])
        harness.deliver("a", tag: 1)
        await harness.clock.waitForSleepers(1)
        let shutdown = Task { await harness.exporter.shutdown(within: .seconds(10)) }
        await Self.eventually("shutdown started") { harness.exporter.isShuttingDown }
        if retried {
            harness.clock.advance(by: retryAfter)
        }
        await shutdown.value
        #expect(harness.clock.elapsed == (retried ? retryAfter : .zero), "no waiting for a retry that cannot happen")
        #expect(harness.clock.sleepers.isEmpty)
        #expect(harness.transport.attempts.count == (retried ? 2 : 1))
        #expect(harness.exporter.takeAckable() == (retried ? 1 : nil))
        #expect(harness.notices.summary == (retried ? ["failing", "recovered 1"] : ["failing", "abandoned 3"]))
        #expect(harness.notices.reasons == (retried ? [] : ["HTTP 503"]))
        #expect(harness.exporter.counters.spansDropped == 0)
    }

    @Test("during shutdown a retry that fits in the grace is made; one that does not is abandoned at once",
          arguments: [(Duration.seconds(2), true), (.seconds(20), false)])
    func retryWithinGrace(retryAfter: Duration, fits: Bool) async {
        let harness = Harness(Harness.policy(maxBatchDeliveries: 100), script: ["a": [.retryable(after: retryAfter)]])
        harness.deliver("a", tag: 1)
        let shutdown = Task { await harness.exporter.shutdown(within: .seconds(10)) }
        await Self.eventually("shutdown started") { harness.exporter.isShuttingDown }
        if fits {
            await harness.clock.waitForSleepers(1)
            #expect(harness.clock.sleepers == [retryAfter])
            harness.clock.advance(by: retryAfter)
        }
        await shutdown.value
        #expect(harness.clock.elapsed == (fits ? retryAfter : .zero))
        #expect(harness.transport.attempts.count == (fits ? 2 : 1))
        #expect(harness.exporter.takeAckable() == (fits ? 1 : nil))
        #expect(harness.notices.summary == (fits ? ["failing", "recovered 1"] : ["abandoned 3"]))
    }

    @Test("what never left the buffer by the end of the grace is reported, and nothing starts after it")
    func shutdownReportsBuffer() async {
        let harness = Harness(Harness.policy(maxInFlight: 1), script: ["a": [.take(.seconds(15), failing: true)]])
        harness.deliver("a", tag: 1)
        harness.deliver("b", tag: 2)
        await harness.clock.waitForSleepers(1)
        let shutdown = Task { await harness.exporter.shutdown(within: .seconds(10)) }
        await Self.eventually("shutdown started") { harness.exporter.isShuttingDown }
        harness.clock.advance(by: .seconds(15))
        await shutdown.value
        #expect(harness.transport.attempts.map(\.batch) == ["a"], "b was not sent after the grace")
        #expect(harness.notices.summary == ["abandoned 3", "abandoned 3"])
        #expect(harness.notices.reasons == ["HTTP 504", "not exported within the shutdown grace of 10.0 seconds"])
        #expect(harness.exporter.takeAckable() == nil)
    }
}
