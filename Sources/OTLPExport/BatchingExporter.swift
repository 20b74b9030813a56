import Foundation
import Metrics
import TraceCore

/// When to send and how hard to retry; every default is documented in docs/operations.md.
public struct BatchingPolicy: Sendable, Equatable {
    /// Send when this many spans are buffered (the Collector batch processor's default).
    public var maxBatchSpans: Int
    /// Send when spans of this many deliveries are buffered, so acknowledgements keep pace with prefetch.
    public var maxBatchDeliveries: Int
    /// Send what is buffered after this long, however little.
    public var delay: Duration
    /// Exports in flight at once; more spans wait in the buffer (bounded by prefetch, since nothing is acked).
    public var maxInFlight: Int
    /// Retry backoff: initial delay, doubling up to `maximumBackoff`, with jitter; give up (drop and count) after
    /// `maximumElapsed` of retrying one batch.
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    public var maximumElapsed: Duration

    public init(maxBatchSpans: Int = 1024, maxBatchDeliveries: Int = 500, delay: Duration = .seconds(5),
                maxInFlight: Int = 2, initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(30),
                maximumElapsed: Duration = .seconds(300)) {
        self.maxBatchSpans = maxBatchSpans
        self.maxBatchDeliveries = maxBatchDeliveries
        self.delay = delay
        self.maxInFlight = maxInFlight
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.maximumElapsed = maximumElapsed
    }
}

/// What the exporter did, for the summary and the metrics endpoint.
public struct ExportCounters: Sendable, Equatable {
    public var spansExported = 0
    /// Spans the collector refused in a partial success (logged, counted, never retried).
    public var spansRejected = 0
    /// Spans dropped on purpose: a permanent error, or retrying for longer than `maximumElapsed`.
    public var spansDropped = 0
    /// Export attempts that failed retryably and were retried.
    public var retries = 0
    public var batchesExported = 0
    public var exportSecondsTotal = 0.0
    public var exportSecondsMaximum = 0.0
    public var batchesInFlight = 0

    public init() {}
}

/// Something an operator should hear about once, not once per attempt.
public enum ExporterNotice: Sendable {
    case failing(reason: String, retryIn: Duration)
    case recovered(afterRetries: Int)
    case partialSuccess(rejectedSpans: Int64, message: String)
    case dropped(spans: Int, reason: String)
    /// Shutting down before the collector took them: the deliveries stay unacknowledged for the next agent.
    case abandoned(spans: Int, reason: String)
}

/// Batches spans, exports them with retries per the OTLP specification, and tells which deliveries may be
/// acknowledged: only those whose spans were all accepted by the collector, or deliberately dropped and counted
/// (docs/operations.md §6). While the collector fails retryably nothing new is acknowledged, so the backlog waits in
/// the broker's bounded queue and prefetch bounds what the agent holds.
///
/// Every wait (retry backoff, the shutdown grace) and every time it reads (the batch delay, the elapsed-time limit,
/// export latency) goes through the injected clock, as in swift-otel's batch span processor: production uses
/// `ContinuousClock` (monotonic, so a wall-clock step cannot shorten a backoff), tests a clock they advance by hand,
/// which makes the retry, drop and ordering rules testable without waiting (Tests/OTLPExportTests).
public final class BatchingExporter<Tag: Sendable>: Sendable {
    private let transport: any OTLPTransport
    private let policy: BatchingPolicy
    private let resourceAttributes: [Attribute]
    private let notice: @Sendable (ExporterNotice) -> Void
    /// Time since the exporter was made, on the injected clock.
    private let now: @Sendable () -> Duration
    /// Sleeps on the injected clock until `now()` reaches the given time; throws when the task is cancelled.
    private let sleep: @Sendable (_ until: Duration) async throws -> Void
    private let state: Locked<State>
    /// Called (outside the lock) whenever an export makes more deliveries acknowledgeable.
    private let settled = Locked<(@Sendable () -> Void)?>(nil)

    private struct Batch {
        enum Status { case inFlight, done, abandoned }
        var id: Int
        var lastTag: Tag?
        var status: Status
    }

    private struct State {
        var buffer: [Span] = []
        var bufferLastTag: Tag?
        var bufferDeliveries = 0
        var bufferSince: Duration?
        var batches: [Batch] = []
        var nextID = 0
        var ackable: Tag?
        var counters = ExportCounters()
        var tasks: [Int: Task<Void, Never>] = [:]
        /// Set at shutdown: retries stop at this time and their batches stay unacknowledged (redelivered later).
        var deadline: Duration?
        /// Set when the shutdown grace is over: no new export starts.
        var closed = false
        /// Batches waiting for their next attempt, and until when: shutdown cancels those the grace cannot wait for.
        var backoff: [Int: (until: Duration, task: Task<Void, Never>)] = [:]
        var failing = false
    }

