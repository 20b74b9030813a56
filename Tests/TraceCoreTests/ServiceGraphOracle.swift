import Foundation

@testable import TraceCore

/// A span as the service-graph and span-metrics tools see it: IDs as hex, the resource's `service.name`, the
/// status, string-valued attributes and where it came from (our spans, or spans the services exported themselves).
///
/// Both tools read only these fields (plus links in the collector's newest links mode, which our `Span` cannot carry
/// yet).
struct GraphSpan: Sendable {
    enum Source: String, Sendable {
        /// Synthesized by trace-bridge.
        case bridge
        /// Exported by the services themselves (oslo.messaging tracing, osprofiler, oslo.middleware).
        case exported
    }

    var traceID: String
    var spanID: String
    /// Empty for a root span (OTLP's empty `parent_span_id`).
    var parentSpanID: String
    var name: String
    var kind: Span.Kind
    var service: String
    var start: Int64
    var end: Int64
    var isError: Bool
    var statusCode: String
    var attributes: [String: String]
    var source: Source
    /// The instrumentation scope (ours: `trace-bridge`; oslo.messaging's: `oslo.messaging`).
    var scope: String

    init(_ span: Span) {
        traceID = span.traceID.hex
        spanID = span.spanID.hex
        parentSpanID = span.parentSpanID?.hex ?? ""
        name = span.name
        kind = span.kind
        service = span.resource.service
        start = span.startTime
        end = span.endTime
        isError = span.status.code == .error
        statusCode = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"][span.status.code.rawValue]
        var attributes: [String: String] = [:]
        for attribute in span.attributes {
            switch attribute.value {
            case .string(let value): attributes[attribute.key] = value
            case .int(let value): attributes[attribute.key] = String(value)
            case .bool(let value): attributes[attribute.key] = String(value)
            case .double(let value): attributes[attribute.key] = String(value)
            }
        }
        self.attributes = attributes
        source = .bridge
        scope = "trace-bridge"
    }

    /// One line of a `<capture>.spans.jsonl` file (the OTLP receiver's dump of what the services exported).
    init?(exported line: JSONValue) {
        guard let trace = line["trace_id"]?.stringValue, let span = line["span_id"]?.stringValue,
            let kindName = line["kind"]?.stringValue, let start = line["start_time_unix_nano"]?.int64Value,
            let end = line["end_time_unix_nano"]?.int64Value
        else { return nil }
        let kinds: [String: Span.Kind] = [
            "SPAN_KIND_INTERNAL": .internal, "SPAN_KIND_SERVER": .server, "SPAN_KIND_CLIENT": .client,
            "SPAN_KIND_PRODUCER": .producer, "SPAN_KIND_CONSUMER": .consumer,
        ]
        guard let kind = kinds[kindName] else { return nil }
        traceID = trace
        spanID = span
        parentSpanID = line["parent_span_id"]?.stringValue ?? ""
        name = line["name"]?.stringValue ?? ""
        self.kind = kind
        service = line["resource"]?["service.name"]?.stringValue ?? ""
        self.start = start
        self.end = end
        statusCode = line["status"]?["code"]?.stringValue ?? "STATUS_CODE_UNSET"
        isError = statusCode == "STATUS_CODE_ERROR"
        var attributes: [String: String] = [:]
        if case .object(let members)? = line["attributes"] {
            for member in members {
                switch member.value {
                case .string(let value): attributes[member.key] = value
                case .number(let text): attributes[member.key] = text
                case .bool(let value): attributes[member.key] = String(value)
                default: continue
                }
            }
        }
        self.attributes = attributes
        source = .exported
        scope = line["scope"]?["name"]?.stringValue ?? ""
    }
}

