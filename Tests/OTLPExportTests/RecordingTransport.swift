@testable import OTLPExport
@testable import TraceCore

/// An `OTLPTransport` that records every export attempt and answers from a script, so a test can make a batch fail
/// retryably or permanently N times, take a while on the test clock, or hang until released or cancelled.
///
/// Batches are told apart by the name of their first span (the exports of two batches in flight run concurrently,
/// so "the second call" would be a race); a batch with no script left is accepted.
final class RecordingTransport: OTLPTransport {
    enum Step: Sendable {
        case accept(rejectedSpans: Int64 = 0)
        case retryable(after: Duration? = nil)
        case permanent
        /// Takes this long on the test clock, then accepts (or fails retryably).
        case take(Duration, failing: Bool = false)
        /// Waits until `release(_:)` (then accepts) or until the export is cancelled (then fails retryably, as the
        /// real transports do when their request is cancelled).
        case hang
    }

    struct Attempt: Equatable {
        var batch: String
        var spans: Int
        /// When it started, on the test clock.
        var at: Duration
    }

    private struct State {
        var script: [String: [Step]]
        var attempts: [Attempt] = []
        var hanging: [String: CheckedContinuation<Bool, Never>] = [:]
        /// Released before the export got to hang.
        var released: Set<String> = []
        var waiters = CountWaiters()
        var shutdowns = 0

        mutating func satisfiedWaiters() -> [CheckedContinuation<Void, Never>] { waiters.reached(attempts.count) }
    }

    private let clock: TestClock
    private let state: Locked<State>

    init(clock: TestClock, script: [String: [Step]] = [:]) {
        self.clock = clock
        state = Locked(State(script: script))
    }

    var attempts: [Attempt] { state.withLock { $0.attempts } }
    var shutdowns: Int { state.withLock { $0.shutdowns } }

    /// Returns once at least `count` export attempts have started (or the waiting task is cancelled).
    func waitForAttempts(_ count: Int) async {
        let id = state.withLock { $0.waiters.newID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    state.waiters.add(id, count, continuation)
                    return state.satisfiedWaiters()
                }
                for waiter in ready { waiter.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.cancel(id) }?.resume()
        }
    }

    /// Lets the hanging export of `batch` finish (accepted).
    func release(_ batch: String) {
        let hanging = state.withLock { state in
            guard let hanging = state.hanging.removeValue(forKey: batch) else {
                state.released.insert(batch)
                return CheckedContinuation<Bool, Never>?.none
            }
            return hanging
        }
        hanging?.resume(returning: true)
    }

    func export(_ batch: ExportBatch) async -> ExportResult {
        let name = batch.spans.first?.name ?? ""
        let (step, waiters) = state.withLock { state in
            state.attempts.append(Attempt(batch: name, spans: batch.spans.count, at: clock.elapsed))
            let step = state.script[name]?.isEmpty == false ? state.script[name]!.removeFirst() : .accept()
            return (step, state.satisfiedWaiters())
        }
        for waiter in waiters { waiter.resume() }
        switch step {
        case .accept(let rejected):
            return .accepted(rejectedSpans: rejected, message: rejected > 0 ? "\(rejected) spans refused" : "")
        case .retryable(let after):
            return .retryable(reason: "HTTP 503", retryAfter: after)
        case .permanent:
            return .permanent(reason: "HTTP 400: bad request")
        case .take(let duration, let failing):
            do {
                try await clock.sleep(for: duration)
                return failing ? .retryable(reason: "HTTP 504", retryAfter: nil) : .accepted(rejectedSpans: 0, message: "")
            } catch {
                return .retryable(reason: "cancelled", retryAfter: nil)
            }
        case .hang:
            let released = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let now = state.withLock { state in
                        if state.released.remove(name) != nil { return true }
                        state.hanging[name] = continuation
                        return false
                    }
                    if now { continuation.resume(returning: true) }
                    // A cancellation that came before the continuation was stored finds it here.
                    if !now, Task.isCancelled { cancelHang(name) }
                }
            } onCancel: {
                cancelHang(name)
            }
            return released ? .accepted(rejectedSpans: 0, message: "") : .retryable(reason: "cancelled", retryAfter: nil)
        }
    }

    private func cancelHang(_ name: String) {
        let hanging = state.withLock { $0.hanging.removeValue(forKey: name) }
        hanging?.resume(returning: false)
    }

    func shutdown() async {
        state.withLock { $0.shutdowns += 1 }
    }
}
