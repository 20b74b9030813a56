import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Span attributes come from an allow-list: nothing sensitive of an oslo context may reach any output.
@Suite("Secrets never leave")
struct SecretsTests {
    /// Values that appear in the shipped captures and must never appear in output.
    static let capturedSecrets = [
        "gAAAAABpEERtoken",  // _context_auth_token (Keystone token)
        "SECRET_KEY",  // _context_trace_info.hmac_key (osprofiler)
        "192.0.2.10:9292", "cloud.example.com",  // _context_service_catalog endpoints
        "Traceback (most recent",  // failure tb
    ]

    static let canaries = [
        "CANARY-AUTH-7f3a", "CANARY-CATALOG-URL", "CANARY-HMAC-KEY", "CANARY-PW-2b9", "CANARY-USER-NAME",
        "203.0.113.77", "CANARY-TB-PATH", "CANARY-PROJECT-NAME", "CANARY-IDENTITY",
    ] + besideTheSubject

    /// Planted right beside the one value read from `args` and `payload` (the instance UUID, `MessageSubject`):
    /// siblings in `nova_object.data` and in the object, a UUID-shaped sibling and a nested `uuid`, and siblings in
    /// legacy and versioned notification payloads.
    static let besideTheSubject = [
        "CANARY-INSTANCE-NAME", "CANARY-USER-DATA", "CANARY-KEY-DATA", "CANARY-OBJ-CHANGES",
        "ca4a1e55-0000-4000-8000-00000000beef", "ca4a1e55-0000-4000-8000-00000000f1a5", "CANARY-PAYLOAD-NAME",
    ]

    @Test("no secret of any capture appears in tree, OTLP/JSON, OTLP protobuf output or the summary",
          arguments: GroundTruthTests.fixtures)
    func capturedSecretsStayIn(fixture: String) throws {
        try assertNothingLeaks(input: Repository.fixture("\(fixture).jsonl"), secrets: Self.capturedSecrets)
    }

