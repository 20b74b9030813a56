#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where event time comes from when the bus does not say: Unix nanoseconds.
///
/// The firehose carries no timestamps, so a live source stamps each message when it arrives, and the agent judges
/// timeouts and flushes by the same clock. The core never reads it itself (synthesis takes time only from its
/// inputs, so a replay is deterministic); sources, sinks and the agent's status take a `WallClock` so that tests can
/// hand them a fixed or stepped one.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Int64

    /// A clock that reads `read` (tests: a fixed or stepped time).
    public init(_ read: @escaping @Sendable () -> Int64) {
        self.read = read
    }

    /// The current time in Unix nanoseconds.
    public func now() -> Int64 { read() }

    /// The system's real-time clock (`CLOCK_REALTIME`).
    public static let system = WallClock {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
