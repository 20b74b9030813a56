import Testing

@testable import TraceCore
import TestSupport

/// The queue layouts oslo.messaging 18.3.1 declares besides the classic one (`_drivers/impl_rabbit.py`,
/// `amqpdriver.QManager`), with names and headers as the broker shows them:
/// - `use_queue_manager`: `reply_<hostname>:<processname>:<n>` and `<topic>_fanout_<hostname>:<processname>:<n>`
///   instead of `reply_<uuid hex>` and `<topic>_fanout_<uuid hex>` (`declare_fanout_consumer`,
///   `RabbitDriver._get_reply_queue_name`);
/// - `rabbit_stream_fanout`: one stream queue `<topic>_fanout` bound to the `<topic>_fanout` exchange, read by every
///   listener of the topic; the broker adds `x-stream-offset` to every message a stream delivers;
/// - `rabbit_quorum_queue` / `rabbit_transient_quorum_queue`: same names, `x-queue-type: quorum`; a quorum queue
///   counts deliveries in the delivered message's `x-delivery-count` header.
@Suite("oslo.messaging queue layouts: queue manager, stream fanout, quorum queues")
struct QueueLayoutTests {
    static let listener1 = "127.0.0.1:53958 -> 127.0.0.1:5672"
    static let listener2 = "127.0.0.1:53960 -> 127.0.0.1:5672"

    static func long(_ value: Int64) -> AMQPValue { .integer(value, tag: UInt8(ascii: "l")) }

    /// A firehose delivery as the deliver event shows it: the consumer's connection and channel, and the
    /// delivered message's headers inside `properties`.
    static func delivery(
        _ inner: String, queue: String, exchange: String = "nova", routingKey: String? = nil, connection: String?,
        channel: Int64? = 1, headers: AMQPTable? = nil, redelivered: Bool = false, at time: Int64
    ) -> BusEvent {
        var properties = MessageProperties()
        properties.headers = headers ?? AMQPTable()
        return BusEvent(
            kind: .deliver, time: time, exchange: exchange, routingKey: routingKey ?? queue, queue: queue,
            properties: properties, connection: connection, channel: channel, redelivered: redelivered,
            source: .firehose, body: OsloBody.envelope(inner))
    }

    // MARK: Queue names

    struct Name: Sendable, CustomStringConvertible {
        var queue: String
        var topic: String
        var fanout = false, reply = false, stream = false
        var manager: (host: String, process: String, counter: Int)? = nil
        var description: String { queue }
    }

    static let names: [Name] = [
        Name(queue: "reply_ctl-1:nova-conductor:3", topic: "reply_ctl-1:nova-conductor:3", reply: true,
             manager: ("ctl-1", "nova-conductor", 3)),
        Name(queue: "reply_9f1c27b0e4a14bb1b0d3f6f0c2a9e5d1", topic: "reply_9f1c27b0e4a14bb1b0d3f6f0c2a9e5d1", reply: true),
        Name(queue: "scheduler_fanout_sched-1:nova-scheduler:2", topic: "scheduler", fanout: true,
             manager: ("sched-1", "nova-scheduler", 2)),
        Name(queue: "compute_fanout_node1.example.com:nova-compute:12", topic: "compute", fanout: true,
             manager: ("node1.example.com", "nova-compute", 12)),
        Name(queue: "scheduler_fanout_58806456aa974c5e90f65ad4448e98d3", topic: "scheduler", fanout: true),
        Name(queue: "scheduler_fanout", topic: "scheduler", fanout: true, stream: true),
        Name(queue: "compute.compute-1", topic: "compute"),
        Name(queue: "conductor", topic: "conductor"),
    ]

