/// Exponential backoff with "equal jitter" (half fixed, half random), shared by reconnecting to the broker and
/// retrying exports, so a fleet of agents does not retry in lockstep.
public enum Backoff {
    /// The delay before retry number `attempt` (1-based): `initial` doubled per attempt, capped at `maximum`.
    public static func delay(attempt: Int, initial: Duration, maximum: Duration) -> Duration {
        let initialNanoseconds = Double(nanoseconds(initial))
        let base = min(initialNanoseconds * pow2(max(0, attempt - 1)), Double(nanoseconds(maximum)))
        return .nanoseconds(Int64(base / 2 + Double.random(in: 0...(base / 2))))
    }

    public static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    private static func pow2(_ exponent: Int) -> Double {
        exponent >= 62 ? Double(Int64.max) : Double(Int64(1) << exponent)
    }
}