    @Test("canaries planted in every sensitive place of real messages stay in")
    func canariesStayIn() throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("tb-canary-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: input) }
        var out = Data()
        var splitter = LineSplitter()
        var planted = 0
        splitter.feed(try Repository.bytes(Repository.fixture("b_failure.jsonl"))) { line, number in
            var record = try! BusMessage(line: line, lineNumber: number)
            record.body = Self.plantCanaries(in: record.body, planted: &planted)
            out.append(contentsOf: record.jsonLine() + [0x0A])
        }
        #expect(planted > 10)
        try out.write(to: input)
        // The canaries are really in the input bodies...
        var bodies = ""
        var reader = LineSplitter()
        reader.feed(try Repository.bytes(input)) { line, number in
            bodies += String(decoding: (try? BusMessage(line: line, lineNumber: number))?.body ?? [], as: UTF8.self)
        }
        for canary in Self.canaries { #expect(bodies.contains(canary), "\(canary) was not planted") }
        // ...and the spans are still produced, but no canary is in any output.
        let replay = Replay(bytes: [UInt8](try Data(contentsOf: input)))
        #expect(replay.spans.count == 14)  // b_failure: 3 calls (CLIENT + SERVER), 8 other publishes and deliveries
        try assertNothingLeaks(input: input, secrets: Self.canaries)
    }

    func assertNothingLeaks(input: URL, secrets: [String]) throws {
        for format in ["tree", "otlp-json", "otlp-proto"] {
            let result = try CLI.run(["replay", input.path, "--format", format, "--color", "always"])
            #expect(result.status == 0, "\(result.stderr)")
            for secret in secrets {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(secret) leaked into \(format) output")
            }
            #expect(!result.stdout.isEmpty)
        }
    }

    /// Rewrites a real oslo.messaging body with canaries in the context, args, trace_info and failure.
    static func plantCanaries(in body: [UInt8], planted: inout Int) -> [UInt8] {
        guard var outer = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let innerText = outer["oslo.message"] as? String,
            var inner = try? JSONSerialization.jsonObject(with: Data(innerText.utf8)) as? [String: Any]
        else { return body }
        if inner["_context_auth_token"] != nil || inner["method"] != nil || inner["event_type"] != nil {
            inner["_context_auth_token"] = "CANARY-AUTH-7f3a"
            inner["_context_service_catalog"] = [["type": "compute", "endpoints": [["url": "https://CANARY-CATALOG-URL/v2.1"]]]]
            inner["_context_trace_info"] = ["hmac_key": "CANARY-HMAC-KEY", "base_id": "f763b4aa-124e-4b33-97a8-16b4254b3a85",
                                            "parent_id": "a76d8b0e-3123-424b-bdb8-bee037e24947"]
            inner["_context_user_name"] = "CANARY-USER-NAME"
            inner["_context_project_name"] = "CANARY-PROJECT-NAME"
            inner["_context_user_identity"] = "CANARY-IDENTITY"
            inner["_context_remote_address"] = "203.0.113.77"
            if var args = inner["args"] as? [String: Any] {
                args["admin_password"] = "CANARY-PW-2b9"
                for (name, value) in args {
                    if let object = value as? [String: Any], object["nova_object.data"] != nil {
                        args[name] = plantBeside(object)
                    }
                }
                inner["args"] = args
            }
            if var payload = inner["payload"] as? [String: Any] {
                if let data = payload["nova_object.data"] as? [String: Any] {
                    var data = data
                    data["display_name"] = "CANARY-PAYLOAD-NAME"
                    payload["nova_object.data"] = data
                } else {
                    payload["display_name"] = "CANARY-PAYLOAD-NAME"
                }
                inner["payload"] = payload
            }
            planted += 1
        }
        if inner["failure"] is String {
            inner["failure"] = #"{"class": "InstanceNotFound", "module": "nova.exception", "message": "gone", "tb": ["File CANARY-TB-PATH"], "args": ["CANARY-PW-2b9"], "kwargs": {"password": "CANARY-PW-2b9"}}"#
            planted += 1
        }
        outer["oslo.message"] = String(decoding: try! JSONSerialization.data(withJSONObject: inner), as: UTF8.self)
        return [UInt8](try! JSONSerialization.data(withJSONObject: outer))
    }

    /// A versioned object of `args` with canaries beside its `uuid`.
    static func plantBeside(_ object: [String: Any]) -> [String: Any] {
        var object = object
        var data = object["nova_object.data"] as? [String: Any] ?? [:]
        data["display_name"] = "CANARY-INSTANCE-NAME"
        data["user_data"] = "CANARY-USER-DATA"
        data["key_data"] = "CANARY-KEY-DATA"
        data["image_ref"] = "ca4a1e55-0000-4000-8000-00000000beef"
        data["flavor"] = ["nova_object.name": "Flavor", "nova_object.data": ["uuid": "ca4a1e55-0000-4000-8000-00000000f1a5"]]
        object["nova_object.data"] = data
        object["nova_object.changes"] = ["CANARY-OBJ-CHANGES"]
        return object
    }

    @Test("canaries beside the instance UUID stay in while the UUID itself is exported", arguments: ["a_boot", "d_notify"])
    func canariesBesideTheSubject(fixture: String) throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("tb-subject-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: input) }
        var out = Data()
        var splitter = LineSplitter()
        var planted = 0
        var subjects = Set<String>()
        splitter.feed(try Repository.bytes(Repository.fixture("\(fixture).jsonl"))) { line, number in
            var record = try! BusMessage(line: line, lineNumber: number)
            record.body = Self.plantCanaries(in: record.body, planted: &planted)
            if let subject = try? OsloDecoder.decode(record.body).subject { subjects.insert(subject) }
            out.append(contentsOf: record.jsonLine() + [0x0A])
        }
        #expect(planted > 10 && !subjects.isEmpty)
        #expect(!subjects.contains { $0.hasPrefix("ca4a1e55") }, "only the allow-listed uuid is read")
        try out.write(to: input)
        try assertNothingLeaks(input: input, secrets: Self.canaries)
        let result = try CLI.run(["replay", input.path, "--format", "otlp-json"])
        for subject in subjects {
            #expect(result.stdout.contains(subject), "\(subject) is not exported as openstack.instance.id")
        }
        #expect(result.stdout.contains("openstack.instance.id"))
    }
}