/// The pairing rules of the two service-graph implementations an operator meets, as their source states them,
/// run over a list of spans in arrival order (we use end time: SDKs and our agent export a span when it ends).
///
/// - **collector**: opentelemetry-collector-contrib `connector/servicegraphconnector`, `connector.go`
///   `aggregateMetrics` / `onExpire` and `internal/store/store.go` `UpsertEdge` (stored revision ea186db8, which
///   imports semconv v1.38.0; the `connector.servicegraph.virtualNode` gate is `StageStable` in the generated
///   feature gates of the v0.15x line, so virtual nodes are always on). Edge key: (trace ID, span ID) of the
///   CLIENT or PRODUCER, (trace ID, parent span ID) of the SERVER or CONSUMER; PRODUCER/CONSUMER set
///   `connection_type=messaging_system`, the last upsert's type wins; an edge completes when both services are
///   set (the first child pairs, later siblings open a new edge that never completes); a client span with
///   `db.name` (`database_name_attributes`) completes at once as `database`. On expiry (`store.ttl`, default 2 s):
///   a root server-side span becomes `user` → service, and a client-side span without its pair becomes
///   service → (first of `virtual_node_peer_attributes` = `peer.service`, `db.name`, `db.system`, else
///   `unknown`), `connection_type=virtual_node`. Latencies: client = client span duration, server = server span
///   duration; there is no queue-wait histogram. Links-based pairing (PR #48782, merged 2026-08) is not modelled:
///   our `Span` has no links yet.
/// - **tempo**: grafana/tempo `modules/generator/processor/servicegraphs/servicegraphs.go` `consume`,
///   `onComplete`, `onExpire` and `store/store.go` `upsertEdge` (main at ad33aa8, after v3.0.3). Same keys and
///   completion; `peer_attributes` default `peer.service`, `db.name`, `db.system`, `db.system.name` read on both
///   sides; `database_name_attributes` `db.namespace`, `db.name`, `db.system`. On expiry (`wait`, default 10 s): a
///   root server-side span becomes (peer or `user`) → service; a client-side span becomes service → peer only when
///   it carries a peer attribute, otherwise the edge is dropped (counted as expired). With
///   `enable_messaging_system_latency_histogram`, a `messaging_system` edge also observes
///   `traces_service_graph_request_messaging_system_seconds` = server span start − client span end, and drops
///   the sample when that is 0 (negative differences are clamped to 0: `unixNanosDiffSec`).
struct ServiceGraphOracle {
    enum Tool: String, CaseIterable, Sendable, CustomStringConvertible {
        case collector, tempo
        var description: String { rawValue }

        /// Default time an unpaired half waits for its pair.
        var defaultWait: Int64 {
            switch self {
            case .collector: 2_000_000_000
            case .tempo: 10_000_000_000
            }
        }

        var peerAttributes: [String] {
            switch self {
            case .collector: ["peer.service", "db.name", "db.system"]
            case .tempo: ["peer.service", "db.name", "db.system", "db.system.name"]
            }
        }

        var databaseNameAttributes: [String] {
            switch self {
            case .collector: ["db.name"]
            case .tempo: ["db.namespace", "db.name", "db.system"]
            }
        }
    }

    struct EdgeKey: Hashable, Comparable, CustomStringConvertible {
        var client: String
        var server: String
        /// "" (a request), `messaging_system`, `database` or `virtual_node`.
        var connectionType: String

        static func < (lhs: Self, rhs: Self) -> Bool {
            (lhs.client, lhs.server, lhs.connectionType) < (rhs.client, rhs.server, rhs.connectionType)
        }

        var description: String { "\(client) → \(server) [\(connectionType.isEmpty ? "request" : connectionType)]" }
    }

    /// One observation, with the spans it came from so a test can find the message it measures.
    struct Sample {
        var seconds: Double
        var clientSpanID: String?
        var serverSpanID: String?
    }

    struct EdgeMetrics {
        var requests = 0
        var failed = 0
        var client: [Sample] = []
        var server: [Sample] = []
        /// Tempo only: consumer start − producer end, for `messaging_system` edges.
        var messagingSystem: [Sample] = []
    }

    let tool: Tool
    private(set) var edges: [EdgeKey: EdgeMetrics] = [:]
    /// Halves that expired without pair and without a virtual node, by the kind of the span that was seen.
    private(set) var expired: [Span.Kind: Int] = [:]
    /// Tempo: messaging-system samples dropped because consumer start − producer end was 0 (or negative).
    private(set) var droppedMessagingSamples: [Sample] = []

    private struct StoreKey: Hashable {
        var traceID: String
        var spanID: String
    }

