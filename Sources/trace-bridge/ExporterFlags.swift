import ArgumentParser
import Foundation
import OTLPExport

/// OTLP exporter flags; each overrides its OpenTelemetry environment variable (OTEL_EXPORTER_OTLP_[TRACES_]*).
struct ExporterFlags: ParsableArguments {
    @Option(name: .customLong("otlp-endpoint"), help: ArgumentHelp(
        "Collector endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT). Default http://localhost:4317 (gRPC) or http://localhost:4318/v1/traces (HTTP).",
        valueName: "url"))
    var endpoint: String?

    @Option(name: .customLong("otlp-protocol"), help: ArgumentHelp("grpc (default), http/protobuf or http/json (OTEL_EXPORTER_OTLP_PROTOCOL).", valueName: "protocol"))
    var transportProtocol: String?

    @Option(name: .customLong("otlp-header"), help: ArgumentHelp(
        "A header sent with every export, NAME=VALUE (repeatable; OTEL_EXPORTER_OTLP_HEADERS). Prefer the variable for tokens.",
        valueName: "name=value"))
    var headers: [String] = []

    @Option(name: .customLong("otlp-headers-file"), help: ArgumentHelp(
        "Read headers from this file, NAME=VALUE,NAME2=VALUE2 like OTEL_EXPORTER_OTLP_HEADERS (a mounted secret: tokens stay off the command line).",
        valueName: "path"))
    var headersFile: String?

    @Option(name: .customLong("otlp-compression"), help: ArgumentHelp("gzip or none (OTEL_EXPORTER_OTLP_COMPRESSION).", valueName: "algorithm"))
    var compression: String?

    @Option(name: .customLong("otlp-timeout"), help: ArgumentHelp("Per-attempt timeout in milliseconds (OTEL_EXPORTER_OTLP_TIMEOUT, default 10000).", valueName: "ms"))
    var timeout: Int?

    @Option(name: .customLong("otlp-certificate"), help: ArgumentHelp("CA bundle (PEM) that signs the collector's certificate (OTEL_EXPORTER_OTLP_CERTIFICATE).", valueName: "path"))
    var certificate: String?

    @Option(name: .customLong("otlp-client-certificate"), help: ArgumentHelp("Client certificate for mTLS (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE).", valueName: "path"))
    var clientCertificate: String?

    @Option(name: .customLong("otlp-client-key"), help: ArgumentHelp("Client key for mTLS (OTEL_EXPORTER_OTLP_CLIENT_KEY).", valueName: "path"))
    var clientKey: String?

    @Flag(name: .customLong("otlp-insecure"), help: "gRPC without TLS when the endpoint has no scheme (OTEL_EXPORTER_OTLP_INSECURE).")
    var insecure = false

    @Flag(name: .customLong("otlp-tls-insecure-skip-verify"), help: "Do not verify the collector's certificate (testing only).")
    var skipVerify = false

    @Option(name: .customLong("export-batch-size"), help: "Send when this many spans are buffered.")
    var batchSize = 1024

    @Option(name: .customLong("export-delay"), help: "Send what is buffered after this many seconds.")
    var delaySeconds = 5.0

    @Option(name: .customLong("export-max-in-flight"), help: "Exports in flight at once.")
    var maxInFlight = 2

    @Option(name: .customLong("export-max-elapsed"), help: "Seconds to keep retrying one batch before dropping it (counted).")
    var maxElapsedSeconds = 300.0

    func configuration() throws -> OTLPExporterConfiguration {
        var overrides = OTLPExporterConfiguration.Overrides()
        if let transportProtocol {
            guard let parsed = OTLPExporterConfiguration.TransportProtocol(rawValue: transportProtocol) else {
                throw ValidationError("--otlp-protocol \(transportProtocol) is not one of grpc, http/protobuf, http/json")
            }
            overrides.transportProtocol = parsed
        }
        if let compression {
            guard let parsed = OTLPExporterConfiguration.Compression(rawValue: compression) else {
                throw ValidationError("--otlp-compression \(compression) is not gzip or none")
            }
            overrides.compression = parsed
        }
        overrides.endpoint = endpoint
        overrides.headers = headers
        if let headersFile {
            guard let text = try? String(contentsOfFile: headersFile, encoding: .utf8) else {
                throw ValidationError("cannot read --otlp-headers-file \(headersFile): check the path and its permissions")
            }
            do {
                overrides.headers += try OTLPExporterConfiguration.keyValueList(
                    text.trimmingCharacters(in: .whitespacesAndNewlines), what: "--otlp-headers-file \(headersFile)"
                ).map { "\($0.name)=\($0.value)" }
            } catch {
                throw ValidationError(error.description)
            }
        }
        overrides.timeoutMilliseconds = timeout
        overrides.certificateFile = certificate
        overrides.clientCertificateFile = clientCertificate
        overrides.clientKeyFile = clientKey
        overrides.insecure = insecure ? true : nil
        overrides.skipVerify = skipVerify
        do {
            return try OTLPExporterConfiguration(environment: ProcessInfo.processInfo.environment, overrides: overrides)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func policy(prefetch: UInt16) -> BatchingPolicy {
        BatchingPolicy(
            maxBatchSpans: batchSize, maxBatchDeliveries: max(1, Int(prefetch) / 2),
            delay: .milliseconds(Int64(delaySeconds * 1000)), maxInFlight: maxInFlight,
            maximumElapsed: .milliseconds(Int64(maxElapsedSeconds * 1000)))
    }
}
