import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Neutron on the bus (issue 15 §2): the default service map follows neutron's own topic constants, legacy
/// `network.<host>` publishers are neutron-server, and an agent's one long-lived request ID makes bounded traces.
/// p_neutron (tools/scenario/capture_neutron.sh) is scored operation by operation in GroundTruthTests.
@Suite("Neutron: topics, publishers, long-lived request IDs")
struct NeutronTests {
    /// neutron_lib/agent/topics.py (neutron-lib 5.0.1) and the notifier modules of neutron 29.0.0, as they name them.
    static let topics: [(topic: String, service: String)] = [
        ("q-plugin", "neutron-server"), ("q-reports-plugin", "neutron-server"), ("q-l3-plugin", "neutron-server"),
        ("q-server-resource-versions", "neutron-server"), ("q-metering-plugin", "neutron-server"),
        ("dhcp_agent", "neutron-dhcp-agent"), ("l3_agent", "neutron-l3-agent"),
        ("metering_agent", "neutron-metering-agent"),
        // get_topic_name(AGENT, resource, event): ML2's AgentNotifierApi, the SG, DVR and tunnel mixins, l2pop.
        ("q-agent-notifier-port-update", "neutron-openvswitch-agent"),
        ("q-agent-notifier-port-delete", "neutron-openvswitch-agent"),
        ("q-agent-notifier-network-update", "neutron-openvswitch-agent"),
        ("q-agent-notifier-network-delete", "neutron-openvswitch-agent"),
        ("q-agent-notifier-port_binding-activate", "neutron-openvswitch-agent"),
        ("q-agent-notifier-port_binding-deactivate", "neutron-openvswitch-agent"),
        ("q-agent-notifier-security_group-update", "neutron-openvswitch-agent"),
        ("q-agent-notifier-dvr-update", "neutron-openvswitch-agent"),
        ("q-agent-notifier-tunnel-update", "neutron-openvswitch-agent"),
        ("q-agent-notifier-tunnel-delete", "neutron-openvswitch-agent"),
        ("q-agent-notifier-l2population-update", "neutron-openvswitch-agent"),
        // RESOURCE_TOPIC_PATTERN "neutron-vo-%(resource_type)s-%(version)s" (resources_rpc push)
        ("neutron-vo-Port-1.10", "neutron-openvswitch-agent"),
    ]

    @Test("every neutron topic constant has its service and neutron-server as the API side", arguments: topics.map(\.topic))
    func topicDefaults(topic: String) {
        let map = ServiceMap.openStackDefaults
        let service = Self.topics.first { $0.topic == topic }!.service
        #expect(map.service(of: map.target(ofQueue: topic))?.service == service)
        // `<topic>.<host>` names the host (a resources-push topic has a dot of its own, `-1.10`: only fanned out
        // to, so its `<topic>.<host>` queue never gets a delivery); the fanout exchange and its queues name the topic.
        if !topic.contains(".") {
            #expect(map.service(of: map.target(ofQueue: "\(topic).compute-2")) == ServiceIdentity(service: service, host: "compute-2"))
        }
        #expect(map.service(of: map.target(ofQueue: "\(topic)_fanout_0123456789abcdef0123456789abcdef"))?.service == service)
        #expect(map.apiService(exchange: "\(topic)_fanout", topic: map.target(exchange: "\(topic)_fanout", routingKey: "").topic) == "neutron-server")
        #expect(map.isKnownService(service))
    }

    @Test("a topic of no project stays unknown; an exact --service-map entry beats the family")
    func familiesDoNotGuess() {
        var map = ServiceMap.openStackDefaults
        #expect(map.service(of: map.target(ofQueue: "q-agent-notifier")) == nil)
        #expect(map.service(of: map.target(ofQueue: "q-agents-notifier-port-update")) == nil)
        map.topics["q-agent-notifier-port-update"] = ServiceMap.Entry(service: "neutron-sriov-nic-agent", apiService: "neutron-server")
        #expect(map.service(of: map.target(ofQueue: "q-agent-notifier-port-update"))?.service == "neutron-sriov-nic-agent")
        #expect(map.service(of: map.target(ofQueue: "q-agent-notifier-port-delete"))?.service == "neutron-openvswitch-agent")
    }

    @Test("legacy publisher IDs: network.<host> and router.<host> are neutron-server, compute.<host> nova-compute",
          arguments: [
              ("network.ctl-1", ServiceIdentity(service: "neutron-server", host: "ctl-1")),
              ("router.ctl-2", ServiceIdentity(service: "neutron-server", host: "ctl-2")),
              ("metering.net-1", ServiceIdentity(service: "neutron-metering-agent", host: "net-1")),
              ("compute.compute-1", ServiceIdentity(service: "nova-compute", host: "compute-1")),
              ("neutron-server:ctl-1", ServiceIdentity(service: "neutron-server", host: "ctl-1")),
              ("something.else", ServiceIdentity(service: "something", host: "else")),
          ])
    func publishers(publisherID: String, expected: ServiceIdentity) {
        #expect(ServiceMap.openStackDefaults.publisher(publisherID) == expected)
    }

