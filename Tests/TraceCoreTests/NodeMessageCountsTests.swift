import Testing
import TraceCore

@Suite("Trace messages per broker node")
struct NodeMessageCountsTests {
    func record(node: String?, mode: BusMessage.Mode = .firehose) -> BusMessage {
        BusMessage(seq: 1, capturedAt: 0, mode: mode, exchange: "amq.rabbitmq.trace", routingKey: "publish.nova",
                      headers: AMQPTable(node.map { [("node", AMQPValue.string($0))] } ?? []), body: [])
    }

    @Test("counts firehose messages by their node header; without one: unknown; tapped messages: not at all")
    func countsByNode() {
        var counts = NodeMessageCounts()
        for node in ["rabbit@n1", "rabbit@n2", "rabbit@n1", nil] { counts.count(record(node: node)) }
        counts.count(record(node: "rabbit@n3", mode: .tap))
        #expect(counts.counts == ["rabbit@n1": 2, "rabbit@n2": 1, "unknown": 1])
    }

    @Test("at most 32 node labels; later nodes share `other`, earlier ones keep counting")
    func boundedCardinality() {
        var counts = NodeMessageCounts()
        for n in 0..<40 { counts.count(node: "rabbit@n\(n)") }
        counts.count(node: "rabbit@n0")
        counts.count(node: "rabbit@n39")
        #expect(counts.counts.count == NodeMessageCounts.maximumNodes + 1)
        #expect(counts.counts["other"] == 9 && counts.counts["rabbit@n0"] == 2 && counts.counts["rabbit@n31"] == 1)
        #expect(counts.counts["rabbit@n32"] == nil)
    }
}
