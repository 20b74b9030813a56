#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decoders kept between bodies, so that a compressed message does not pay for creating and freeing its codec's state.
///
/// Measured per message (`Benchmarks/decompression.sh`): a zstd `DCtx` is about 110 KB of state and an xz decoder
/// allocates its 8 MiB dictionary (preset 6) before it reads a byte, against bodies of ~5 KB; creating them per body
/// cost more than decompressing. A decoder goes back to the pool after every body, whatever the outcome, and is
/// reset before its next use (`take`'s caller), so one body's error or half-read stream never reaches the next.
///
/// Shared by every pipeline of the process (the agent's buses run theirs concurrently): a pthread mutex guards the
/// list, as `Locked` in TraceCore does (this target sits below TraceCore). At most `capacity` decoders are kept; more
/// at once are created and destroyed as before. Each decoder is a pointer to state at a fixed address (zlib's
/// stream points back at itself), owned by the pool while it is in the list and by the caller between `take` and
/// `put`.
final class DecoderPool<Decoder>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var idle: [Decoder] = []
    private let capacity: Int
    private let destroy: (Decoder) -> Void

    init(capacity: Int = 4, destroy: @escaping (Decoder) -> Void) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with \(status)")
        self.capacity = capacity
        self.destroy = destroy
    }

    deinit {
        for decoder in idle { destroy(decoder) }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// An idle decoder as it was put back (tests; codecs use `take(reset:)`), or nil.
    func take() -> Decoder? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return idle.popLast()
    }

    /// An idle decoder that `reset` brought back to a clean state, or nil: the caller creates one. One that cannot be
    /// reset (never seen) is destroyed, not handed out.
    func take(reset: (Decoder) -> Bool) -> Decoder? {
        guard let decoder = take() else { return nil }
        if reset(decoder) { return decoder }
        destroy(decoder)
        return nil
    }

    /// Keeps `decoder` for a later body, or destroys it when the pool is full.
    func put(_ decoder: Decoder) {
        pthread_mutex_lock(mutex)
        let kept = idle.count < capacity
        if kept { idle.append(decoder) }
        pthread_mutex_unlock(mutex)
        if !kept { destroy(decoder) }
    }

    /// How many decoders wait in the pool (tests).
    var idleCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return idle.count
    }
}