    /// The agents' request IDs, from the capture's truth.
    static func agentRequests() throws -> [String: String] {
        let truth = try Truth(fixture: "p_neutron")
        var requests: [String: String] = [:]
        guard case .object(let processes)? = truth.json["meta"]?["long_lived_contexts"] else { return [:] }
        for process in processes {
            guard case .object(let contexts) = process.value else { continue }
            for context in contexts { requests["\(process.key) \(context.key)"] = context.value.stringValue }
        }
        return requests
    }

    @Test("p_neutron: each root of an agent's request ID is a trace of its own, with one root span, and keeps the request ID")
    func agentRootsAreTraces() throws {
        let replay = try Replay(fixture: "p_neutron", options: GroundTruthTests.options(for: "p_neutron"))
        let truth = try Truth(fixture: "p_neutron")
        let requests = try Self.agentRequests()
        #expect(requests.count == 4)  // two OVS agents, the DHCP agent, l2population in the server
        for (process, request) in requests {
            let spans = replay.spans.filter { $0[attribute: "openstack.request_id"] == .string(request) }
            let roots = truth.operations.filter { $0["request_id"]?.stringValue == request && $0["caused_by_unique_id"] == .null }
            let traces = Dictionary(grouping: spans, by: \.traceID)
            #expect(traces.count == roots.count, "\(process): \(traces.count) traces for \(roots.count) roots")
            for (trace, members) in traces {
                // One root operation: its PRODUCER, or a call's CLIENT.
                let roots = members.filter { $0.parentSpanID == nil }
                #expect(roots.count == 1 && [.producer, .client].contains(roots.first?.kind), "\(process): trace \(trace.hex) has one root")
            }
        }
    }

    /// One agent's report_state loop, as the capture has it (a cast to q-reports-plugin and its delivery), repeated
    /// `count` times 30 s apart under the agent's one request ID, each with its own `_unique_id`.
    static func reportStateLoop(count: Int) throws -> (records: [BusMessage], requestID: String) {
        let truth = try Truth(fixture: "p_neutron")
        guard let cast = truth.operations.first(where: {
            $0["method"]?.stringValue == "report_state" && $0["kind"]?.stringValue == "cast"
        }), let uid = cast["unique_id"]?.stringValue, let requestID = cast["request_id"]?.stringValue
        else { throw CocoaError(.fileReadCorruptFile) }
        var templates: [BusMessage] = []
        var splitter = LineSplitter()
        splitter.feed(try Repository.bytes(Repository.fixture("p_neutron.jsonl"))) { line, number in
            if let record = try? BusMessage(line: line, lineNumber: number),
                String(decoding: record.body, as: UTF8.self).contains(uid)
            {
                templates.append(record)
            }
        }
        #expect(templates.count == 2)  // publish + deliver
        let start = templates[0].capturedAt
        var records: [BusMessage] = []
        for index in 0..<count {
            let fresh = String(format: "%032x", index + 1)
            for template in templates {
                var record = template
                record.body = Array(String(decoding: template.body, as: UTF8.self).replacingOccurrences(of: uid, with: fresh).utf8)
                record.capturedAt = start + Int64(index) * 30_000_000_000 + (template.capturedAt - start)
                record.seq = Int64(records.count + 1)
                records.append(record)
            }
        }
        return (records, requestID)
    }

    @Test("a report_state loop makes one small trace per report, and the request holds a bounded set of handlers")
    func reportStateLoopIsBounded() throws {
        let count = 2_000  // 16.7 hours of one agent's reports
        let (records, requestID) = try Self.reportStateLoop(count: count)
        var options = SynthesisOptions()
        options.correlationMaximumAge = 24 * 3600 * 1_000_000_000  // keep everything: only the handler bound acts
        let replay = Replay(records: records, options: options)
        let traces = Dictionary(grouping: replay.spans, by: \.traceID)
        #expect(traces.count == count)
        #expect(traces.values.allSatisfy { $0.count == 2 })  // PRODUCER + CONSUMER
        #expect(replay.spans.allSatisfy { $0[attribute: "openstack.request_id"] == .string(requestID) })
        let held = replay.pipeline.synthesizer.handlersHeld(forRequest: requestID)
        #expect(held == SpanSynthesizer.RequestRecord.maximumHandlers)
        #expect(replay.pipeline.synthesizer.counters.evictions["handlers"] == count - held)
        report("report_state loop: \(count) reports -> \(traces.count) traces of \(replay.spans.count / traces.count) spans; \(held) handlers held for the request")
    }

    @Test("the neutron capture's secrets (the API's auth token) reach no output")
    func secretsStayIn() throws {
        var bodies = 0
        var splitter = LineSplitter()
        splitter.feed(try Repository.bytes(Repository.fixture("p_neutron.jsonl"))) { line, number in
            if let record = try? BusMessage(line: line, lineNumber: number),
                String(decoding: record.body, as: UTF8.self).contains("scenario-token-not-secret")
            {
                bodies += 1
            }
        }
        #expect(bodies > 10)  // the token is really in the input (the API's publishes and their deliveries)
        try SecretsTests().assertNothingLeaks(
            input: Repository.fixture("p_neutron.jsonl"), secrets: SecretsTests.capturedSecrets + ["scenario-token-not-secret"])
    }
}
