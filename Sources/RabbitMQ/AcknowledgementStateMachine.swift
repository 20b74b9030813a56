/// What `BrokerSource` acknowledges, and when it cancels, reports `.stopped` and closes: the at-least-once rules of
/// the live edge as a value type, in the style of postgres-nio's connection state machines (one `mutating func` per
/// event, returning what to do). It does no I/O: the AMQP thread carries out its actions, other threads only feed it
/// events behind `BrokerSource`'s mutex, and the tests drive it with no broker at all.
///
/// Invariants (docs/operations.md §5 has the transition table):
/// - A tag is acknowledged (`basic.ack`, `multiple`) at most once, only above the last one acknowledged on its
///   connection, and only if the broker delivered it (an unknown tag makes the broker close the channel).
/// - Never across connections: delivery tags are per channel, so an acknowledgement for an earlier connection is
///   dropped; the broker redelivers what that connection left unacknowledged.
/// - After a stop request, `.stopped` is reported once, when the broker has sent its last delivery (the first idle
///   read after `basic.cancel`) and after the acknowledgement then due; acknowledgements still go out until close.
struct AcknowledgementStateMachine: Sendable {
    /// One AMQP connection's acknowledgement bookkeeping.
    struct Connection: Sendable, Equatable {
        /// Counts connections; tags of one generation mean nothing on another.
        var generation: UInt64
        /// Highest tag the broker delivered on this connection.
        var delivered: UInt64? = nil
        /// Highest tag the agent settled (sent, or due at the thread's next turn).
        var requested: UInt64? = nil
        /// Highest tag sent in a `basic.ack`.
        var sent: UInt64? = nil

        /// The acknowledgement the thread owes the broker, if any.
        var due: DeliveryTag? {
            guard let requested, requested != sent else { return nil }
            return DeliveryTag(generation: generation, tag: requested)
        }

        /// Marks the due acknowledgement sent and returns it as an action.
        mutating func flush() -> Action? {
            guard let due else { return nil }
            sent = due.tag
            return .acknowledge(due)
        }
    }

    enum State: Sendable, Equatable {
        /// No connection yet, or between two; `previous` is the last one (its tags are stale).
        case disconnected(previous: Connection?)
        /// Consuming on `connection`.
        case consuming(Connection)
        /// A stop was requested with no connection (or during a connection attempt): nothing to cancel.
        case stopRequestedDisconnected(previous: Connection?)
        /// A stop was requested while connected: `basic.cancel` is due (`cancelSent` false) or sent, and `.stopped`
        /// follows the broker's last delivery.
        case cancelling(Connection, cancelSent: Bool)
        /// `.stopped` was reported; acknowledgements still go out on `connection` (nil if there is none) until close.
        case stopped(Connection?)
        /// `close()` was called: the thread flushes the due acknowledgement, closes `connection` and finishes.
        case closing(Connection?)
        /// The thread has finished (closed, or the broker refused our queue): nothing more is sent.
        case closed
    }

    enum Action: Sendable, Equatable {
        /// `basic.ack` of `tag.tag` with `multiple` on the current connection (`tag.generation`).
        case acknowledge(DeliveryTag)
        /// `basic.cancel`: the broker stops sending; acknowledgements can still go out on the channel.
        case cancelConsumer
        /// Yield `SourceEvent.stopped`: every delivery the broker sent has been reported.
        case reportStopped
        /// Send nothing more: close the connection and finish `events`.
        case closeConnection
        /// Wake the AMQP thread (its eventfd): something is due that only it may send.
        case wakeConnectionThread
        /// A settled tag that will never be acknowledged, and why (nothing to do but not send it).
        case drop(DeliveryTag, DropReason)
    }

    enum DropReason: Sendable, Equatable {
        /// Its connection is gone: the broker redelivers what that connection left unacknowledged.
        case staleConnection
        /// At or below what was already acknowledged on this connection (acks are cumulative).
        case alreadyAcknowledged
        /// Above anything the broker delivered on this connection.
        case notDelivered
    }

    /// What the thread does at the top of its connection loop.
    enum ConnectAction: Sendable, Equatable {
        case connect
        /// Yield `.stopped` (stopped while disconnected: nothing is in flight), then ask again.
        case reportStopped
        /// Stopped: wait a little for `close()`, then ask again.
        case wait
        /// Finish `events`.
        case finish
    }