    /// `clock` times the batch delay, the backoff, the elapsed-time limit and the shutdown grace.
    public init<C: Clock>(transport: any OTLPTransport, policy: BatchingPolicy = BatchingPolicy(),
                          resourceAttributes: [Attribute], clock: C = ContinuousClock(),
                          notice: @escaping @Sendable (ExporterNotice) -> Void = { _ in }) where C.Duration == Duration {
        self.transport = transport
        self.policy = policy
        self.resourceAttributes = resourceAttributes
        self.notice = notice
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleep = { until in try await clock.sleep(until: origin.advanced(by: until), tolerance: nil) }
        state = Locked(State())
    }

    public var counters: ExportCounters { state.withLock { $0.counters } }

    /// True once `shutdown(within:)` has set its deadline (tests wait for it before moving their clock).
    var isShuttingDown: Bool { state.withLock { $0.deadline != nil } }

    /// Takes the spans derived from one delivery (`tag`), or from the passage of time (`tag` nil).
    public func accept(_ spans: [Span], from tag: Tag?) {
        let due = state.withLock { state -> Bool in
            state.buffer.append(contentsOf: spans)
            if let tag {
                state.bufferLastTag = tag
                state.bufferDeliveries += 1
            }
            if state.bufferSince == nil, !spans.isEmpty || tag != nil { state.bufferSince = now() }
            return state.buffer.count >= policy.maxBatchSpans || state.bufferDeliveries >= policy.maxBatchDeliveries
        }
        if due { flush() }
    }

    /// Sends the buffer when it has waited `delay`.
    public func tick() {
        let due = state.withLock { state in
            state.bufferSince.map { now() - $0 >= policy.delay } ?? false
        }
        if due { flush() }
    }

    /// `body` runs whenever a finished export makes more deliveries acknowledgeable (`takeAckable()` then has one),
    /// so the acknowledgement need not wait for the next delivery or tick: with the prefetch window full, nothing
    /// else would come for up to half a second.
    public func onSettled(_ body: @escaping @Sendable () -> Void) {
        settled.withLock { $0 = body }
    }

    /// The highest delivery whose spans, and every earlier delivery's, are settled; nil when nothing new.
    public func takeAckable() -> Tag? {
        state.withLock { state in
            defer { state.ackable = nil }
            return state.ackable
        }
    }

    /// Sends everything buffered and waits for the exports, retrying until `grace` has passed; what is not accepted
    /// by then stays unacknowledged, for the broker to redeliver, and is reported (`ExporterNotice.abandoned`).
    ///
    /// A batch waiting to retry later than the grace allows is abandoned at once, whatever its backoff or the
    /// collector's Retry-After. An attempt already sent is waited for, not cancelled: the transport's timeout bounds
    /// it, and only its end tells why it failed (a refused certificate, for one). No export starts after the grace.
    public func shutdown(within grace: Duration) async {
        let end = now() + grace
        let cutShort = state.withLock { state in
            state.deadline = end
            return state.backoff.filter { $0.value.until > end }.map(\.value.task)
        }
        for task in cutShort { task.cancel() }
        while now() < end {
            flush()
            let (idle, tasks) = state.withLock { state in
                (state.buffer.isEmpty && state.bufferDeliveries == 0 && state.tasks.isEmpty, Array(state.tasks.values))
            }
            if idle { break }
            if tasks.isEmpty {
                try? await sleep(min(now() + .milliseconds(20), end))
            } else {
                for task in tasks { await task.value }
            }
        }
        let (running, leftOver) = state.withLock { state -> ([Task<Void, Never>], Int) in
            state.closed = true
            defer {
                state.buffer = []
                state.bufferLastTag = nil
                state.bufferDeliveries = 0
                state.bufferSince = nil
            }
            return (Array(state.tasks.values), state.buffer.count)
        }
        // Attempts sent before the end of the grace; they retry no more.
        for task in running { await task.value }
        if leftOver > 0 {
            notice(.abandoned(spans: leftOver, reason: "not exported within the shutdown grace of \(grace)"))
        }
        await transport.shutdown()
    }

    // MARK: Batches

    /// Starts an export of the buffer if a slot is free.
    private func flush() {
        let emptyBatch: Int? = state.withLock { state in
            // Past the shutdown grace nothing new starts: what is left is reported, not half-sent.
            guard !state.closed, state.deadline.map({ now() < $0 }) ?? true else { return nil }
            guard state.bufferDeliveries > 0 || !state.buffer.isEmpty else { return nil }
            guard state.batches.filter({ $0.status == .inFlight }).count < policy.maxInFlight else { return nil }
            let id = state.nextID
            let spans = state.buffer
            state.batches.append(Batch(id: id, lastTag: state.bufferLastTag, status: .inFlight))
            state.nextID += 1
            state.buffer = []
            state.bufferLastTag = nil
            state.bufferDeliveries = 0
            state.bufferSince = nil
            guard !spans.isEmpty else { return id }
            // Made under the lock, so the task is registered before it can reach `finish` or a backoff (both lock).
            state.tasks[id] = Task { [self] in
                let status = await export(spans, batch: id)
                finish(id, status: status)
            }
            state.counters.batchesInFlight = state.tasks.count
            return nil
        }
        if let emptyBatch { finish(emptyBatch, status: .done) }
    }

