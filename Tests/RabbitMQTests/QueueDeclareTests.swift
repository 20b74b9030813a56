import Testing

@testable import RabbitMQ

/// What the agent's `queue.declare` asks for, per queue type: RabbitMQ 4.3 denies transient non-exclusive queues,
/// so nothing but the explicit `transient` type may declare one, and every type keeps the bounds.
@Suite("The agent's queue declaration")
struct QueueDeclareTests {
    static func arguments(_ queue: QueueSettings) -> [String: QueueSettings.ArgumentValue] {
        Dictionary(uniqueKeysWithValues: queue.declareArguments.map { ($0.key, $0.value) })
    }

    @Test("the default is a durable classic queue with x-expires 30 min and the bounds")
    func classicDefault() {
        let queue = QueueSettings(name: "trace-bridge.firehose")
        #expect(queue.type == .classic && queue.durable)
        #expect(Self.arguments(queue) == [
            "x-max-length": .integer(100_000), "x-overflow": .string("drop-head"), "x-message-ttl": .integer(600_000),
            "x-expires": .integer(1_800_000), "x-queue-type": .string("classic"),
        ])
        #expect(queue.expiresMilliseconds >= 3 * queue.messageTTLMilliseconds, "the queue outlives its messages' TTL")
    }

    @Test("quorum: durable, x-queue-type quorum, and the same bounds (quorum queues take drop-head, TTL and x-expires)")
    func quorum() {
        let queue = QueueSettings(name: "q", type: .quorum)
        #expect(queue.durable)
        #expect(Self.arguments(queue) == [
            "x-max-length": .integer(100_000), "x-overflow": .string("drop-head"), "x-message-ttl": .integer(600_000),
            "x-expires": .integer(1_800_000), "x-queue-type": .string("quorum"),
        ])
    }

    @Test("transient is trace-bridge 0.x's declaration exactly: non-durable, no x-queue-type, no x-expires unless set")
    func transientMatchesTheOldQueue() {
        let queue = QueueSettings(name: "q", type: .transient)
        #expect(!queue.durable)
        #expect(Self.arguments(queue) == [
            "x-max-length": .integer(100_000), "x-overflow": .string("drop-head"), "x-message-ttl": .integer(600_000),
        ])
        #expect(Self.arguments(QueueSettings(name: "q", expiresMilliseconds: 300_000, type: .transient))["x-expires"]
            == .integer(300_000))
    }

    @Test("a bound <= 0 is left out; x-expires 0 means never", arguments: QueueSettings.QueueType.allCases)
    func unboundedArgumentsAreLeftOut(type: QueueSettings.QueueType) {
        let queue = QueueSettings(name: "q", maxLength: 0, messageTTLMilliseconds: 0, expiresMilliseconds: 0, type: type)
        #expect(queue.declareArguments.map(\.key) == ["x-overflow"] + (type == .transient ? [] : ["x-queue-type"]))
    }

    @Test("only the transient type is non-durable: no default declares a transient non-exclusive queue")
    func onlyTransientIsNonDurable() {
        for type in QueueSettings.QueueType.allCases {
            #expect(QueueSettings(name: "q", type: type).durable == (type != .transient))
        }
    }

    @Test("a refused declaration is permanent, and names the argument the broker compared")
    func refusals() {
        let old = AMQPError(
            code: .channelClosed, replyCode: 406,
            replyText: "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'trace-bridge.firehose' in vhost '/': received 'true' but current is 'false'",
            operation: "queue.declare trace-bridge.firehose")
        #expect(old.refusingQueueDeclare && old.inequivalentArgument == "durable")
        // RabbitMQ 4.3 on a transient non-exclusive declaration: a connection close, 541.
        let denied = AMQPError(
            code: .connectionClosed, replyCode: 541,
            replyText: "INTERNAL_ERROR - Feature `transient_nonexcl_queues` is deprecated.\nBy default, this feature is not permitted anymore.",
            operation: "queue.declare q")
        #expect(denied.refusingQueueDeclare && denied.inequivalentArgument == nil)
        let forced = AMQPError(code: .connectionClosed, replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", operation: "queue.declare q")
        #expect(!forced.refusingQueueDeclare, "a broker shutting down is worth a reconnect")
        #expect(!AMQPError(code: .queueRefused, replyCode: 406, operation: "queue.declare q").isLikelyTransient)
    }
}
