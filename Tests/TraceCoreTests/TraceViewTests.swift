import Foundation
import Testing

@testable import TraceCore

/// The agent's trace view (/traces): the bounded store of recent traces and the HTML/JSON rendering.
@Suite("Trace view: recent traces, HTML and JSON")
struct TraceViewTests {
    static func span(trace: UInt64, id: UInt64, parent: UInt64? = nil, name: String = "op", start: Int64 = 0,
                     status: Span.Status = .unset) -> Span {
        Span(traceID: TraceID(high: 0, low: trace), spanID: SpanID(id), parentSpanID: parent.map(SpanID.init), name: name,
             kind: .consumer, startTime: start, endTime: start + 1_000, status: status,
             resource: ServiceIdentity(service: "nova-compute", host: "compute-1"))
    }

    @Test("bounded in traces (least recently updated leaves first) and in spans per trace (the rest counted)")
    func bounded() {
        var recent = RecentTraces(capacity: 2, maximumSpansPerTrace: 3)
        recent.add([Self.span(trace: 1, id: 1)], now: 1)
        recent.add([Self.span(trace: 2, id: 2)], now: 2)
        recent.add([Self.span(trace: 1, id: 3)], now: 3)  // trace 1 is now the most recent
        recent.add([Self.span(trace: 3, id: 4)], now: 4)  // trace 2 leaves
        #expect(recent.count == 2)
        #expect(recent.snapshot.map(\.layout.traceID.low) == [3, 1])
        recent.add((10..<15).map { Self.span(trace: 3, id: $0) }, now: 5)
        let three = recent.snapshot.first!
        #expect(three.layout.rows.count == 3 && three.omitted == 3, "3 kept, the other 3 counted")
    }

    @Test("HTML: parents before children, everything escaped, errors shown, no scripts or external assets")
    func html() {
        let spans = [
            Self.span(trace: 7, id: 1, name: "build_and_run_instance receive"),
            Self.span(trace: 7, id: 2, parent: 1, name: "<script>alert(1)</script>", start: 500,
                      status: .error("InstanceNotFound: <b>gone</b>")),
        ]
        let page = TraceWebRenderer().html([(TraceLayout(trace: spans), 0)], title: "t", generatedAt: "now")
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script"))
        #expect(page.contains("ERROR InstanceNotFound: &lt;b&gt;gone&lt;/b&gt;"))
        #expect(page.range(of: "build_and_run_instance receive")!.lowerBound < page.range(of: "&lt;script&gt;")!.lowerBound)
        #expect(!page.contains("http://") && !page.contains("https://"))
        #expect(TraceWebRenderer().html([], title: "t", generatedAt: "now").contains("No traces yet"))
    }

    @Test("JSON: the same traces, parsed back by Foundation")
    func json() throws {
        let spans = [Self.span(trace: 7, id: 1), Self.span(trace: 7, id: 2, parent: 1, start: 500, status: .error("x"))]
        let bytes = TraceWebRenderer().json([(TraceLayout(trace: spans), 4)])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let trace = try #require((object["traces"] as? [[String: Any]])?.first)
        #expect(trace["trace_id"] as? String == TraceID(high: 0, low: 7).hex && trace["omitted_spans"] as? Int == 4)
        let rendered = try #require(trace["spans"] as? [[String: Any]])
        #expect(rendered.map { $0["depth"] as? Int } == [0, 1])
        #expect(rendered[1]["parent_span_id"] as? String == SpanID(1).hex && rendered[1]["status"] as? String == "error")
    }
}
