import Testing

@testable import OTLPExport
@testable import TraceCore

@Suite("OTLP exporter configuration (OpenTelemetry exporter specification)")
struct ExporterConfigurationTests {
    @Test("defaults: gRPC to localhost:4317 in plaintext, no compression, 10 s timeout")
    func defaults() throws {
        let configuration = try OTLPExporterConfiguration(environment: [:])
        #expect(configuration.transportProtocol == .grpc)
        #expect(configuration.endpoint.description == "http://localhost:4317")
        #expect(configuration.compression == .none && configuration.timeout == .seconds(10))
        #expect(configuration.headers.isEmpty && configuration.resourceAttributes.isEmpty)
    }

    @Test("HTTP: the generic endpoint gets /v1/traces appended; the traces endpoint is used as is and wins")
    func endpointRules() throws {
        let generic = try OTLPExporterConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://gateway:4318/otlp",
        ])
        #expect(generic.endpoint.description == "https://gateway:4318/otlp/v1/traces")
        let withSlash = try OTLPExporterConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://gateway:4318/",
        ])
        #expect(withSlash.endpoint.description == "http://gateway:4318/v1/traces")
        let specific = try OTLPExporterConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom",
        ])
        #expect(specific.transportProtocol == .httpJSON)
        #expect(specific.endpoint.description == "http://collector:4318/custom")
        #expect(try OTLPExporterConfiguration(environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"]).endpoint.description
            == "http://localhost:4318/v1/traces")
    }

    @Test("gRPC: the scheme decides TLS; without one, TLS unless OTEL_EXPORTER_OTLP_INSECURE=true")
    func grpcSecurity() throws {
        #expect(try OTLPExporterConfiguration(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw:4317"]).endpoint.tls)
        #expect(try OTLPExporterConfiguration(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "gw:4317"]).endpoint.tls)
        #expect(try !OTLPExporterConfiguration(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "gw:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true",
        ]).endpoint.tls)
    }

    @Test("headers and resource attributes: comma-separated, percent-decoded; flags add to the variable")
    func keyValues() throws {
        var overrides = OTLPExporterConfiguration.Overrides()
        overrides.headers = ["x-extra=1"]
        let configuration = try OTLPExporterConfiguration(
            environment: [
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc, x-scope-orgid=tenant-1",
                "OTEL_RESOURCE_ATTRIBUTES": "cluster=control-plane,deployment.environment=prod%2Feu",
            ], overrides: overrides)
        #expect(configuration.headers.map { "\($0.name)=\($0.value)" } == ["authorization=Bearer abc", "x-scope-orgid=tenant-1", "x-extra=1"])
        #expect(configuration.resourceAttributes == [
            Attribute("cluster", .string("control-plane")), Attribute("deployment.environment", .string("prod/eu")),
        ])
        #expect(!configuration.summary.contains("abc"), "header values are never printed")
        #expect(configuration.summary.contains("headers=authorization,x-scope-orgid,x-extra"))
    }

    @Test("an --otlp-endpoint without a path is a base URL; with one it is used as is")
    func endpointFlag() throws {
        var overrides = OTLPExporterConfiguration.Overrides()
        overrides.transportProtocol = .httpProtobuf
        overrides.endpoint = "http://gateway:4318"
        #expect(try OTLPExporterConfiguration(environment: [:], overrides: overrides).endpoint.description == "http://gateway:4318/v1/traces")
        overrides.endpoint = "http://gateway:4318/custom/traces"
        #expect(try OTLPExporterConfiguration(environment: [:], overrides: overrides).endpoint.description == "http://gateway:4318/custom/traces")
    }

    @Test("flags override variables")
    func flagsWin() throws {
        var overrides = OTLPExporterConfiguration.Overrides()
        overrides.transportProtocol = .httpProtobuf
        overrides.endpoint = "http://flag:9999/v1/traces"
        overrides.compression = .gzip
        overrides.timeoutMilliseconds = 2500
        let configuration = try OTLPExporterConfiguration(
            environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:1",
                          "OTEL_EXPORTER_OTLP_COMPRESSION": "none", "OTEL_EXPORTER_OTLP_TIMEOUT": "100"],
            overrides: overrides)
        #expect(configuration.transportProtocol == .httpProtobuf && configuration.endpoint.description == "http://flag:9999/v1/traces")
        #expect(configuration.compression == .gzip && configuration.timeout == .milliseconds(2500))
    }

    @Test("bad values are errors that name the setting and what is allowed", arguments: [
        (["OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"], "is not one of grpc, http/protobuf, http/json"),
        (["OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"], "is not gzip or none"),
        (["OTEL_EXPORTER_OTLP_TIMEOUT": "soon"], "milliseconds"),
        (["OTEL_EXPORTER_OTLP_HEADERS": "novalue"], "is not KEY=VALUE"),
        (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://gw:notaport"], "bad port"),
        (["OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "gw:4318"], "needs http:// or https://"),
        (["OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"], "give both or neither"),
    ])
    func rejects(environment: [String: String], message: String) {
        do {
            _ = try OTLPExporterConfiguration(environment: environment)
            Issue.record("\(environment) was accepted")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }
}

@Suite("Export results, classified per the OTLP specification")
struct ExportResultTests {
    @Test("HTTP: 429/502/503/504 retryable with Retry-After; other errors permanent", arguments: [
        (200, nil, "accepted"), (429, "7", "retry 7"), (502, nil, "retry -"), (503, "1", "retry 1"), (504, nil, "retry -"),
        (400, nil, "permanent"), (401, nil, "permanent"), (404, nil, "permanent"), (500, nil, "permanent"),
    ] as [(Int, String?, String)])
    func http(status: Int, retryAfter: String?, expected: String) {
        #expect(describe(.http(status: status, retryAfter: retryAfter, body: "")) == expected)
    }

    @Test("gRPC: UNAVAILABLE and friends retryable; RESOURCE_EXHAUSTED only with RetryInfo; the rest permanent", arguments: [
        (14, nil, "retry -"), (4, nil, "retry -"), (1, nil, "retry -"), (10, nil, "retry -"), (11, nil, "retry -"),
        (15, nil, "retry -"), (8, nil, "permanent"), (8, 3, "retry 3"), (3, nil, "permanent"), (16, nil, "permanent"),
        (7, nil, "permanent"), (12, nil, "permanent"),
    ] as [(Int, Int?, String)])
    func grpc(code: Int, retrySeconds: Int?, expected: String) {
        #expect(describe(.grpc(code: code, message: "m", retryInfo: retrySeconds.map { .seconds($0) })) == expected)
    }

    @Test("RetryInfo is read from grpc-status-details-bin (google.rpc.Status with an Any)")
    func retryInfo() {
        func lengthDelimited(_ field: UInt8, _ bytes: [UInt8]) -> [UInt8] { [field << 3 | 2, UInt8(bytes.count)] + bytes }
        let duration: [UInt8] = [1 << 3, 2, 2 << 3, 0x80, 0xCA, 0xB5, 0xEE, 0x01]  // 2 s + 500,000,000 ns
        let retryInfo = lengthDelimited(1, duration)
        let any = lengthDelimited(1, Array("type.googleapis.com/google.rpc.RetryInfo".utf8)) + lengthDelimited(2, retryInfo)
        let status: [UInt8] = [1 << 3, 14] + lengthDelimited(2, Array("down".utf8)) + lengthDelimited(3, any)
        #expect(ExportResult.retryInfo(statusDetails: status) == .seconds(2) + .milliseconds(500))
        #expect(ExportResult.retryInfo(statusDetails: [0xFF, 0xFF, 0xFF]) == nil, "garbage is no hint, not a crash")
        #expect(ExportResult.retryInfo(statusDetails: [1 << 3, 14]) == nil)
    }

    func describe(_ result: ExportResult) -> String {
        switch result {
        case .accepted: "accepted"
        case .retryable(_, let after): "retry \(after.map { "\($0.components.seconds)" } ?? "-")"
        case .permanent: "permanent"
        }
    }
}