    private(set) var state: State = .disconnected(previous: nil)

    // MARK: Events from the agent (any thread)

    /// The agent is done with every delivery up to `tag`: its spans are accepted, written or dropped and counted.
    mutating func settled(upTo tag: DeliveryTag) -> Action? {
        switch state {
        case .consuming(var connection):
            let action = Self.request(tag, on: &connection)
            state = .consuming(connection)
            return action
        case .cancelling(var connection, let cancelSent):
            let action = Self.request(tag, on: &connection)
            state = .cancelling(connection, cancelSent: cancelSent)
            return action
        case .stopped(.some(var connection)):
            let action = Self.request(tag, on: &connection)
            state = .stopped(connection)
            return action
        case .closing(.some(var connection)):
            let action = Self.request(tag, on: &connection)
            state = .closing(connection)
            return action
        case .disconnected(let previous), .stopRequestedDisconnected(let previous):
            return .drop(tag, previous == nil ? .notDelivered : .staleConnection)
        case .stopped(nil), .closing(nil), .closed:
            return .drop(tag, .staleConnection)
        }
    }

    private static func request(_ tag: DeliveryTag, on connection: inout Connection) -> Action {
        guard tag.generation == connection.generation else { return .drop(tag, .staleConnection) }
        if let requested = connection.requested, tag.tag <= requested { return .drop(tag, .alreadyAcknowledged) }
        guard let delivered = connection.delivered, tag.tag <= delivered else { return .drop(tag, .notDelivered) }
        connection.requested = tag.tag
        return .wakeConnectionThread
    }

    /// An export failed (and is being retried). Deliberately changes nothing: a failure settles no delivery, so
    /// nothing more is acknowledged until a later `settled` (the retry succeeded, or the exporter dropped and counted
    /// the spans), and it does not hold up a stop, whose grace period the agent runs after `.stopped`.
    mutating func exportFailed() -> Action? { nil }

    /// `stopConsuming()`: stop new deliveries (the agent is shutting down).
    mutating func stopRequested() -> Action? {
        switch state {
        case .disconnected(let previous):
            state = .stopRequestedDisconnected(previous: previous)
            return .wakeConnectionThread
        case .consuming(let connection):
            state = .cancelling(connection, cancelSent: false)
            return .wakeConnectionThread
        case .stopRequestedDisconnected, .cancelling, .stopped, .closing, .closed:
            return nil
        }
    }

    /// `close()`: send the due acknowledgement, close the connection, finish `events` (whether or not stopped).
    mutating func closeRequested() -> Action? {
        switch state {
        case .consuming(let connection), .cancelling(let connection, _), .stopped(.some(let connection)):
            state = .closing(connection)
            return .wakeConnectionThread
        case .disconnected, .stopRequestedDisconnected, .stopped(nil):
            state = .closing(nil)
            return .wakeConnectionThread
        case .closing, .closed:
            return nil
        }
    }

    // MARK: Events from the AMQP thread

    /// At the top of the thread's connection loop: connect, or report and wind down.
    mutating func readyToConnect() -> ConnectAction {
        switch state {
        case .disconnected:
            return .connect
        case .stopRequestedDisconnected:
            state = .stopped(nil)
            return .reportStopped
        case .stopped:
            return .wait
        case .closing, .closed:
            state = .closed
            return .finish
        case .consuming, .cancelling:
            preconditionFailure("readyToConnect while connected (\(state)): the thread reports disconnected first")
        }
    }

    /// Connected, queue declared and bound, consuming: connection number `generation`.
    mutating func connected(generation: UInt64) {
        switch state {
        case .disconnected(let previous):
            precondition(generation > previous?.generation ?? 0, "connection generations only grow")
            state = .consuming(Connection(generation: generation))
        case .stopRequestedDisconnected(let previous):
            // Stopped while connecting: cancel at once.
            precondition(generation > previous?.generation ?? 0, "connection generations only grow")
            state = .cancelling(Connection(generation: generation), cancelSent: false)
        case .closing(nil):
            state = .closing(Connection(generation: generation))
        case .consuming, .cancelling, .stopped, .closing(.some), .closed:
            preconditionFailure("connected in \(state): the thread connects only when readyToConnect says so")
        }
    }