    private struct PendingEdge {
        var key: StoreKey
        var expiresAt: Int64
        var connectionType = ""
        var client = ""
        var server = ""
        var clientLatency = 0.0
        var serverLatency = 0.0
        var clientEnd: Int64 = 0
        var serverStart: Int64 = 0
        var clientSpanID: String?
        var serverSpanID: String?
        var failed = false
        var peer = ""
        /// The kind of the last span that touched it (Tempo's `expired_edges{unmatched_span_kind}`).
        var spanKind: Span.Kind = .internal

        var isComplete: Bool { !client.isEmpty && !server.isEmpty }
        var isRoot: Bool { key.spanID.isEmpty }
    }

    private var pending: [StoreKey: PendingEdge] = [:]
    /// Insertion order, for expiry from the head as both stores do.
    private var order: [StoreKey] = []
    private let wait: Int64

    init(tool: Tool, wait: Int64? = nil) {
        self.tool = tool
        self.wait = wait ?? tool.defaultWait
    }

    /// Runs both halves of every span through the store in arrival (end-time) order, then expires what is left.
    static func run(_ spans: [GraphSpan], tool: Tool, wait: Int64? = nil) -> ServiceGraphOracle {
        var oracle = ServiceGraphOracle(tool: tool, wait: wait)
        let ordered = spans.enumerated().sorted { ($0.element.end, $0.offset) < ($1.element.end, $1.offset) }
        for (_, span) in ordered { oracle.consume(span) }
        oracle.expireAll()
        return oracle
    }

    mutating func consume(_ span: GraphSpan) {
        expire(now: span.end)
        guard !span.service.isEmpty else { return }  // both skip resources without service.name
        let tool = self.tool
        let seconds = Double(max(0, span.end - span.start)) / 1e9
        switch span.kind {
        case .producer, .client:
            let type = span.kind == .producer ? "messaging_system" : ""
            upsert(StoreKey(traceID: span.traceID, spanID: span.spanID), at: span.end) { edge in
                edge.connectionType = type
                edge.client = span.service
                edge.clientLatency = seconds
                edge.clientEnd = span.end
                edge.clientSpanID = span.spanID
                edge.failed = edge.failed || span.isError
                edge.spanKind = span.kind
                if let peer = tool.peerAttributes.lazy.compactMap({ span.attributes[$0] }).first { edge.peer = peer }
                if let database = tool.databaseNameAttributes.lazy.compactMap({ span.attributes[$0] }).first {
                    edge.connectionType = "database"
                    edge.serverLatency = seconds
                    switch tool {
                    case .collector:
                        edge.server = database
                    case .tempo:
                        edge.server = span.attributes["peer.service"] ?? span.attributes["server.address"]
                            ?? span.attributes["network.peer.address"].map { address in
                                span.attributes["network.peer.port"].map { "\(address):\($0)" } ?? address
                            } ?? database
                    }
                }
            }
        case .consumer, .server:
            let type = span.kind == .consumer ? "messaging_system" : ""
            upsert(StoreKey(traceID: span.traceID, spanID: span.parentSpanID), at: span.end) { edge in
                edge.connectionType = type
                edge.server = span.service
                edge.serverLatency = seconds
                edge.serverStart = span.start
                edge.serverSpanID = span.spanID
                edge.failed = edge.failed || span.isError
                edge.spanKind = span.kind
                // Tempo reads peer attributes on both sides (a root server's peer names its virtual client).
                if tool == .tempo, let peer = tool.peerAttributes.lazy.compactMap({ span.attributes[$0] }).first {
                    edge.peer = peer
                }
            }
        case .internal:
            return
        }
    }

    private mutating func upsert(_ key: StoreKey, at now: Int64, _ update: (inout PendingEdge) -> Void) {
        if var edge = pending[key] {
            update(&edge)
            if edge.isComplete {
                complete(edge)
                pending[key] = nil
                order.removeAll { $0 == key }
            } else {
                pending[key] = edge
            }
            return
        }
        var edge = PendingEdge(key: key, expiresAt: now + wait)
        update(&edge)
        if edge.isComplete {
            complete(edge)
            return
        }
        pending[key] = edge
        order.append(key)
    }