    @Test("queue names of every layout parse to topic, kind and queue-manager process", arguments: names)
    func parses(name: Name) {
        let target = ServiceMap.openStackDefaults.target(ofQueue: name.queue)
        #expect(target.topic == name.topic && target.isFanoutQueue == name.fanout && target.isReplyQueue == name.reply)
        #expect(target.isStreamQueue == name.stream)
        let manager = target.queueManagerName
        #expect(manager?.hostname == name.manager?.host && manager?.processname == name.manager?.process
            && manager?.counter == name.manager?.counter)
    }

    @Test("a queue-manager suffix needs host, process and a decimal counter")
    func queueManagerSuffix() {
        #expect(ServiceMap.QueueManagerName("ctl-1:nova-conductor:x") == nil)
        #expect(ServiceMap.QueueManagerName("ctl-1:nova-conductor") == nil, "no counter")
        #expect(ServiceMap.QueueManagerName("ctl-1::1")?.processname == "", "an empty process name is allowed")
        #expect(ServiceMap.QueueManagerName("ctl-1:") == nil && ServiceMap.QueueManagerName(":p:1") == nil)
        #expect(ServiceMap.QueueManagerName("9f1c27b0e4a14bb1b0d3f6f0c2a9e5d1") == nil)
    }

    // MARK: Queue manager

    @Test("queue-manager fanout: a CONSUMER per listener, host from the name until the connection says otherwise")
    func queueManagerFanout() throws {
        var bus = Bus()
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        let queues = ["scheduler_fanout_sched-1:nova-scheduler:1", "scheduler_fanout_sched-2:nova-scheduler:1"]
        bus.publish(cast, exchange: "scheduler_fanout", routingKey: "", routed: queues)
        bus.deliver(cast, queue: queues[0], exchange: "scheduler_fanout", routingKey: "", connection: Self.listener1)
        bus.deliver(cast, queue: queues[1], exchange: "scheduler_fanout", routingKey: "", connection: Self.listener2)
        let consumers = bus.only(.consumer)
        #expect(consumers.map(\.resource) == [
            ServiceIdentity(service: "nova-scheduler", host: "sched-1"), ServiceIdentity(service: "nova-scheduler", host: "sched-2"),
        ])
        #expect(consumers.map(\.spanID) == queues.map { SpanIDScheme.spanID(role: .receive, identity: "f1", queue: $0) },
                "classic IDs: identity and queue")
        #expect(consumers.allSatisfy { $0[attribute: "trace_bridge.unknown_queue"] == nil })

        // The service's own `host` (in `<topic>.<server>`, consumed on the same listener connection) wins over
        // oslo.messaging's `hostname` when the two are configured apart.
        var apart = Bus()
        let direct = Bus.request(method: "select_destinations", uid: "d1")
        apart.publish(direct, routingKey: "scheduler.sched-1.cloud")
        apart.deliver(direct, queue: "scheduler.sched-1.cloud", connection: Self.listener1)
        apart.publish(cast, exchange: "scheduler_fanout", routingKey: "", routed: [queues[0]])
        apart.deliver(cast, queue: queues[0], exchange: "scheduler_fanout", routingKey: "", connection: Self.listener1)
        #expect(apart.only(.consumer).last?.resource == ServiceIdentity(service: "nova-scheduler", host: "sched-1.cloud"))
    }

    @Test("queue-manager fanout seen only through routing (publish-only): the host is in the name")
    func queueManagerFanoutInferred() {
        var options = SynthesisOptions()
        options.visibility = SourceMode.publishOnly.visibility(controlExchanges: ["nova"], tapExchanges: [])
        var bus = Bus(options)
        bus.publish(Bus.request(method: "update_instance_info", uid: "f1"), exchange: "scheduler_fanout", routingKey: "",
                    routed: ["scheduler_fanout_sched-1:nova-scheduler:1"])
        #expect(bus.only(.consumer).map(\.resource) == [ServiceIdentity(service: "nova-scheduler", host: "sched-1")])
    }

    @Test("queue-manager reply queue: the round trip works; the caller's host comes from the name")
    func queueManagerReply() throws {
        var bus = Bus()
        let replyQueue = "reply_api-1:nova-api:1"
        let call = Bus.request(method: "select_destinations", uid: "c1", msgID: "m1", replyQueue: replyQueue)
        bus.publish(call, routingKey: "scheduler", expiration: "60000")
        bus.deliver(call, queue: "scheduler", connection: Self.listener1)
        bus.publish(Bus.reply(msgID: "m1", uid: "r1"), exchange: "", routingKey: replyQueue)
        bus.deliver(Bus.reply(msgID: "m1", uid: "r1"), queue: replyQueue, exchange: "")
        let client = try #require(bus.only(.client).first)
        #expect(client.status == .unset && client.endTime == bus.time)
        #expect(client.resource == ServiceIdentity(service: "nova-api", host: "api-1"))
        #expect(bus.only(.server).count == 1 && bus.only(.consumer).isEmpty && bus.only(.producer).isEmpty)
        #expect(bus.synthesizer.counters.skipped.isEmpty, "\(bus.synthesizer.counters.skipped)")
    }

    @Test("queue-manager reply queue names the caller when its process name is a known service, never otherwise")
    func queueManagerProcessName() {
        // A periodic task's call: no user, no handler; only the reply queue says who calls.
        var bus = Bus()
        bus.publish(Bus.request(method: "get_host_uptime", uid: "p1", msgID: "m1", replyQueue: "reply_ctl-1:nova-conductor:2",
                                user: nil), routingKey: "compute.compute-1", expiration: "60000")
        #expect(bus.client(msgID: "m1").resource == ServiceIdentity(service: "nova-conductor", host: "ctl-1"))

        var wsgi = Bus()
        wsgi.publish(Bus.request(method: "get_host_uptime", uid: "p1", msgID: "m1", replyQueue: "reply_api-1:uwsgi:4",
                                 user: nil), routingKey: "compute.compute-1", expiration: "60000")
        #expect(wsgi.client(msgID: "m1").resource == .unknown, "`uwsgi` is a process, not a service: unknown")
    }

    // MARK: Stream fanout

    /// Two scheduler listeners, each learned from its `scheduler.<server>` queue on its listener connection,
    /// then one fanout cast read from the shared stream by both.
    static func streamBus(learn: Bool = true) -> Bus {
        var bus = Bus()
        if learn {
            for (index, connection) in [listener1, listener2].enumerated() {
                let direct = Bus.request(method: "ping", uid: "d\(index)")
                bus.publish(direct, routingKey: "scheduler.sched-\(index + 1)")
                bus.deliver(direct, queue: "scheduler.sched-\(index + 1)", connection: connection)
            }
        }
        bus.publish(Bus.request(method: "update_instance_info", uid: "f1"), exchange: "scheduler_fanout", routingKey: "",
                    routed: ["scheduler_fanout"])
        return bus
    }

    @Test("stream fanout: each listener's delivery is its own CONSUMER, with its host, told apart by connection")
    func streamFanout() throws {
        var bus = Self.streamBus()
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        let offset = AMQPTable([("x-stream-offset", Self.long(7))])
        for connection in [Self.listener1, Self.listener2] {
            _ = bus.feed(Self.delivery(cast, queue: "scheduler_fanout", exchange: "scheduler_fanout", routingKey: "",
                                       connection: connection, headers: offset, at: bus.time + 1_000_000))
        }
        let consumers = bus.only(.consumer).filter { $0[attribute: "messaging.message.id"] == .string("f1") }
        #expect(consumers.map(\.resource) == [
            ServiceIdentity(service: "nova-scheduler", host: "sched-1"), ServiceIdentity(service: "nova-scheduler", host: "sched-2"),
        ])
        #expect(consumers.map(\.spanID) == [Self.listener1, Self.listener2].map {
            SpanIDScheme.spanID(role: .receive, identity: "f1", queue: "scheduler_fanout",
                                consumer: SpanIDScheme.Consumer(connection: $0, channel: 1))
        })
        let producer = try #require(bus.only(.producer).last)
        #expect(consumers.allSatisfy { $0.parentSpanID == producer.spanID && $0.traceID == producer.traceID })
        #expect(bus.synthesizer.counters.skipped[.duplicateDelivery] == nil)

        // The same listener reading it again (same connection and channel) is a duplicate, counted once.
        _ = bus.feed(Self.delivery(cast, queue: "scheduler_fanout", exchange: "scheduler_fanout", routingKey: "",
                                   connection: Self.listener1, headers: offset, at: bus.time + 1_000_000))
        #expect(bus.synthesizer.counters.skipped[.duplicateDelivery] == 1)
    }

    @Test("stream fanout: a listener whose connection is not known yet gets its service, no host")
    func streamFanoutUnknownHost() throws {
        var bus = Self.streamBus(learn: false)
        _ = bus.feed(Self.delivery(Bus.request(method: "update_instance_info", uid: "f1"), queue: "scheduler_fanout",
                                   exchange: "scheduler_fanout", routingKey: "", connection: Self.listener1,
                                   at: bus.time + 1_000_000))
        #expect(bus.only(.consumer).map(\.resource) == [ServiceIdentity(service: "nova-scheduler")])
    }

    @Test("a stream delivery without the connection header keeps the v1 ID: later listeners are duplicates, not guesses")
    func streamWithoutConnection() {
        var bus = Self.streamBus(learn: false)
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        for _ in 0..<2 {
            _ = bus.feed(Self.delivery(cast, queue: "scheduler_fanout", exchange: "scheduler_fanout", routingKey: "",
                                       connection: nil, channel: nil, at: bus.time + 1_000_000))
        }
        #expect(bus.only(.consumer).map(\.spanID) == [SpanIDScheme.spanID(role: .receive, identity: "f1", queue: "scheduler_fanout")])
        #expect(bus.synthesizer.counters.skipped[.duplicateDelivery] == 1)
    }

    @Test("a stream is known by the broker's x-stream-offset as well as by name")
    func streamByOffsetHeader() {
        var bus = Bus()
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        for connection in [Self.listener1, Self.listener2] {
            _ = bus.feed(Self.delivery(cast, queue: "scheduler_log", exchange: "scheduler_fanout", routingKey: "",
                                       connection: connection, headers: AMQPTable([("x-stream-offset", Self.long(0))]),
                                       at: bus.time + 1_000_000))
        }
        #expect(bus.only(.consumer).count == 2)
    }

    @Test("stream fanout seen only through routing: no inferred span, counted")
    func streamFanoutInferred() {
        var options = SynthesisOptions()
        options.visibility = SourceMode.publishOnly.visibility(controlExchanges: ["nova"], tapExchanges: [])
        var bus = Bus(options)
        bus.publish(Bus.request(method: "update_instance_info", uid: "f1"), exchange: "scheduler_fanout", routingKey: "",
                    routed: ["scheduler_fanout"])
        #expect(bus.only(.consumer).isEmpty && bus.only(.producer).count == 1)
        #expect(bus.synthesizer.counters.skipped[.inferredDeliveryToStreamQueue] == 1)
    }

    @Test("publish-only plus the stream's own deliver binding keeps every listener's span, and infers the rest")
    func publishOnlyWithStreamBinding() {
        var options = SynthesisOptions()
        options.visibility = SourceVisibility(firehosePatterns: ["publish.#", "deliver.scheduler_fanout"])
        var bus = Bus(options)
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        bus.publish(cast, exchange: "scheduler_fanout", routingKey: "", routed: ["scheduler_fanout"])
        for connection in [Self.listener1, Self.listener2] {
            _ = bus.feed(Self.delivery(cast, queue: "scheduler_fanout", exchange: "scheduler_fanout", routingKey: "",
                                       connection: connection, at: bus.time + 1_000_000))
        }
        bus.publish(Bus.request(method: "build_and_run_instance", uid: "b1"), routingKey: "compute.compute-1")
        #expect(bus.only(.consumer).count == 3 && bus.synthesizer.counters.skipped.isEmpty)
        #expect(bus.only(.consumer).filter { $0[attribute: "trace_bridge.delivery_observed"] == .bool(false) }.count == 1)
    }

    @Test("a stream's late read of an old message is a delivery in the message's trace, not a new request")
    func streamLateRead() throws {
        var bus = Bus(SynthesisOptions(correlationMaximumAge: 60_000_000_000))
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        bus.publish(cast, exchange: "scheduler_fanout", routingKey: "", routed: ["scheduler_fanout"])
        let producer = try #require(bus.only(.producer).first)
        // A listener attaching ten minutes later reads the message from the stream (its first offset, `last`, is
        // the last chunk): the publish has left the correlation state by then.
        bus.time += 600_000_000_000
        _ = bus.feed(Self.delivery(cast, queue: "scheduler_fanout", exchange: "scheduler_fanout", routingKey: "",
                                   connection: Self.listener2, headers: AMQPTable([("x-stream-offset", Self.long(0))]),
                                   at: bus.time))
        let consumer = try #require(bus.only(.consumer).first)
        #expect(consumer.traceID == producer.traceID && consumer.parentSpanID == producer.spanID)
        #expect(consumer[attribute: "trace_bridge.queue_wait_known"] == .bool(false))
        #expect(bus.only(.producer).count == 1, "no second publish, no new request")
    }

    // MARK: Quorum queues

    @Test("quorum redelivery: x-delivery-count or redelivered marks it; the same queue gets one CONSUMER")
    func quorumRedelivery() throws {
        var bus = Bus()
        let cast = Bus.request(method: "build_and_run_instance", uid: "b1")
        bus.publish(cast, routingKey: "compute.compute-1")
        _ = bus.feed(Self.delivery(cast, queue: "compute.compute-1", connection: Self.listener1, at: bus.time + 1))
        _ = bus.feed(Self.delivery(cast, queue: "compute.compute-1", connection: Self.listener1,
                                   headers: AMQPTable([("x-delivery-count", Self.long(1))]), redelivered: true,
                                   at: bus.time + 2))
        let consumers = bus.only(.consumer)
        #expect(consumers.count == 1 && bus.synthesizer.counters.skipped[.duplicateDelivery] == 1)
        #expect(consumers[0].spanID == SpanIDScheme.spanID(role: .receive, identity: "b1", queue: "compute.compute-1"))
        #expect(consumers[0][attribute: "trace_bridge.redelivered"] == nil)

        // The first delivery was not seen (the agent started in between): the redelivery is the span, and says so
        // from the count alone (a broker may leave `redelivered` unset on a quorum queue's return).
        var late = Bus()
        late.publish(cast, routingKey: "compute.compute-1")
        _ = late.feed(Self.delivery(cast, queue: "compute.compute-1", connection: Self.listener1,
                                    headers: AMQPTable([("x-delivery-count", Self.long(1))]), at: late.time + 1))
        #expect(late.only(.consumer).first?[attribute: "trace_bridge.redelivered"] == .bool(true))
        var flagged = Bus()
        flagged.publish(cast, routingKey: "compute.compute-1")
        _ = flagged.feed(Self.delivery(cast, queue: "compute.compute-1", connection: Self.listener1, redelivered: true,
                                       at: flagged.time + 1))
        #expect(flagged.only(.consumer).first?[attribute: "trace_bridge.redelivered"] == .bool(true))
    }

    @Test("a call redelivered by a quorum queue gets one SERVER span, marked redelivered only if its first delivery was")
    func quorumCallRedelivery() throws {
        var bus = Bus()
        let replyQueue = "reply_ctl-1:nova-conductor:1"
        let call = Bus.request(method: "get_console_output", uid: "c1", msgID: "m1", replyQueue: replyQueue)
        bus.publish(call, routingKey: "compute.compute-1", expiration: "60000")
        _ = bus.feed(Self.delivery(call, queue: "compute.compute-1", connection: Self.listener1, at: bus.time + 1))
        _ = bus.feed(Self.delivery(call, queue: "compute.compute-1", connection: Self.listener2,
                                   headers: AMQPTable([("x-delivery-count", Self.long(1))]), redelivered: true,
                                   at: bus.time + 2))
        bus.publish(Bus.reply(msgID: "m1", uid: "r1"), exchange: "", routingKey: replyQueue)
        _ = bus.feed(Self.delivery(Bus.reply(msgID: "m1", uid: "r1"), queue: replyQueue, exchange: "", connection: nil,
                                   headers: AMQPTable([("x-delivery-count", Self.long(0))]), at: bus.time + 1))
        #expect(bus.only(.consumer).isEmpty && bus.only(.server).count == 1 && bus.only(.client).count == 1)
        #expect(bus.only(.server).first?[attribute: AttributeKey.traceBridgeRedelivered] == nil, "the first delivery's span")
        #expect(bus.only(.client).first?.status == .unset)
    }
}