    /// The broker delivered every tag up to `tag` (the last of a batch), about to be handed to the agent.
    mutating func delivered(upTo tag: DeliveryTag) {
        func record(_ connection: inout Connection) {
            precondition(tag.generation == connection.generation, "a delivery is on the current connection")
            connection.delivered = max(connection.delivered ?? 0, tag.tag)
        }
        switch state {
        case .consuming(var connection):
            record(&connection)
            state = .consuming(connection)
        case .cancelling(var connection, let cancelSent):
            record(&connection)
            state = .cancelling(connection, cancelSent: cancelSent)
        case .stopped(.some(var connection)):
            record(&connection)
            state = .stopped(connection)
        case .closing(.some(var connection)):
            record(&connection)
            state = .closing(connection)
        case .disconnected, .stopRequestedDisconnected, .stopped(nil), .closing(nil), .closed:
            preconditionFailure("delivered in \(state): deliveries come only on a connection")
        }
    }

    /// Before the thread waits for the broker: the due acknowledgement, then a cancel or the close.
    mutating func turn() -> [Action] {
        switch state {
        case .consuming(var connection):
            let ack = connection.flush()
            state = .consuming(connection)
            return ack.map { [$0] } ?? []
        case .cancelling(var connection, let cancelSent):
            let ack = connection.flush()
            state = .cancelling(connection, cancelSent: true)
            return (ack.map { [$0] } ?? []) + (cancelSent ? [] : [.cancelConsumer])
        case .stopped(.some(var connection)):
            let ack = connection.flush()
            state = .stopped(connection)
            return ack.map { [$0] } ?? []
        case .closing(.some(var connection)):
            let ack = connection.flush()
            state = .closed
            return (ack.map { [$0] } ?? []) + [.closeConnection]
        case .disconnected, .stopRequestedDisconnected, .stopped(nil), .closing(nil), .closed:
            preconditionFailure("turn in \(state): only a connected thread takes turns")
        }
    }

    /// Nothing buffered from the broker: after a cancel, its last delivery is in, so `.stopped` is due.
    mutating func idle() -> [Action] {
        guard case .cancelling(var connection, cancelSent: true) = state else { return [] }
        let ack = connection.flush()
        state = .stopped(connection)
        return (ack.map { [$0] } ?? []) + [.reportStopped]
    }

    /// The connection failed, or the broker cancelled our consumer: its due acknowledgement is dropped (the broker
    /// redelivers everything that connection left unacknowledged).
    mutating func disconnected() -> Action? {
        let connection: Connection
        switch state {
        case .consuming(let current):
            connection = current
            state = .disconnected(previous: current)
        case .cancelling(let current, _):
            connection = current
            state = .stopRequestedDisconnected(previous: current)
        case .stopped(.some(let current)):
            // `.stopped` was reported already: not again.
            connection = current
            state = .stopped(nil)
        case .closing(.some(let current)):
            connection = current
            state = .closing(nil)
        case .disconnected, .stopRequestedDisconnected, .stopped(nil), .closing(nil), .closed:
            return nil
        }
        return connection.due.map { .drop($0, .staleConnection) }
    }

    /// The broker refuses our queue as declared: no retry can fix it, the thread finishes.
    mutating func failed() {
        state = .closed
    }

    // MARK: Queries

    /// A backoff sleep between connection attempts ends early: a stop or close is due.
    var interruptsBackoff: Bool {
        switch state {
        case .disconnected, .consuming: false
        case .stopRequestedDisconnected, .cancelling, .stopped, .closing, .closed: true
        }
    }

    /// A batch of deliveries is handed over now rather than at the end of its window: an acknowledgement, a cancel or
    /// the close is due (with the prefetch window full, the broker sends nothing more until it gets the ack).
    var endsBatch: Bool {
        switch state {
        case .consuming(let connection): connection.due != nil
        case .disconnected: false
        case .stopRequestedDisconnected, .cancelling, .stopped, .closing, .closed: true
        }
    }

    /// The highest tag settled on the current connection (on the last one while disconnected; nil before the first
    /// settlement of a connection).
    var acknowledged: DeliveryTag? {
        let connection: Connection?
        switch state {
        case .disconnected(let previous), .stopRequestedDisconnected(let previous): connection = previous
        case .consuming(let current), .cancelling(let current, _): connection = current
        case .stopped(let current), .closing(let current): connection = current
        case .closed: connection = nil
        }
        guard let connection, let requested = connection.requested else { return nil }
        return DeliveryTag(generation: connection.generation, tag: requested)
    }
}
