import TraceCore

/// Exponential backoff with jitter between reconnect attempts.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Delay before the first retry (default 500 ms); doubles per failed attempt up to `maximum` (default 4 s, so
    /// the agent is back within 5 s of the broker).
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(4)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before retry number `attempt` (1-based), jittered so a fleet of agents does not reconnect in
    /// lockstep after a broker restart.
    public func delay(attempt: Int) -> Duration {
        Backoff.delay(attempt: attempt, initial: initial, maximum: maximum)
    }
}