    private func finish(_ id: Int, status: Batch.Status) {
        let (more, newlyAckable) = state.withLock { state -> (Bool, Bool) in
            if let index = state.batches.firstIndex(where: { $0.id == id }) { state.batches[index].status = status }
            state.tasks[id] = nil
            state.counters.batchesInFlight = state.tasks.count
            // Acknowledge in order: up to the first batch still in flight or abandoned.
            var newlyAckable = false
            while let first = state.batches.first, first.status == .done {
                if let tag = first.lastTag {
                    state.ackable = tag
                    newlyAckable = true
                }
                state.batches.removeFirst()
            }
            let more = !state.buffer.isEmpty
                && (state.buffer.count >= policy.maxBatchSpans || state.bufferDeliveries >= policy.maxBatchDeliveries
                    || state.deadline != nil
                    || (state.bufferSince.map { now() - $0 >= policy.delay } ?? false))
            return (more, newlyAckable)
        }
        if newlyAckable, let settled = settled.withLock({ $0 }) { settled() }
        if more { flush() }
    }

    /// `trace_bridge_export_duration_seconds{outcome}`: every attempt's latency, through swift-metrics (a no-op
    /// unless the process bootstrapped a metrics backend).
    private static func recordLatency(_ nanoseconds: Int64, _ result: ExportResult) {
        let outcome = switch result {
        case .accepted: "accepted"
        case .retryable: "retryable"
        case .permanent: "permanent"
        }
        Metrics.Timer(label: "trace_bridge_export_duration_seconds", dimensions: [("outcome", outcome)])
            .recordNanoseconds(nanoseconds)
    }

    /// One batch, retried per the OTLP specification until accepted, permanently refused, or out of time.
    private func export(_ spans: [Span], batch id: Int) async -> Batch.Status {
        let batch = ExportBatch(spans: spans, resourceAttributes: resourceAttributes)
        let firstAttempt = now()
        var retries = 0
        while true {
            let started = now()
            let result = await transport.export(batch)
            let elapsed = now() - started
            let seconds = Double(Self.nanoseconds(elapsed)) / 1e9
            Self.recordLatency(Self.nanoseconds(elapsed), result)
            switch result {
            case .accepted(let rejected, let message):
                let wasFailing = state.withLock { state in
                    state.counters.spansExported += spans.count - Int(rejected)
                    state.counters.spansRejected += Int(rejected)
                    state.counters.batchesExported += 1
                    state.counters.exportSecondsTotal += seconds
                    state.counters.exportSecondsMaximum = max(state.counters.exportSecondsMaximum, seconds)
                    defer { state.failing = false }
                    return state.failing
                }
                if rejected > 0 { notice(.partialSuccess(rejectedSpans: rejected, message: message)) }
                if wasFailing { notice(.recovered(afterRetries: retries)) }
                return .done
            case .permanent(let reason):
                state.withLock { $0.counters.spansDropped += spans.count }
                notice(.dropped(spans: spans.count, reason: reason))
                return .done
            case .retryable(let reason, let retryAfter):
                retries += 1
                let backoff = Backoff.delay(attempt: retries, initial: policy.initialBackoff, maximum: policy.maximumBackoff)
                let delay = retryAfter.map { max($0, .milliseconds(100)) } ?? backoff
                let current = now()
                if current - firstAttempt + delay > policy.maximumElapsed {
                    state.withLock { $0.counters.spansDropped += spans.count }
                    notice(.dropped(spans: spans.count, reason: "still failing after \(policy.maximumElapsed): \(reason)"))
                    return .done
                }
                // Registered under the same lock that shutdown sets the deadline under, so either this sees the
                // deadline or shutdown sees this wait.
                let retry = state.withLock { state -> (go: Bool, firstFailure: Bool) in
                    if Task.isCancelled || state.deadline.map({ current + delay > $0 }) ?? false { return (false, false) }
                    if let task = state.tasks[id] { state.backoff[id] = (current + delay, task) }
                    state.counters.retries += 1
                    defer { state.failing = true }
                    return (true, !state.failing)
                }
                guard retry.go else {
                    notice(.abandoned(spans: spans.count, reason: reason))
                    return .abandoned  // shutting down: leave these deliveries to the next agent
                }
                if retry.firstFailure { notice(.failing(reason: reason, retryIn: delay)) }
                do {
                    try await sleep(current + delay)
                    state.withLock { _ = $0.backoff.removeValue(forKey: id) }
                } catch {
                    // Cancelled by shutdown: the grace ends before this batch's next attempt.
                    state.withLock { _ = $0.backoff.removeValue(forKey: id) }
                    notice(.abandoned(spans: spans.count, reason: reason))
                    return .abandoned
                }
            }
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 { Backoff.nanoseconds(duration) }
}
