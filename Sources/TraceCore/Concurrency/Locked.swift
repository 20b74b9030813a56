#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a `pthread_mutex_t`: the lock every shared mutable state in trace-bridge uses.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on raw futex calls and atomics that ThreadSanitizer does not
/// see, so two threads taking it in turn look like a data race to `make sanitize` (a CI gate). Measured with Swift 6.3:
/// two threads incrementing a counter 20,000 times each under `Mutex` -> "ThreadSanitizer: Swift access race"; the
/// same under this type -> no report. The CI run of 9555598 failed on such a false report in `BatchingExporter`
/// (a batch's task reading the state its creator had just written under the same lock). pthread mutexes are
/// intercepted by every sanitizer, and uncontended they cost the same order as the futex path (tens of nanoseconds,
/// a few per message).
///
/// The API is `Mutex`'s `withLock`, so a call site reads the same. The class is `@unchecked Sendable` because the
/// mutex is what makes it safe: the value is only reached inside `withLock`, and it goes in and out as `sending`.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ initialValue: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with \(status)")
        value = initialValue
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock. Not reentrant: `body` must not take the same lock again.
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
