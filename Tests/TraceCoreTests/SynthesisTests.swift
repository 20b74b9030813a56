import Testing

@testable import TraceCore
import TestSupport

/// Builds bus events with oslo.messaging-shaped bodies for focused synthesis cases.
struct Bus {
    var synthesizer: SpanSynthesizer
    var spans: [Span] = []
    var time: Int64 = 1_000_000_000

    init(_ options: SynthesisOptions = SynthesisOptions()) {
        synthesizer = SpanSynthesizer(options: options)
    }

    static func request(
        method: String = "build_and_run_instance", uid: String, msgID: String? = nil, replyQueue: String? = nil,
        requestID: String? = "req-3bad318e-eed4-4dc5-ba75-0a86405f8def", globalRequestID: String? = nil,
        user: String? = "u1", extra: String = ""
    ) -> String {
        var fields = [#""method": "\#(method)""#, #""args": {"admin_password": "hunter2"}"#, #""_unique_id": "\#(uid)""#]
        if let msgID { fields.append(#""_msg_id": "\#(msgID)""#) }
        if let replyQueue { fields.append(#""_reply_q": "\#(replyQueue)""#) }
        fields.append(#""_context_request_id": \#(requestID.map { "\"\($0)\"" } ?? "null")"#)
        fields.append(#""_context_global_request_id": \#(globalRequestID.map { "\"\($0)\"" } ?? "null")"#)
        fields.append(#""_context_user_id": \#(user.map { "\"\($0)\"" } ?? "null")"#)
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    static func reply(msgID: String, uid: String, ending: Bool = true, failure: String? = nil) -> String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("result"); writer.null()
        writer.key("failure"); if let failure { writer.string(failure) } else { writer.null() }
        writer.key("ending"); writer.bool(ending)
        writer.key("_msg_id"); writer.string(msgID)
        writer.key("_unique_id"); writer.string(uid)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @discardableResult
    mutating func publish(
        _ inner: String, exchange: String = "nova", routingKey: String, routed: [String]? = nil,
        connection: String? = nil, expiration: String? = nil, headers: AMQPTable? = nil, after delay: Int64 = 1_000_000
    ) -> [Span] {
        time += delay
        var properties = MessageProperties()
        properties.expiration = expiration
        properties.headers = headers
        let event = BusEvent(
            kind: .publish, time: time, exchange: exchange, routingKey: routingKey, routedQueues: routed ?? [routingKey],
            properties: properties, connection: connection, source: .firehose, body: OsloBody.envelope(inner))
        return feed(event)
    }

    @discardableResult
    mutating func deliver(
        _ inner: String, queue: String, exchange: String = "nova", routingKey: String? = nil, connection: String? = nil,
        after delay: Int64 = 1_000_000
    ) -> [Span] {
        time += delay
        let event = BusEvent(
            kind: .deliver, time: time, exchange: exchange, routingKey: routingKey ?? queue, queue: queue,
            connection: connection, source: .firehose, body: OsloBody.envelope(inner))
        return feed(event)
    }

    mutating func feed(_ event: BusEvent) -> [Span] {
        let new = synthesizer.process(event, try! OsloDecoder.decode(event.body))
        spans += new
        return new
    }

    mutating func finish() -> [Span] {
        let new = synthesizer.finish()
        spans += new
        return new
    }

    func only(_ kind: Span.Kind) -> [Span] { spans.filter { $0.kind == kind } }

    /// The CLIENT span of call `msgID` (a call's publish has no PRODUCER): emitted already, else closed by ending
    /// the input (at the call's deadline).
    mutating func client(msgID: String) -> Span {
        func find() -> Span? {
            spans.first { $0.kind == .client && $0[attribute: AttributeKey.messagingMessageConversationID] == .string(msgID) }
        }
        if let span = find() { return span }
        _ = finish()
        return find()!
    }
}

@Suite("Trace identity rules, first match wins")
struct TraceIdentityTests {
    let traceparent = #""_context_traceparent": "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01""#

    @Test("traceparent-in-context: its trace; complement emits no producer and parents consumers on the sender's span")
    func traceParentInContext() {
        var bus = Bus()
        let message = Bus.request(uid: "u1", globalRequestID: "req-695a397c-6238-483b-bed6-eb95afd0eac8", extra: traceparent)
        bus.publish(message, routingKey: "compute.compute-1")
        bus.deliver(message, queue: "compute.compute-1")
        #expect(bus.only(.producer).isEmpty)
        let consumer = bus.only(.consumer)[0]
        #expect(consumer.traceID.hex == "0424ecbc6e3d4ce5b95b09756eb2f7e9")
        #expect(consumer.parentSpanID?.hex == "ac1a54d975733260")
        #expect(consumer.resource == ServiceIdentity(service: "nova-compute", host: "compute-1"))
    }

    @Test("traceparent-in-context with full: our producer is a child of the sender's span")
    func traceParentFull() {
        var bus = Bus(SynthesisOptions(senderTraced: .full))
        let message = Bus.request(uid: "u1", extra: traceparent)
        bus.publish(message, routingKey: "conductor")
        bus.deliver(message, queue: "conductor")
        let producer = bus.only(.producer)[0]
        #expect(producer.parentSpanID?.hex == "ac1a54d975733260" && producer.parentIsRemote)
        #expect(bus.only(.consumer)[0].parentSpanID == producer.spanID)
    }

    @Test("traceparent-in-amqp-header: used when the context has none, and kept as a child (not complemented)")
    func traceParentInHeader() {
        var bus = Bus()
        let headers = AMQPTable([
            ("traceparent", .string("00-11111111111111111111111111111111-2222222222222222-01")),
            ("tracestate", .string("vendor=x")),
        ])
        bus.publish(Bus.request(uid: "u1"), routingKey: "conductor", headers: headers)
        let producer = bus.only(.producer)[0]
        #expect(producer.traceID.hex == "11111111111111111111111111111111")
        #expect(producer.parentSpanID?.hex == "2222222222222222")
        #expect(producer.traceState == "vendor=x")
    }

    @Test("osprofiler-trace-info: base_id is the trace, the low 64 bits of parent_id the parent")
    func traceInfo() {
        var bus = Bus()
        bus.publish(Bus.request(uid: "u1", extra: #""_context_trace_info": {"hmac_key": "K", "base_id": "f763b4aa-124e-4b33-97a8-16b4254b3a85", "parent_id": "a76d8b0e-3123-424b-bdb8-bee037e24947"}"#), routingKey: "conductor")
        let producer = bus.only(.producer)[0]
        #expect(producer.traceID.hex == "f763b4aa124e4b3397a816b4254b3a85")
        #expect(producer.parentSpanID?.hex == "bdb8bee037e24947")
    }

    @Test("inherited: a notification sent while handling a traced message joins the sender's trace")
    func inherited() {
        var bus = Bus()
        let message = Bus.request(uid: "u1", globalRequestID: "req-695a397c-6238-483b-bed6-eb95afd0eac8", extra: traceparent)
        bus.publish(message, routingKey: "compute.compute-1")
        bus.deliver(message, queue: "compute.compute-1")
        bus.publish(#"{"message_id": "m-1", "publisher_id": "compute.compute-1", "event_type": "compute.instance.create.start", "priority": "INFO", "payload": {}, "_unique_id": "n1", "_context_request_id": "req-3bad318e-eed4-4dc5-ba75-0a86405f8def", "_context_global_request_id": "req-695a397c-6238-483b-bed6-eb95afd0eac8", "_context_user_id": "u1"}"#, routingKey: "notifications.info")
        let notification = bus.only(.producer)[0]
        #expect(notification.traceID.hex == "0424ecbc6e3d4ce5b95b09756eb2f7e9", "inherits the traceparent's trace, not the global request ID's")
        #expect(notification.parentSpanID == bus.only(.consumer)[0].spanID)
        #expect(notification.resource == ServiceIdentity(service: "nova-compute", host: "compute-1"))
    }

    @Test("global-request-id: its UUID is the trace when there is no trace context")
    func globalRequestID() {
        var bus = Bus()
        bus.publish(Bus.request(uid: "u1", globalRequestID: "req-695a397c-6238-483b-bed6-eb95afd0eac8"), routingKey: "conductor")
        #expect(bus.only(.producer)[0].traceID.hex == "695a397c6238483bbed6eb95afd0eac8")
        #expect(bus.only(.producer)[0].parentSpanID == nil)
    }

    @Test("request-id: its UUID is the trace without a global request ID")
    func requestID() {
        var bus = Bus()
        bus.publish(Bus.request(uid: "u1"), routingKey: "conductor")
        #expect(bus.only(.producer)[0].traceID.hex == "3bad318eeed44dc5ba750a86405f8def")
    }

    @Test("no-context: the trace is a hash of the message identity, and stable")
    func noContext() {
        var first = Bus(), second = Bus()
        first.publish(Bus.request(uid: "u1", requestID: nil, user: nil), routingKey: "conductor")
        second.publish(Bus.request(uid: "u1", requestID: nil, user: nil), routingKey: "conductor")
        #expect(first.only(.producer)[0].traceID == SpanIDScheme.traceID(identity: "u1"))
        #expect(first.spans == second.spans)
        #expect(first.only(.producer)[0].resource.isUnknown, "no user: the sender is not guessed")
    }
}

@Suite("Calls, replies and bounds")
struct CallSynthesisTests {
    let call = Bus.request(method: "get_console_output", uid: "c1", msgID: "m1", replyQueue: "reply_aa")

    @Test("call-with-failure-reply: CLIENT and SERVER are ERROR with the remote exception as an event")
    func failureReply() throws {
        var bus = Bus()
        bus.publish(call, routingKey: "compute.compute-1", expiration: "60000")
        bus.deliver(call, queue: "compute.compute-1")
        let failure = #"{"class": "InstanceNotFound", "module": "nova.exception", "message": "gone", "tb": [], "args": [], "kwargs": {}}"#
        bus.publish(Bus.reply(msgID: "m1", uid: "r1", failure: failure), exchange: "", routingKey: "reply_aa")
        bus.deliver(Bus.reply(msgID: "m1", uid: "r1", failure: failure), queue: "reply_aa", exchange: "")
        let client = try #require(bus.only(.client).first)
        let server = try #require(bus.only(.server).first)
        #expect(client.status == .error("InstanceNotFound: gone") && server.status.code == .error)
        #expect(client.events.first?.attributes.contains(Attribute("exception.type", .string("nova.exception.InstanceNotFound"))) == true)
        #expect(client.resource.service == "nova-api" && server.resource == ServiceIdentity(service: "nova-compute", host: "compute-1"))
        #expect(client.endTime == bus.time && server.endTime == bus.time - 1_000_000)
        #expect(client[attribute: "messaging.message.conversation_id"] == .string("m1"))
        #expect(bus.only(.consumer).isEmpty && bus.only(.producer).isEmpty,
                "a call is CLIENT + SERVER: no span for its request message, none for the reply's delivery")
        #expect(server.parentSpanID == client.spanID && server.parentIsRemote, "service graphs pair a SERVER with its CLIENT parent")
        #expect(server.startTime == client.startTime + 1_000_000, "the SERVER starts at the delivery")
        #expect(server[attribute: AttributeKey.traceBridgeQueueWaitNS] == .int(1_000_000))
    }

    @Test("call-timeout-by-expiration: judged against event time, ending at the deadline")
    func timeoutByExpiration() throws {
        var bus = Bus()
        bus.publish(call, routingKey: "compute.gone", routed: [], expiration: "3000")
        let start = bus.time
        #expect(bus.synthesizer.advance(to: start + 2_000_000_000).isEmpty, "not yet")
        let expired = bus.synthesizer.advance(to: start + 3_500_000_000)
        let client = try #require(expired.first)
        #expect(client.status == .error("timeout") && client.endTime == start + 3_000_000_000)
        #expect(bus.only(.producer).isEmpty && client[attribute: AttributeKey.traceBridgeUnroutable] == .bool(true))
        #expect(bus.synthesizer.counters.timeouts == 1)
    }

    @Test("heartbeats extend a call under the call monitor; silence longer than _timeout is a timeout")
    func callMonitor() throws {
        var bus = Bus()
        let monitored = Bus.request(method: "select_destinations", uid: "c2", msgID: "m2", replyQueue: "reply_aa", extra: #""_timeout": 4"#)
        bus.publish(monitored, routingKey: "scheduler", expiration: "1800000")
        bus.deliver(monitored, queue: "scheduler")
        for _ in 0..<3 { bus.publish(Bus.reply(msgID: "m2", uid: "h\(bus.time)", ending: false), exchange: "", routingKey: "reply_aa", after: 2_000_000_000) }
        bus.publish(Bus.reply(msgID: "m2", uid: "r2"), exchange: "", routingKey: "reply_aa", after: 1_000_000_000)
        bus.deliver(Bus.reply(msgID: "m2", uid: "r2"), queue: "reply_aa", exchange: "")
        #expect(bus.only(.client).map(\.status) == [.unset], "heartbeats every 2 s keep a 4 s monitor alive")

        var silent = Bus()
        silent.publish(monitored, routingKey: "scheduler", expiration: "1800000")
        silent.deliver(monitored, queue: "scheduler")
        silent.publish(Bus.request(uid: "later"), routingKey: "conductor", after: 5_000_000_000)
        #expect(silent.only(.client).map(\.status) == [.error("timeout")])
    }

    @Test("redelivery-to-same-queue: one CONSUMER span; a fanout gets one per queue")
    func redeliveryAndFanout() {
        var bus = Bus()
        let cast = Bus.request(method: "update_instance_info", uid: "f1")
        bus.publish(cast, exchange: "scheduler_fanout", routingKey: "", routed: ["scheduler_fanout_aa", "scheduler_fanout_bb"])
        bus.deliver(cast, queue: "scheduler_fanout_aa", exchange: "scheduler_fanout", routingKey: "")
        bus.deliver(cast, queue: "scheduler_fanout_aa", exchange: "scheduler_fanout", routingKey: "")
        bus.deliver(cast, queue: "scheduler_fanout_bb", exchange: "scheduler_fanout", routingKey: "")
        #expect(bus.only(.consumer).count == 2)
        #expect(Set(bus.only(.consumer).map(\.resource.service)) == ["nova-scheduler"])
        #expect(bus.synthesizer.counters.skipped[.duplicateDelivery] == 1)
        #expect(bus.only(.producer)[0].name == "publish scheduler_fanout")
        #expect(Set(bus.only(.consumer).map(\.name)) == ["process scheduler_fanout:scheduler_fanout_{id}"], "one name for every listener")
    }

    @Test("no-self-rpc: a handler is never inferred as the sender of a message to its own service")
    func noSelfRPC() {
        var bus = Bus()
        let cast = Bus.request(method: "build_and_run_instance", uid: "b1")
        bus.publish(cast, routingKey: "compute.compute-1")
        bus.deliver(cast, queue: "compute.compute-1")
        bus.publish(Bus.request(method: "object_action", uid: "o1", msgID: "m3", replyQueue: "reply_cc"), routingKey: "conductor")
        bus.publish(Bus.request(method: "other", uid: "o2"), routingKey: "compute.compute-1")
        #expect(bus.only(.producer).last?.resource.service != "nova-compute", "compute does not cast to itself")
        #expect(bus.client(msgID: "m3").resource.service == "nova-compute")
    }

    @Test("correlation state is bounded: unanswered calls are evicted, counted and closed as timeouts")
    func bounded() {
        var bus = Bus(SynthesisOptions(correlationCapacity: 10))
        for index in 0..<100 {
            bus.publish(Bus.request(uid: "c\(index)", msgID: "m\(index)", replyQueue: "reply_x", requestID: "req-\(index)"), routingKey: "conductor", expiration: "1800000")
        }
        #expect(bus.synthesizer.correlationEntries <= 4 * 10 + 4)
        #expect((bus.synthesizer.counters.evictions["calls"] ?? 0) >= 89, "capacity 10, checked before each insert")
        #expect(bus.only(.client).count >= 89 && bus.only(.client).allSatisfy { $0.status == .error("timeout") })
        _ = bus.finish()
        #expect(bus.only(.client).count == 100, "every call ends once")
    }

    @Test("replies to calls we never saw are counted, not invented")
    func unknownReply() {
        var bus = Bus()
        bus.publish(Bus.reply(msgID: "nope", uid: "r9"), exchange: "", routingKey: "reply_zz")
        #expect(bus.spans.isEmpty && bus.synthesizer.counters.skipped[.replyToUnknownCall] == 1)
    }

    @Test("tap mode (publishes only): the first publish is the API's, later ones are unknown; no round trips invented")
    func tapModeNeverGuesses() {
        var bus = Bus(SynthesisOptions(visibility: SourceVisibility(tapExchanges: ["nova"])))
        bus.publish(Bus.request(method: "build_and_run_instance", uid: "p1"), routingKey: "compute.compute-1", routed: nil)
        bus.publish(Bus.request(method: "object_action", uid: "p2", msgID: "m9", replyQueue: "reply_q"), routingKey: "conductor",
                    routed: nil, expiration: "100")
        _ = bus.finish()
        #expect(bus.only(.producer).map(\.resource.service) == ["nova-api"])
        // The call is its CLIENT, ending at its publish: no reply is visible to say when it ended.
        let client = bus.only(.client)
        #expect(client.map(\.resource.service) == ["unknown"] && client.allSatisfy { $0.startTime == $0.endTime })
        #expect(client.first?[attribute: AttributeKey.traceBridgeCallEnd] == .string("unobserved") && client.first?.status == .unset)
        #expect(bus.only(.server).isEmpty && bus.only(.consumer).isEmpty)
    }
}
