import Testing

@testable import RabbitMQ

@Suite("AMQP URLs and source topology")
struct AMQPURLTests {
    @Test("parses user, password, host, port and vhost, percent-decoded")
    func parses() throws {
        let url = try AMQPURL("amqp://tracer:s%40cret@rabbit-1:5682/%2Fnova")
        #expect(url == AMQPURL(host: "rabbit-1", port: 5682, user: "tracer", password: "s@cret", vhost: "/nova"))
        #expect(try AMQPURL("amqps://u:p@[::1]/") == AMQPURL(tls: true, host: "::1", port: 5671, user: "u", password: "p"))
        #expect(try AMQPURL("amqp://localhost").vhost == "/")
        #expect(try AMQPURL("amqp://localhost/prod").vhost == "prod")
    }

    @Test("the password never appears when a URL is printed")
    func masks() throws {
        let url = try AMQPURL("amqp://tracer:hunter2@rabbit-1:5672/")
        #expect("\(url)" == "amqp://tracer:****@rabbit-1:5672/")
        #expect(AMQPURL.mask("amqp://tracer:hunter2@rabbit-1/") == "amqp://tracer:****@rabbit-1/")
        do {
            _ = try AMQPURL("amqp://tracer:hunter2@rabbit-1:99999/")
            Issue.record("a bad port was accepted")
        } catch {
            #expect(!error.description.contains("hunter2"))
            #expect(error.description.contains("bad port"))
        }
    }

    @Test("rejects what is not an AMQP URL, saying what is expected", arguments: [
        "http://rabbit-1/", "rabbit-1:5672", "amqp://", "amqp://host:port/", "amqp://u:p%zz@host/",
    ])
    func rejects(text: String) {
        do {
            _ = try AMQPURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains("expected amqp://USER:PASS@HOST:5672/VHOST"))
        }
    }

    @Test("roles bind what they need and nothing more")
    func roles() {
        #expect(Role.controlPlane.firehoseBindings.map(\.routingKey) == ["publish.#", "deliver.#"])
        #expect(Role.hypervisor(host: "compute-17").firehoseBindings == [
            QueueBinding(exchange: "amq.rabbitmq.trace", routingKey: "deliver.compute.compute-17"),
        ])
        #expect(QueueBinding(parsing: "amq.rabbitmq.trace:publish.nova") == QueueBinding(exchange: "amq.rabbitmq.trace", routingKey: "publish.nova"))
        #expect(QueueBinding(parsing: "no-colon") == nil)
        let tap = SourceTopology.tap(exchanges: ["nova", "scheduler_fanout"], queue: QueueSettings(name: "t"))
        #expect(tap.mode == .tap && tap.bindings.allSatisfy { $0.routingKey == "#" })
    }

    @Test("our queue is bounded by default: 100000 messages, drop-head, 10 minutes")
    func queueBounds() {
        let queue = QueueSettings(name: "trace-bridge.firehose")
        #expect(queue.maxLength == 100_000 && queue.overflow == "drop-head" && queue.messageTTLMilliseconds == 600_000)
        #expect(queue.durable && queue.type == .classic)
    }

    @Test("reconnect backoff grows, is jittered, and never exceeds its maximum")
    func backoff() {
        let policy = ReconnectPolicy()
        for attempt in 1...20 {
            let delay = policy.delay(attempt: attempt)
            #expect(delay <= .seconds(4) && delay >= .milliseconds(250))
        }
        #expect(policy.delay(attempt: 1) <= .milliseconds(500))
    }
}
