import Testing

@testable import TraceCore
import TestSupport

@Suite("W3C traceparent and tracestate")
struct TraceParentTests {
    @Test("accepts any flags byte, including oslo.messaging's -03")
    func acceptsFlags() throws {
        let parsed = try #require(TraceParent("00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-03"))
        #expect(parsed.traceID.hex == "0424ecbc6e3d4ce5b95b09756eb2f7e9")
        #expect(parsed.parentID.hex == "ac1a54d975733260")
        #expect(parsed.flags == 3)
        #expect(parsed.headerValue == "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-03")
    }

    @Test("a future version may carry more fields")
    func futureVersion() {
        #expect(TraceParent("01-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01-whatever") != nil)
    }

    @Test("rejects malformed values", arguments: [
        "", "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260",  // no flags
        "00-0424ECBC6E3D4CE5B95B09756EB2F7E9-ac1a54d975733260-01",  // upper case
        "00-00000000000000000000000000000000-ac1a54d975733260-01",  // zero trace
        "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-0000000000000000-01",  // zero parent
        "ff-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01",  // version ff
        "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01-x",  // version 00 with more
        "00_0424ecbc6e3d4ce5b95b09756eb2f7e9_ac1a54d975733260_01",
        "00-0424ecbc6e3d4ce5b95b09756eb2f7eg-ac1a54d975733260-01",
        "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-0" + String(repeating: "1", count: 600),
    ])
    func rejects(text: String) {
        #expect(TraceParent(text) == nil)
    }

    @Test("tracestate validation", arguments: [
        ("peer=harness,rojo=00f067aa0ba902b7", true), ("congo=t61rcWkgMzE", true), ("a@b=1, c=2", true),
        ("", true), ("Upper=1", false), ("novalue", false), ("k=v,=x", false),
        (String(repeating: "k=v,", count: 40), false), (String(repeating: "x", count: 600), false),
    ])
    func traceState(text: String, valid: Bool) {
        #expect(TraceState.isValid(text) == valid)
    }
}
