import Testing

@testable import TraceCore
import TestSupport

/// Nova-shaped pieces of `args` and `payload`, with the siblings that must never be read beside the UUID.
enum Nova {
    static let x = "6a1c2f0e-57b4-4d2b-9c51-0f3f6a7d1b10"
    static let y = "c3d9e2a1-8b7f-4e6d-a5c4-b3a291807f6e"

    static func instance(_ uuid: String, name: String = "Instance") -> String {
        #"{"nova_object.name": "\#(name)", "nova_object.namespace": "nova", "nova_object.version": "2.8", "nova_object.data": {"user_data": "c2VjcmV0", "uuid": "\#(uuid)", "key_data": "ssh-rsa AAAA", "display_name": "vm"}, "nova_object.changes": ["task_state"]}"#
    }

    /// An RPC request whose `args` is `args` (a JSON object text).
    static func request(
        method: String, uid: String, args: String, msgID: String? = nil, replyQueue: String? = nil,
        requestID: String = "req-3bad318e-eed4-4dc5-ba75-0a86405f8def"
    ) -> String {
        var fields = [#""method": "\#(method)""#, #""args": \#(args)"#, #""_unique_id": "\#(uid)""#]
        if let msgID { fields.append(#""_msg_id": "\#(msgID)""#) }
        if let replyQueue { fields.append(#""_reply_q": "\#(replyQueue)""#) }
        fields.append(#""_context_request_id": "\#(requestID)""#)
        fields.append(#""_context_user_id": "u1""#)
        return "{" + fields.joined(separator: ", ") + "}"
    }

    static func about(_ uuid: String, key: String = "instance") -> String {
        #"{"\#(key)": \#(instance(uuid)), "admin_password": "hunter2", "request_spec": {"nova_object.name": "RequestSpec", "nova_object.data": {"instance_uuid": "\#(y)"}}}"#
    }

    static func notification(eventType: String, payload: String, uid: String) -> String {
        #"{"message_id": "\#(uid)", "publisher_id": "nova-compute:compute-1", "event_type": "\#(eventType)", "priority": "INFO", "payload": \#(payload), "timestamp": "2026-12-06 07:00:00.000000", "_context_request_id": "req-3bad318e-eed4-4dc5-ba75-0a86405f8def", "_context_user_id": "u1"}"#
    }
}

@Suite("The allow-listed subject: which instance a message is about")
struct SubjectDecodingTests {
    static func subject(_ inner: String) throws -> String? {
        try OsloDecoder.decode(OsloBody.envelope(inner)).subject
    }

    @Test("the Instance's uuid at nova's argument names", arguments: ["instance", "objinst", "instance_info"])
    func instanceArgument(key: String) throws {
        #expect(try Self.subject(Nova.request(method: "m", uid: "u", args: Nova.about(Nova.x, key: key))) == Nova.x)
    }

    @Test("a plain instance_uuid argument (scheduler's delete_instance_info)")
    func instanceUUIDArgument() throws {
        let args = #"{"host_name": "compute-1", "instance_uuid": "\#(Nova.x)"}"#
        #expect(try Self.subject(Nova.request(method: "delete_instance_info", uid: "u", args: args)) == Nova.x)
    }

    @Test("not a subject: other objects, other argument names, lists, values that are not UUIDs, two instances")
    func notASubject() throws {
        let cases = [
            #"{"instance": \#(Nova.instance(Nova.x, name: "Migration"))}"#,
            #"{"request_spec": {"nova_object.name": "RequestSpec", "nova_object.data": {"instance_uuid": "\#(Nova.x)", "uuid": "\#(Nova.x)"}}}"#,
            #"{"instances": [\#(Nova.instance(Nova.x))]}"#,
            #"{"instance": {"nova_object.name": "Instance", "nova_object.data": {"uuid": "hunter2"}}}"#,
            #"{"instance": {"nova_object.name": "Instance", "nova_object.data": {"uuid": 7}}}"#,
            #"{"instance": "\#(Nova.x)"}"#,
            #"{"instance": \#(Nova.instance(Nova.x)), "instance_uuid": "\#(Nova.y)"}"#,
            #"[1, 2]"#,
        ]
        for args in cases {
            #expect(try Self.subject(Nova.request(method: "m", uid: "u", args: args)) == nil, "\(args)")
        }
    }

    @Test("the name may follow the data; the same instance named twice is one subject")
    func memberOrder() throws {
        let reversed = #"{"instance": {"nova_object.data": {"uuid": "\#(Nova.x)"}, "nova_object.name": "Instance"}, "instance_uuid": "\#(Nova.x)"}"#
        #expect(try Self.subject(Nova.request(method: "m", uid: "u", args: reversed)) == Nova.x)
    }

    @Test("notifications: legacy instance_id / instance_uuid, versioned Instance…Payload uuid")
    func notifications() throws {
        let legacy = #"{"tenant_id": "t", "instance_id": "\#(Nova.x)", "display_name": "vm", "hostname": "vm"}"#
        #expect(try Self.subject(Nova.notification(eventType: "compute.instance.create.start", payload: legacy, uid: "n1")) == Nova.x)
        let legacyUUID = #"{"instance_uuid": "\#(Nova.x)"}"#
        #expect(try Self.subject(Nova.notification(eventType: "x", payload: legacyUUID, uid: "n2")) == Nova.x)
        for name in ["InstanceActionPayload", "InstanceCreatePayload", "InstanceUpdatePayload"] {
            let versioned = Nova.instance(Nova.x, name: name)
            #expect(try Self.subject(Nova.notification(eventType: "instance.create.start", payload: versioned, uid: "n3")) == Nova.x)
        }
        let exception = Nova.instance(Nova.x, name: "ExceptionPayload")
        #expect(try Self.subject(Nova.notification(eventType: "compute.exception", payload: exception, uid: "n4")) == nil)
        #expect(try Self.subject(Nova.notification(eventType: "x", payload: #""text""#, uid: "n5")) == nil)
    }

    @Test("args is read on requests only, payload on notifications only")
    func placeMatters() throws {
        let request = #"{"method": "m", "args": {}, "payload": {"instance_id": "\#(Nova.x)"}, "_unique_id": "u"}"#
        #expect(try Self.subject(request) == nil)
        let notification = #"{"event_type": "e", "message_id": "n", "payload": {}, "args": \#(Nova.about(Nova.x))}"#
        #expect(try Self.subject(notification) == nil)
    }

    @Test("every other member of args is still checked as JSON: a broken sibling fails the message as before")
    func brokenSibling() throws {
        let inner = #"{"method": "m", "args": {"instance": \#(Nova.instance(Nova.x)), "image": {"id": tru}}, "_unique_id": "u"}"#
        #expect(throws: OsloDecodingError.self) { try OsloDecoder.decode(OsloBody.envelope(inner)) }
    }
}

/// Concurrent handlers of one request (nova multi-create): the publish's subject picks its own instance's handler;
/// between equals about different instances nothing is guessed.
@Suite("Subject-aware cause inference")
struct SubjectCauseTests {
    /// The conductor handles `schedule_and_build_instances` (no single subject) and casts one build per instance to
    /// compute-1, which runs both at once: two open handlers of one request and service.
    static func multiCreate() -> (bus: Bus, conductorHandler: SpanID, build: [String: SpanID]) {
        var bus = Bus()
        let schedule = Nova.request(method: "schedule_and_build_instances", uid: "s1", args: #"{"build_requests": []}"#)
        bus.publish(schedule, routingKey: "conductor")
        let conductor = bus.deliver(schedule, queue: "conductor").first { $0.kind == .consumer }!.spanID
        var build: [String: SpanID] = [:]
        for (index, uuid) in [Nova.x, Nova.y].enumerated() {
            let cast = Nova.request(method: "build_and_run_instance", uid: "b\(index)", args: Nova.about(uuid))
            bus.publish(cast, routingKey: "compute.compute-1")
            build[uuid] = bus.deliver(cast, queue: "compute.compute-1").first { $0.kind == .consumer }!.spanID
        }
        return (bus, conductor, build)
    }

    @Test("a publish about X hangs under X's handler, not the latest one")
    func subjectPicksItsHandler() {
        var (bus, _, build) = Self.multiCreate()
        // Y's build was delivered last: today's rule alone would pick it.
        let spans = bus.publish(
            Nova.request(method: "object_action", uid: "o1", args: Nova.about(Nova.x, key: "objinst"), msgID: "m1",
                         replyQueue: "reply_c1"),
            routingKey: "conductor")
        #expect(spans.isEmpty, "a call's publish is its CLIENT span, which ends with the call")
        let notification = bus.publish(
            Nova.notification(eventType: "instance.create.start", payload: Nova.instance(Nova.y, name: "InstanceCreatePayload"), uid: "n1"),
            routingKey: "versioned_notifications.info")
        #expect(notification.first { $0.kind == .producer }?.parentSpanID == build[Nova.y])
        let producer = bus.client(msgID: "m1")
        #expect(producer.parentSpanID == build[Nova.x])
        #expect(producer.resource.service == "nova-compute")
        #expect(producer[attribute: AttributeKey.openstackInstanceID] == .string(Nova.x))
        #expect(producer[attribute: AttributeKey.traceBridgeCause] == nil)
        #expect(bus.synthesizer.counters.causeAmbiguous == 0)
    }

    @Test("without a subject, between open handlers about different instances: ambiguous, on the common ancestor")
    func ambiguousBetweenEquals() {
        var (bus, conductor, _) = Self.multiCreate()
        let call = Nova.request(
            method: "object_class_action_versions", uid: "o2", args: #"{"objname": "BlockDeviceMappingList"}"#,
            msgID: "m2", replyQueue: "reply_c1")
        bus.publish(call, routingKey: "conductor", expiration: "60000")
        #expect(bus.synthesizer.counters.causeAmbiguous == 1)
        bus.deliver(call, queue: "conductor")
        bus.publish(Bus.reply(msgID: "m2", uid: "r2"), exchange: "", routingKey: "reply_c1")
        let client = bus.deliver(Bus.reply(msgID: "m2", uid: "r2"), queue: "reply_c1", exchange: "").first { $0.kind == .client }!
        #expect(client.parentSpanID == conductor, "the conductor's handler is an ancestor of both builds")
        #expect(client[attribute: AttributeKey.traceBridgeCause] == .string("ambiguous"))
        #expect(client[attribute: AttributeKey.openstackInstanceID] == nil)
        #expect(bus.only(.server).allSatisfy { $0[attribute: AttributeKey.traceBridgeCause] == nil })
    }

    @Test("ambiguous without a known ancestor: the request's root, in the request's trace")
    func ambiguousAtTheRoot() {
        var bus = Bus()
        for (index, uuid) in [Nova.x, Nova.y].enumerated() {
            // Deliveries whose publishes were not seen (a hypervisor agent): no cause is known for either build.
            bus.deliver(Nova.request(method: "build_and_run_instance", uid: "b\(index)", args: Nova.about(uuid)),
                        queue: "compute.compute-1")
        }
        let spans = bus.publish(
            Nova.request(method: "object_class_action_versions", uid: "o3", args: "{}"), routingKey: "conductor",
            connection: nil)
        let producer = spans.first { $0.kind == .producer }!
        #expect(producer.parentSpanID == nil)
        #expect(producer.traceID == TraceID(uuid: "req-3bad318e-eed4-4dc5-ba75-0a86405f8def"))
        #expect(producer[attribute: AttributeKey.traceBridgeCause] == .string("ambiguous"))
    }

    @Test("handlers about the same instance are not ambiguous: today's rule (the latest)")
    func sameSubjectIsTodaysRule() {
        var bus = Bus()
        var latest: SpanID?
        for index in 0..<2 {
            let cast = Nova.request(method: "reboot_instance", uid: "r\(index)", args: Nova.about(Nova.x))
            bus.publish(cast, routingKey: "compute.compute-1")
            latest = bus.deliver(cast, queue: "compute.compute-1").first { $0.kind == .consumer }!.spanID
        }
        let spans = bus.publish(Nova.request(method: "object_class_action_versions", uid: "o4", args: "{}"), routingKey: "conductor")
        #expect(spans.first { $0.kind == .producer }?.parentSpanID == latest)
        #expect(bus.synthesizer.counters.causeAmbiguous == 0)
    }

    @Test("a subject no handler has: the handler about no instance is preferred over one about another")
    func unrelatedHandlerPreferred() {
        var bus = Bus()
        let general = Nova.request(method: "refresh", uid: "g1", args: "{}")
        bus.publish(general, routingKey: "compute.compute-1")
        let generalHandler = bus.deliver(general, queue: "compute.compute-1").first { $0.kind == .consumer }!.spanID
        let other = Nova.request(method: "reboot_instance", uid: "r1", args: Nova.about(Nova.y))
        bus.publish(other, routingKey: "compute.compute-1")
        bus.deliver(other, queue: "compute.compute-1")
        let spans = bus.publish(
            Nova.request(method: "object_action", uid: "o5", args: Nova.about(Nova.x, key: "objinst")), routingKey: "conductor")
        #expect(spans.first { $0.kind == .producer }?.parentSpanID == generalHandler)
        #expect(bus.synthesizer.counters.causeAmbiguous == 0)
    }

    @Test("a blocked handler is not equal to an unblocked one: no ambiguity when only one can publish")
    func blockedIsNotEqual() {
        var (bus, _, build) = Self.multiCreate()
        // Y's build waits on a call of its own...
        bus.publish(
            Nova.request(method: "object_action", uid: "o6", args: Nova.about(Nova.y, key: "objinst"), msgID: "m6",
                         replyQueue: "reply_c1"),
            routingKey: "conductor", expiration: "60000")
        // ...so a publish without a subject can only be X's.
        let spans = bus.publish(Nova.request(method: "object_class_action_versions", uid: "o7", args: "{}"), routingKey: "conductor")
        #expect(spans.first { $0.kind == .producer }?.parentSpanID == build[Nova.x])
        #expect(bus.synthesizer.counters.causeAmbiguous == 0)
    }

    @Test("sender attribution: on two hosts, the host whose handler is about the subject sent it")
    func senderBySubject() {
        var bus = Bus()
        var build: [String: SpanID] = [:]
        for (uuid, host) in [(Nova.x, "compute-1"), (Nova.y, "compute-2")] {
            let cast = Nova.request(method: "build_and_run_instance", uid: "b-\(host)", args: Nova.about(uuid))
            bus.publish(cast, routingKey: "compute.\(host)")
            build[uuid] = bus.deliver(cast, queue: "compute.\(host)").first { $0.kind == .consumer }!.spanID
        }
        let spans = bus.publish(
            Nova.request(method: "object_action", uid: "o8", args: Nova.about(Nova.x, key: "objinst")), routingKey: "conductor")
        let producer = spans.first { $0.kind == .producer }!
        #expect(producer.resource == ServiceIdentity(service: "nova-compute", host: "compute-1"))
        #expect(producer.parentSpanID == build[Nova.x])
    }

    @Test("the subject is on every span of the message that carries it")
    func attributeOnEverySpan() {
        var bus = Bus()
        let call = Nova.request(method: "get_console_output", uid: "c1", args: Nova.about(Nova.x), msgID: "m9", replyQueue: "reply_a")
        bus.publish(call, routingKey: "compute.compute-1", expiration: "60000")
        bus.deliver(call, queue: "compute.compute-1")
        bus.publish(Bus.reply(msgID: "m9", uid: "r9"), exchange: "", routingKey: "reply_a")
        bus.deliver(Bus.reply(msgID: "m9", uid: "r9"), queue: "reply_a", exchange: "")
        #expect(Set(bus.spans.map(\.kind)) == [.server, .client])
        #expect(bus.spans.allSatisfy { $0[attribute: AttributeKey.openstackInstanceID] == .string(Nova.x) })
    }
}