    private mutating func expire(now: Int64) {
        while let head = order.first, let edge = pending[head], edge.expiresAt < now {
            order.removeFirst()
            pending[head] = nil
            onExpire(edge)
        }
    }

    mutating func expireAll() {
        for key in order {
            if let edge = pending[key] { onExpire(edge) }
        }
        pending = [:]
        order = []
    }

    private mutating func onExpire(_ original: PendingEdge) {
        var edge = original
        edge.connectionType = "virtual_node"
        switch tool {
        case .collector:
            var counted = false
            if edge.client.isEmpty, edge.isRoot {
                edge.client = "user"
                complete(edge)
                counted = true
            }
            if edge.server.isEmpty {
                edge.server = edge.peer.isEmpty ? "unknown" : edge.peer
                complete(edge)
                counted = true
            }
            if !counted { expired[edge.spanKind, default: 0] += 1 }
        case .tempo:
            if edge.client.isEmpty, edge.isRoot {
                edge.client = edge.peer.isEmpty ? "user" : edge.peer
                complete(edge)
            } else if !edge.client.isEmpty, edge.server.isEmpty, !edge.peer.isEmpty {
                edge.server = edge.peer
                complete(edge)
            } else {
                expired[edge.spanKind, default: 0] += 1
            }
        }
    }

    private mutating func complete(_ edge: PendingEdge) {
        let key = EdgeKey(client: edge.client, server: edge.server, connectionType: edge.connectionType)
        var metrics = edges[key] ?? EdgeMetrics()
        metrics.requests += 1
        if edge.failed { metrics.failed += 1 }
        let ids = (edge.clientSpanID, edge.serverSpanID)
        metrics.client.append(Sample(seconds: edge.clientLatency, clientSpanID: ids.0, serverSpanID: ids.1))
        metrics.server.append(Sample(seconds: edge.serverLatency, clientSpanID: ids.0, serverSpanID: ids.1))
        if tool == .tempo, edge.connectionType == "messaging_system" {
            let wait = edge.serverStart >= edge.clientEnd ? Double(edge.serverStart - edge.clientEnd) / 1e9 : 0
            if wait == 0 {
                droppedMessagingSamples.append(Sample(seconds: 0, clientSpanID: ids.0, serverSpanID: ids.1))
            } else {
                metrics.messagingSystem.append(Sample(seconds: wait, clientSpanID: ids.0, serverSpanID: ids.1))
            }
        }
        edges[key] = metrics
    }
}

/// The spanmetrics connector's aggregation (opentelemetry-collector-contrib `connector/spanmetricsconnector`,
/// README "Overview": every series has at least `service.name`, `span.name`, `span.kind` and `status.code`; calls
/// count the spans of a series, duration is end − start). Extra dimensions are configured per deployment and
/// are not modelled: two kinds of span that share these four values are one series whatever else differs.
struct SpanMetricsOracle {
    struct SeriesKey: Hashable, Comparable, CustomStringConvertible {
        var service: String
        var name: String
        var kind: String
        var status: String

        static func < (lhs: Self, rhs: Self) -> Bool {
            (lhs.service, lhs.name, lhs.kind, lhs.status) < (rhs.service, rhs.name, rhs.kind, rhs.status)
        }

        var description: String { "{service.name=\(service), span.name=\(name), span.kind=\(kind), status.code=\(status)}" }
    }

    struct Series {
        var calls = 0
        var durations: [Double] = []
        /// Who made the spans of this series: more than one source means different measurements were added up.
        var sources: Set<String> = []
    }

    private(set) var series: [SeriesKey: Series] = [:]

    init(_ spans: [GraphSpan]) {
        for span in spans {
            let key = SeriesKey(
                service: span.service, name: span.name, kind: "SPAN_KIND_\(span.kind.name)", status: span.statusCode)
            series[key, default: Series()].calls += 1
            series[key, default: Series()].durations.append(Double(max(0, span.end - span.start)) / 1e9)
            series[key, default: Series()].sources.insert("\(span.source.rawValue):\(span.scope)")
        }
    }
}
