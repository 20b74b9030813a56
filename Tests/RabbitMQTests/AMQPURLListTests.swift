import Testing

@testable import RabbitMQ

/// Several broker addresses for failover, as oslo.messaging's `transport_url` writes them.
@Suite("AMQP URL lists (failover addresses)")
struct AMQPURLListTests {
    @Test("oslo.messaging's syntax: hosts separated by commas share the scheme and the vhost")
    func osloSyntax() throws {
        let urls = try AMQPURL.list("amqp://tracer:s%40cret@rabbit-1:5672,tracer:s%40cret@rabbit-2:5673,tracer:s%40cret@[::1]/nova")
        #expect(urls == [
            AMQPURL(host: "rabbit-1", port: 5672, user: "tracer", password: "s@cret", vhost: "nova"),
            AMQPURL(host: "rabbit-2", port: 5673, user: "tracer", password: "s@cret", vhost: "nova"),
            AMQPURL(host: "::1", port: 5672, user: "tracer", password: "s@cret", vhost: "nova"),
        ])
        // A transport_url pasted as is (rabbit://), TLS kept for every host.
        #expect(try AMQPURL.list("rabbit://u:p@h1,u:p@h2/").map(\.tls) == [false, false])
        #expect(try AMQPURL.list("amqps://u:p@h1,u:p@h2/").map(\.port) == [5671, 5671])
    }

    @Test("whole URLs separated by commas (the repeated --amqp-url flag), each with its own vhost and credentials")
    func wholeURLs() throws {
        let urls = try AMQPURL.list("amqp://a:1@h1:5692/,amqp://b:2@h2:5693/x, amqp://h3")
        #expect(urls.map(\.host) == ["h1", "h2", "h3"])
        #expect(urls.map(\.user) == ["a", "b", "guest"])
        #expect(urls.map(\.vhost) == ["/", "x", "/"])
        #expect(try AMQPURL.list("amqp://u:p@h1:5672/") == [try AMQPURL("amqp://u:p@h1:5672/")])
    }

    @Test("a host without credentials takes those of the first host of its URL that has them")
    func inheritedCredentials() throws {
        let urls = try AMQPURL.list("amqp://tracer:pw@h1,h2:5673/")
        #expect(urls.map(\.user) == ["tracer", "tracer"] && urls.map(\.password) == ["pw", "pw"])
        #expect(urls[1].port == 5673)
    }

    @Test("rejects bad lists, saying what is wrong, never showing a password", arguments: [
        ("amqp://u:hunter2@h1,,u:hunter2@h2/", "an empty address"),
        ("u:hunter2@h1,amqp://h2/", "no scheme"),
        ("amqp://u:hunter2@h1/v,u:hunter2@h2/v", "only the last host"),
        ("amqp://u:hunter2@h1,u:hunter2@h2:99999/", "bad port"),
        ("amqp://u:hunter2@h1/?ssl=1", "query options"),
        ("http://u:hunter2@h1/", "scheme"),
    ])
    func rejects(text: String, reason: String) {
        do {
            let urls = try AMQPURL.list(text)
            Issue.record("\(text) was accepted: \(urls)")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
            #expect(error.description.contains("expected amqp://USER:PASS@HOST1:5672,USER:PASS@HOST2:5672/VHOST"))
            #expect(!error.description.contains("hunter2"), "\(error.description)")
        }
    }

    @Test("maskList hides every password of a list")
    func masksEveryPassword() {
        #expect(AMQPURL.maskList("amqp://u:p1@h1:5672,v:p2@h2/x") == "amqp://u:****@h1:5672,v:****@h2/x")
        #expect(AMQPURL.maskList("amqp://h1,h2/") == "amqp://h1,h2/")
    }
}

@Suite("Cluster failures explained")
struct ClusterAdviceTests {
    @Test("a durable classic queue whose home node is down: a hint that names the cause and the quorum queue type")
    func homeNodeDown() {
        // RabbitMQ 3.10.8's exact reply to queue.declare through node 2 while node 1, the queue's home, is down.
        let error = AMQPError(
            code: .channelClosed, replyCode: 404,
            replyText: "NOT_FOUND - home node 'tb-cluster-1@localhost' of durable queue 'trace-bridge.firehose' in vhost '/' is down or inaccessible",
            operation: "queue.declare trace-bridge.firehose")
        #expect(error.isQueueHomeNodeDown)
        #expect(error.clusterAdvice?.contains("--queue-type quorum") == true)
        let otherNotFound = AMQPError(code: .channelClosed, replyCode: 404, replyText: "NOT_FOUND - no exchange 'nova'",
                                      operation: "queue.bind")
        #expect(otherNotFound.clusterAdvice == nil)
    }
}
