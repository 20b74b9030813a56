import TraceCore

/// A clock that moves only when the test calls `advance(by:)`, so backoffs, the elapsed-time limit and the shutdown
/// grace can be tested without waiting and without depending on how fast the machine is.
///
/// Sleepers are kept with their deadlines; `advance(by:)` wakes, in the same call, every sleeper whose deadline it
/// reaches, so after it returns `sleepers` tells exactly who is still asleep. `waitForSleepers(_:)` lets a test wait
/// until the code under test has gone to sleep (an event, not a guess at a duration). Cancelling a sleeping task
/// wakes it with `CancellationError`, as `ContinuousClock` does.
final class TestClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        /// Time since the clock was made.
        var offset: Duration

        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Sleepers cancelled before they got to register their continuation.
        var cancelled: Set<Int> = []
        /// Tests waiting for at least this many sleepers.
        var waiters = CountWaiters()

        /// The waiters whose count is now reached (removed from the list; resume them outside the lock).
        mutating func satisfiedWaiters() -> [CheckedContinuation<Void, Never>] { waiters.reached(sleepers.count) }
    }

    private let state = Locked(State())

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }

    /// How long the clock has run (`advance` only).
    var elapsed: Duration { now.offset }

    /// The deadlines of the tasks asleep now, as offsets since the clock was made, earliest first.
    var sleepers: [Duration] { state.withLock { $0.sleepers.values.map(\.deadline.offset).sorted() } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case asleep([CheckedContinuation<Void, Never>]), wake, cancelled }
                let outcome = state.withLock { state -> Outcome in
                    if state.cancelled.remove(id) != nil { return .cancelled }
                    if deadline <= state.now { return .wake }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .asleep(state.satisfiedWaiters())
                }
                switch outcome {
                case .asleep(let waiters): for waiter in waiters { waiter.resume() }
                case .wake: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return Sleeper?.none
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock on and wakes every sleeper whose deadline is reached, before returning.
    func advance(by duration: Duration) {
        let woken = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.sorted { $0.value.deadline < $1.value.deadline }.map(\.value.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Moves the clock to `offset` since it was made (never backwards).
    func advance(to offset: Duration) {
        advance(by: max(.zero, offset - elapsed))
    }

    /// Returns once at least `count` tasks are asleep on this clock (or the waiting task is cancelled, as by the
    /// suite's time limit, so that a wrong expectation fails the test instead of hanging it).
    func waitForSleepers(_ count: Int) async {
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
}

/// Tasks waiting for a count to reach a number (sleepers on the test clock, attempts on the transport).
struct CountWaiters {
    private var nextID = 0
    private var waiting: [Int: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    private var cancelled: Set<Int> = []

    mutating func newID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    /// Adds a waiter, unless it was cancelled before it got here (then it is resumed by the next `reached`).
    mutating func add(_ id: Int, _ count: Int, _ continuation: CheckedContinuation<Void, Never>) {
        waiting[id] = (cancelled.remove(id) != nil ? Int.min : count, continuation)
    }

    /// Removes the waiters whose count is reached; the caller resumes them outside its lock.
    mutating func reached(_ current: Int) -> [CheckedContinuation<Void, Never>] {
        let ready = waiting.filter { $0.value.count <= current }
        for id in ready.keys { waiting[id] = nil }
        return ready.values.map(\.continuation)
    }

    /// The cancelled waiter's continuation, if it is waiting yet.
    mutating func cancel(_ id: Int) -> CheckedContinuation<Void, Never>? {
        guard let waiter = waiting.removeValue(forKey: id) else {
            cancelled.insert(id)
            return nil
        }
        return waiter.continuation
    }
}
