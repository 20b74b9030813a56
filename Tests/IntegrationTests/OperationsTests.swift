import Foundation
import TestSupport
import Testing

extension LiveBrokerTests {
    /// The shipped control-plane configuration against the local broker and an independent OTLP receiver: the
    /// agent's own endpoints answer and reflect the real traffic it traced. Nested in the live suite (serialized).
    @Suite("Operating the agent: shipped config, /metrics, /healthz, /readyz, /traces, SIGTERM")
    struct Operations {
        /// Prometheus text → `name{labels}` → value.
        static func samples(_ text: String) -> [String: Double] {
            var out: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                out[String(line[..<space])] = value
            }
            return out
        }

        /// The agent's HTTP address, from its `http listening` log line (tests listen on port 0).
        static func httpBase(of agent: BackgroundProcess) throws -> String {
            var base = ""
            try waitUntil("the agent's HTTP listener", timeout: 30) {
                guard let line = agent.stderr.split(separator: "\n").first(where: { $0.contains("http listening") }),
                    let address = line.split(separator: " ").first(where: { $0.hasPrefix("address=") })
                else { return false }
                base = "http://" + address.dropFirst("address=".count)
                return true
            }
            return base
        }

        @Test("run --config deploy/kubernetes/control-plane/config.yaml: every endpoint reflects real traffic")
        func shippedConfigEndpoints() throws {
            let receiver = try Receiver()
            defer { receiver.stop() }
            let config = Repository.root.appendingPathComponent("deploy/kubernetes/control-plane/config.yaml")
            // The manifest's secret, endpoint and listen address differ on a test machine: the environment beats
            // the file, exactly as the manifests' own variables do.
            let agent = try BackgroundProcess(CLI.executable, ["run", "--config", config.path], environment: [
                "TRACE_BRIDGE_AMQP_URL": LiveBrokerTests.amqpURL,
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.grpcPort)",
                "TRACE_BRIDGE_HTTP_LISTEN": "127.0.0.1:0",
                "TRACE_BRIDGE_QUEUE_NAME": "tb-it-ops-\(UUID().uuidString.prefix(8))",
                "TRACE_BRIDGE_QUEUE_EXPIRES_SECONDS": "300",
                "TRACE_BRIDGE_EXPORT_DELAY_SECONDS": "0.5",
                "TRACE_BRIDGE_HEALTH_EXPORT_FAILURE_SECONDS": "1",
                "TRACE_BRIDGE_SHUTDOWN_GRACE_SECONDS": "2",
                // A secret in the exporter's headers, and every log level on: it must appear nowhere we serve or log.
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20canary-otlp-token-5521",
                "TRACE_BRIDGE_LOG_LEVEL": "trace",
            ])
            defer { agent.cleanUp() }
            var base = ""
            try waitUntil("the agent to connect and listen", timeout: 30) {
                guard agent.process.isRunning else { throw TestSetupError("the agent exited: \(agent.stderr)") }
                let lines = agent.stderr.split(separator: "\n")
                if let listening = lines.first(where: { $0.contains("\"msg\":\"http listening\"") }),
                    let json = try? JSONSerialization.jsonObject(with: Data(listening.utf8)) as? [String: String],
                    let address = json["address"]
                {
                    base = "http://\(address)"
                }
                return !base.isEmpty && lines.contains { $0.contains("\"msg\":\"connected\"") }
            }
            // The shipped config logs JSON: every line parses, with a level and a constant message.
            for line in agent.stderr.split(separator: "\n") {
                let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(json?["level"] is String && json?["msg"] is String && json?["ts"] is String, "not a JSON log line: \(line)")
            }
            #expect(agent.stderr.contains("amq.rabbitmq.trace:publish.#") && !agent.stderr.contains("deliver.#"),
                    "the shipped config's mode (publish-only) reached the agent")

            let truth = try LiveBrokerTests.runScenario()
            // The shipped config leaves compute.* deliveries to the hypervisor agents: an operation whose sender
            // traces itself (no PRODUCER of ours) and that went only to compute has no span here, by design.
            let traced = truth.operations.filter { op in
                !(op.traceParent != nil && op.deliveries.allSatisfy { $0.queue.hasPrefix("compute.") })
            }
            #expect(traced.count < truth.operations.count && traced.count > 5)
            try waitUntil("the receiver to get the spans of every operation", timeout: 30) {
                traced.allSatisfy { receiver.acceptedMessageIDs.contains($0.uniqueID) }
            }
            let health = try httpGet(base + "/healthz")
            #expect(health.status == 200 && health.body == "ok\n")
            let ready = try httpGet(base + "/readyz")
            #expect(ready.status == 200, "\(ready.body)")

            // /metrics: the counters are the traffic. Exports are counted once acknowledged by the receiver.
            var metrics: [String: Double] = [:]
            try waitUntil("the metrics to count every exported span", timeout: 15) {
                metrics = Self.samples(try httpGet(base + "/metrics").body)
                return Int(metrics["trace_bridge_spans_exported_total"] ?? 0) == receiver.acceptedSpanIDs.count
            }
            #expect(Int(metrics["trace_bridge_messages_consumed_total{source=\"firehose\",kind=\"publish\"}"] ?? -1) == truth.publishes)
            #expect(metrics["trace_bridge_messages_consumed_total{source=\"firehose\",kind=\"deliver\"}"] == nil,
                    "publish-only receives no deliveries")
            let synthesized = metrics.filter { $0.key.hasPrefix("trace_bridge_spans_synthesized_total") }.values.reduce(0, +)
            #expect(Int(synthesized) == receiver.acceptedSpanIDs.count, "every synthesized span was exported")
            // The bus's RED metrics (same tick as the counters): one call-duration sample per CLIENT span, one sent
            // message per PRODUCER span and per CLIENT span (a call's publish has no PRODUCER).
            func sum(_ prefix: String) -> Double { metrics.filter { $0.key.hasPrefix(prefix) }.values.reduce(0, +) }
            let calls = sum("rpc_client_call_duration_seconds_count{")
            #expect(calls > 0 && calls == metrics["trace_bridge_spans_synthesized_total{kind=\"CLIENT\"}"], "\(calls) call samples")
            #expect(sum("messaging_client_sent_messages_total{") == (metrics["trace_bridge_spans_synthesized_total{kind=\"PRODUCER\"}"] ?? 0) + calls)
            #expect(sum("trace_bridge_red_series_overflowed_total{") == 0)
            #expect(metrics["trace_bridge_broker_connected"] == 1)
            #expect((metrics["trace_bridge_export_duration_seconds_count{outcome=\"accepted\"}"] ?? 0) >= 1)
            #expect(metrics["trace_bridge_correlation_entries"] != nil && metrics["trace_bridge_prefetch_in_use"] != nil)
            // The names the dashboard is validated against (tools/agent_metric_names.py, read from the sources) cover
            // every series a real agent serves: a name the script misreads, or a registration it cannot see, fails here.
            let listed = try CLI.python([Repository.root.appendingPathComponent("tools/agent_metric_names.py").path])
            #expect(listed.status == 0, "\(listed.stderr)")
            let known = Set(listed.stdout.split(separator: "\n").map(String.init))
            let servedNames = Set(metrics.keys.map { String($0.prefix { $0 != "{" && $0 != " " }) })
            #expect(servedNames.count > 20 && servedNames.isSubset(of: known), "served but not listed: \(servedNames.subtracting(known).sorted())")

            // /traces and /traces.json: the traces the receiver got, as waterfalls.
            let json = try httpGet(base + "/traces.json")
            #expect(json.status == 200 && json.contentType.hasPrefix("application/json"))
            let traces = (try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any])?["traces"] as? [[String: Any]] ?? []
            let shownTraceIDs = Set(traces.compactMap { $0["trace_id"] as? String })
            let receivedTraceIDs = Set(receiver.records.flatMap { ($0["spans"] as? [[String: Any]] ?? []).compactMap { $0["trace_id"] as? String } })
            #expect(!shownTraceIDs.isEmpty && shownTraceIDs == receivedTraceIDs, "the page shows the traces that were exported")
            let services = Set(traces.flatMap { ($0["spans"] as? [[String: Any]] ?? []).compactMap { $0["service"] as? String } })
            #expect(services.isSuperset(of: ["nova-api", "nova-conductor", "nova-compute"]), "\(services)")
            let page = try httpGet(base + "/traces")
            #expect(page.status == 200 && page.contentType.hasPrefix("text/html"))
            #expect(page.body.hasPrefix("<!doctype html>") && !page.body.contains("<script") && !page.body.contains("http://") && !page.body.contains("https://"), "self-contained: no scripts, no external assets")
            for id in shownTraceIDs { #expect(page.body.contains("trace \(id)")) }
            #expect(page.body.contains("nova-compute") && page.body.contains("class=\"fill CONSUMER\""))

            // Secrets: the header's token is nowhere in the logs (every level), the metrics or the trace view; the
            // receiver got it (so it was really configured).
            #expect(receiver.records.contains { ($0["headers"] as? [String: String])?["authorization"] == "Bearer canary-otlp-token-5521" },
                    "the header reached the collector")
            let served = try [base + "/metrics", base + "/traces", base + "/traces.json", base + "/readyz"].map { try httpGet($0).body }
            for text in served + [agent.stderr] { #expect(!text.contains("canary-otlp-token"), "a secret leaked") }

            // The collector fails: after the threshold (1 s here) the agent is not ready, and says why.
            try receiver.control("/fail?n=1000000&status=503&retry_after=0.5")
            _ = try LiveBrokerTests.runScenario()
            try waitUntil("/readyz to report the failing exports", timeout: 20) {
                let ready = try httpGet(base + "/readyz")
                return ready.status == 503 && ready.body.contains("exports failing")
            }
            #expect(try httpGet(base + "/healthz").status == 200, "liveness does not depend on the collector")

            // SIGTERM: graceful within the grace period (2 s) even with the collector down; the unexported
            // messages stay unacknowledged in the broker.
            let stopStarted = Date()
            agent.signal(SIGTERM)
            #expect(try agent.wait(timeout: 30) == 0, "\(agent.stderr.suffix(2000))")
            #expect(Date().timeIntervalSince(stopStarted) < 10)
            #expect(agent.stderr.contains("\"msg\":\"stopped\""))
        }
    }
}
