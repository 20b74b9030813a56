import Crypto
import Testing

@testable import TraceCore
import TestSupport

@Suite("Deterministic span IDs (the contract between agents)")
struct SpanIDSchemeTests {
    @Test("span ID is the first 8 bytes of SHA-256(role 0x1F identity [0x1F queue])")
    func matchesDocumentedHash() {
        let identity = "cf5bec65564447b6afef6aafd63bbe09"
        let expected = Array(SHA256.hash(data: Array("receive\u{1F}\(identity)\u{1F}conductor".utf8))).prefix(8)
        #expect(SpanIDScheme.spanID(role: .receive, identity: identity, queue: "conductor").bytes == Array(expected))
        let send = Array(SHA256.hash(data: Array("send\u{1F}\(identity)".utf8))).prefix(8)
        #expect(SpanIDScheme.spanID(role: .send, identity: identity).bytes == Array(send))
    }

    /// Golden values (computed independently with Python's hashlib): changing the scheme breaks linking between
    /// agents of different versions, so it must show.
    @Test("golden values stay stable")
    func golden() {
        #expect(SpanIDScheme.spanID(role: .send, identity: "cf5bec65564447b6afef6aafd63bbe09").hex == "05ec48ed87a00d76")
        #expect(SpanIDScheme.spanID(role: .receive, identity: "cf5bec65564447b6afef6aafd63bbe09", queue: "conductor").hex
            == "f2060e0638b4784c")
        // Scheme v2: a stream delivery adds the consumer's connection and channel (decimal).
        let consumer = SpanIDScheme.Consumer(connection: "127.0.0.1:53958 -> 127.0.0.1:5672", channel: 1)
        #expect(SpanIDScheme.spanID(role: .receive, identity: "cf5bec65564447b6afef6aafd63bbe09", queue: "scheduler_fanout",
                                    consumer: consumer).hex == "7371951ca1aa9b9e")
    }

    @Test("roles and queues give distinct IDs; the same input gives the same ID")
    func distinct() {
        let ids = [
            SpanIDScheme.spanID(role: .send, identity: "u"), SpanIDScheme.spanID(role: .receive, identity: "u", queue: "a"),
            SpanIDScheme.spanID(role: .receive, identity: "u", queue: "b"), SpanIDScheme.spanID(role: .call, identity: "u"),
            SpanIDScheme.spanID(role: .process, identity: "u", queue: "a"),
        ]
        #expect(Set(ids).count == ids.count)
        #expect(SpanIDScheme.spanID(role: .call, identity: "u") == SpanIDScheme.spanID(role: .call, identity: "u"))
    }

    @Test("request IDs become trace IDs by their UUID bytes")
    func requestTrace() {
        #expect(TraceID(uuid: "req-695a397c-6238-483b-bed6-eb95afd0eac8")?.hex == "695a397c6238483bbed6eb95afd0eac8")
        #expect(TraceID(uuid: "F763B4AA-124E-4B33-97A8-16B4254B3A85")?.hex == "f763b4aa124e4b3397a816b4254b3a85")
        #expect(TraceID(uuid: "req-not-a-uuid") == nil)
        #expect(TraceID(uuid: "695a397c6238483bbed6eb95afd0eac8ff") == nil)
    }
}
