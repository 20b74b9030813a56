import Testing

@testable import RabbitMQ

/// Drives `AcknowledgementStateMachine` through every transition with no broker: what `BrokerSource`'s AMQP thread
/// would send (`turn`, `idle`), what the agent's calls do (`settled`, `stopRequested`, `closeRequested`).
@Suite("Acknowledgement state machine")
struct AcknowledgementStateMachineTests {
    typealias Machine = AcknowledgementStateMachine

    static func tag(_ generation: UInt64, _ tag: UInt64) -> DeliveryTag {
        DeliveryTag(generation: generation, tag: tag)
    }

    /// Connected as connection `generation` with tags `1...delivered` handed to the agent.
    static func consuming(generation: UInt64 = 1, delivered: UInt64 = 0) -> Machine {
        var machine = Machine()
        #expect(machine.readyToConnect() == .connect)
        machine.connected(generation: generation)
        if delivered > 0 { machine.delivered(upTo: tag(generation, delivered)) }
        return machine
    }

    @Test("a settled tag goes out once, at the thread's next turn, with multiple")
    func acknowledgesOnce() {
        var machine = Self.consuming(delivered: 5)
        #expect(machine.turn() == [])
        #expect(!machine.endsBatch)
        #expect(machine.settled(upTo: Self.tag(1, 3)) == .wakeConnectionThread)
        #expect(machine.acknowledged == Self.tag(1, 3))
        #expect(machine.endsBatch)  // the batch window gives way to the due ack
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 3))])
        #expect(machine.turn() == [])
        #expect(!machine.endsBatch)
    }

    @Test("settlements between two turns are sent as one ack of the highest")
    func coalesces() {
        var machine = Self.consuming(delivered: 10)
        #expect(machine.settled(upTo: Self.tag(1, 2)) == .wakeConnectionThread)
        #expect(machine.settled(upTo: Self.tag(1, 7)) == .wakeConnectionThread)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 7))])
    }

    @Test("duplicate and out-of-order settlements are dropped, never acked twice or below the last")
    func duplicatesAndOutOfOrder() {
        var machine = Self.consuming(delivered: 10)
        #expect(machine.settled(upTo: Self.tag(1, 6)) == .wakeConnectionThread)
        #expect(machine.settled(upTo: Self.tag(1, 6)) == .drop(Self.tag(1, 6), .alreadyAcknowledged))
        #expect(machine.settled(upTo: Self.tag(1, 4)) == .drop(Self.tag(1, 4), .alreadyAcknowledged))
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 6))])
        #expect(machine.settled(upTo: Self.tag(1, 6)) == .drop(Self.tag(1, 6), .alreadyAcknowledged))
        #expect(machine.settled(upTo: Self.tag(1, 1)) == .drop(Self.tag(1, 1), .alreadyAcknowledged))
        #expect(machine.turn() == [])
        #expect(machine.acknowledged == Self.tag(1, 6))
    }

    @Test("an ack before any delivery, or above the last delivery, is never sent")
    func beforeDelivery() {
        var fresh = Machine()
        #expect(fresh.settled(upTo: Self.tag(0, 1)) == .drop(Self.tag(0, 1), .notDelivered))
        var machine = Self.consuming()
        #expect(machine.settled(upTo: Self.tag(1, 1)) == .drop(Self.tag(1, 1), .notDelivered))
        #expect(machine.turn() == [])
        machine.delivered(upTo: Self.tag(1, 3))
        #expect(machine.settled(upTo: Self.tag(1, 4)) == .drop(Self.tag(1, 4), .notDelivered))
        #expect(machine.settled(upTo: Self.tag(1, 3)) == .wakeConnectionThread)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 3))])
        #expect(machine.acknowledged == Self.tag(1, 3))
    }

    @Test("a reconnect with exports in flight: the old connection's acks are dropped, the new one acks its own tags")
    func reconnectWithExportsInFlight() {
        var machine = Self.consuming(generation: 1, delivered: 8)
        #expect(machine.settled(upTo: Self.tag(1, 3)) == .wakeConnectionThread)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 3))])
        // Settled but not yet sent when the connection fails: dropped, the broker redelivers 4...8.
        #expect(machine.settled(upTo: Self.tag(1, 5)) == .wakeConnectionThread)
        #expect(machine.disconnected() == .drop(Self.tag(1, 5), .staleConnection))
        #expect(machine.state == .disconnected(previous: .init(generation: 1, delivered: 8, requested: 5, sent: 3)))
        #expect(!machine.interruptsBackoff)
        // Exports of the old connection finishing while disconnected.
        #expect(machine.settled(upTo: Self.tag(1, 8)) == .drop(Self.tag(1, 8), .staleConnection))
        #expect(machine.readyToConnect() == .connect)
        machine.connected(generation: 2)
        #expect(machine.acknowledged == nil)
        // ... and after the reconnect.
        #expect(machine.settled(upTo: Self.tag(1, 8)) == .drop(Self.tag(1, 8), .staleConnection))
        #expect(machine.turn() == [])
        // The redeliveries come with new tags from 1; the new connection acks those, from its own first tag.
        machine.delivered(upTo: Self.tag(2, 5))
        #expect(machine.settled(upTo: Self.tag(2, 2)) == .wakeConnectionThread)
        #expect(machine.turn() == [.acknowledge(Self.tag(2, 2))])
        #expect(machine.acknowledged == Self.tag(2, 2))
    }

    @Test("a lost connection with nothing due drops nothing")
    func disconnectWithNothingDue() {
        var machine = Self.consuming(delivered: 3)
        #expect(machine.settled(upTo: Self.tag(1, 3)) == .wakeConnectionThread)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 3))])
        #expect(machine.disconnected() == nil)
        #expect(machine.acknowledged == Self.tag(1, 3))  // the last connection's, until the next one
    }

    @Test("stop while consuming: cancel once, acks still go out, stopped at the first idle read, then close")
    func stopWhileConsuming() {
        var machine = Self.consuming(delivered: 4)
        #expect(machine.settled(upTo: Self.tag(1, 2)) == .wakeConnectionThread)
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.stopRequested() == nil)
        #expect(machine.endsBatch && machine.interruptsBackoff)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 2)), .cancelConsumer])
        #expect(machine.turn() == [])  // cancelled once
        // Deliveries already on the wire still arrive after the cancel.
        machine.delivered(upTo: Self.tag(1, 6))
        #expect(machine.settled(upTo: Self.tag(1, 6)) == .wakeConnectionThread)
        // The first idle read: every delivery is in; the ack then due goes out before `.stopped`.
        #expect(machine.idle() == [.acknowledge(Self.tag(1, 6)), .reportStopped])
        #expect(machine.idle() == [])  // reported once
        #expect(machine.turn() == [])
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.closeRequested() == nil)
        #expect(machine.turn() == [.closeConnection])
        #expect(machine.state == .closed)
    }

    @Test("idle before a stop reports nothing")
    func idleWhileConsuming() {
        var machine = Self.consuming(delivered: 2)
        #expect(machine.idle() == [])
        #expect(machine.state == .consuming(.init(generation: 1, delivered: 2)))
    }

    @Test("a stop during an export retry: stopped is reported, nothing acked until the export settles, then closed")
    func stopDuringRetry() {
        var machine = Self.consuming(delivered: 3)
        #expect(machine.exportFailed() == nil)  // a failed export settles nothing
        #expect(machine.turn() == [])
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.cancelConsumer])
        #expect(machine.exportFailed() == nil)
        #expect(machine.idle() == [.reportStopped])  // the agent's grace period starts here
        #expect(machine.turn() == [])
        #expect(machine.exportFailed() == nil)
        #expect(machine.turn() == [])  // still retrying: no ack
        // The retry succeeds within the grace period.
        #expect(machine.settled(upTo: Self.tag(1, 3)) == .wakeConnectionThread)
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 3)), .closeConnection])
    }

    @Test("a stop during a retry that never succeeds: closed with nothing acknowledged (redelivered later)")
    func stopDuringRetryAbandoned() {
        var machine = Self.consuming(delivered: 3)
        #expect(machine.exportFailed() == nil)
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.cancelConsumer])
        #expect(machine.idle() == [.reportStopped])
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.closeConnection])
        #expect(machine.settled(upTo: Self.tag(1, 3)) == .drop(Self.tag(1, 3), .staleConnection))
    }

    @Test("stop while disconnected: stopped reported by the connection loop, which then waits for close")
    func stopWhileDisconnected() {
        var machine = Self.consuming(delivered: 2)
        #expect(machine.disconnected() == nil)
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.interruptsBackoff)
        #expect(machine.readyToConnect() == .reportStopped)
        #expect(machine.readyToConnect() == .wait)
        #expect(machine.readyToConnect() == .wait)
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.readyToConnect() == .finish)
        #expect(machine.state == .closed)
    }

    @Test("stop before the first connection")
    func stopBeforeConnecting() {
        var machine = Machine()
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.readyToConnect() == .reportStopped)
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.readyToConnect() == .finish)
    }

    @Test("stop during a connection attempt: the new connection cancels at once")
    func stopWhileConnecting() {
        var machine = Machine()
        #expect(machine.readyToConnect() == .connect)
        #expect(machine.stopRequested() == .wakeConnectionThread)  // while connect() blocks
        machine.connected(generation: 1)
        #expect(machine.turn() == [.cancelConsumer])
        #expect(machine.idle() == [.reportStopped])
    }

    @Test("the connection lost after the cancel, before the last delivery: stopped reported once, while disconnected")
    func disconnectWhileCancelling() {
        var machine = Self.consuming(delivered: 4)
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.cancelConsumer])
        #expect(machine.settled(upTo: Self.tag(1, 4)) == .wakeConnectionThread)
        #expect(machine.disconnected() == .drop(Self.tag(1, 4), .staleConnection))
        #expect(machine.readyToConnect() == .reportStopped)
        #expect(machine.readyToConnect() == .wait)
    }

    @Test("the connection lost after stopped was reported: not reported again")
    func disconnectAfterStopped() {
        var machine = Self.consuming(delivered: 1)
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.cancelConsumer])
        #expect(machine.idle() == [.reportStopped])
        #expect(machine.disconnected() == nil)
        #expect(machine.state == .stopped(nil))
        #expect(machine.readyToConnect() == .wait)
        #expect(machine.settled(upTo: Self.tag(1, 1)) == .drop(Self.tag(1, 1), .staleConnection))
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.readyToConnect() == .finish)
    }

    @Test("close without a stop: the due ack is flushed, then the connection closed; nothing after")
    func closeWhileConsuming() {
        var machine = Self.consuming(delivered: 9)
        #expect(machine.settled(upTo: Self.tag(1, 9)) == .wakeConnectionThread)
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.stopRequested() == nil)
        #expect(machine.endsBatch && machine.interruptsBackoff)
        #expect(machine.turn() == [.acknowledge(Self.tag(1, 9)), .closeConnection])
        #expect(machine.state == .closed)
        #expect(machine.disconnected() == nil)  // the ack failed to send: nothing more
        #expect(machine.readyToConnect() == .finish)
    }

    @Test("close while cancelling, before stopped: closed without a stopped report")
    func closeWhileCancelling() {
        var machine = Self.consuming(delivered: 2)
        #expect(machine.stopRequested() == .wakeConnectionThread)
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.turn() == [.closeConnection])
    }

    @Test("close while disconnected ends the backoff and the thread; close during a connection attempt closes it")
    func closeWhileDisconnected() {
        var machine = Machine()
        #expect(machine.closeRequested() == .wakeConnectionThread)
        #expect(machine.interruptsBackoff)
        #expect(machine.readyToConnect() == .finish)

        var connecting = Machine()
        #expect(connecting.readyToConnect() == .connect)
        #expect(connecting.closeRequested() == .wakeConnectionThread)
        connecting.connected(generation: 1)
        #expect(connecting.turn() == [.closeConnection])
    }

    @Test("the broker refusing our queue ends everything")
    func queueRefused() {
        var machine = Machine()
        #expect(machine.readyToConnect() == .connect)
        machine.failed()
        #expect(machine.state == .closed)
        #expect(machine.settled(upTo: Self.tag(1, 1)) == .drop(Self.tag(1, 1), .staleConnection))
        #expect(machine.stopRequested() == nil)
        #expect(machine.closeRequested() == nil)
        #expect(machine.readyToConnect() == .finish)
    }

    @Test("several reconnects: each connection acks only its own tags, in its own numbering")
    func generations() {
        var machine = Machine()
        for generation in UInt64(1)...3 {
            #expect(machine.readyToConnect() == .connect)
            machine.connected(generation: generation)
            machine.delivered(upTo: Self.tag(generation, 2))
            if generation > 1 {
                let stale = Self.tag(generation - 1, 2)
                #expect(machine.settled(upTo: stale) == .drop(stale, .staleConnection))
            }
            #expect(machine.settled(upTo: Self.tag(generation, 1)) == .wakeConnectionThread)
            #expect(machine.turn() == [.acknowledge(Self.tag(generation, 1))])
            #expect(machine.disconnected() == nil)
        }
    }
}
