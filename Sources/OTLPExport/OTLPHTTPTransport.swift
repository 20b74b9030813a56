import AsyncHTTPClient
import NIOCore
import NIOSSL
import OTLPProto
import SwiftProtobuf
import TraceCore

/// OTLP/HTTP: `POST /v1/traces` with a protobuf (or OTLP/JSON) `ExportTraceServiceRequest`.
final class OTLPHTTPTransport: OTLPTransport {
    private let configuration: OTLPExporterConfiguration
    private let client: HTTPClient
    private let url: String

    init(_ configuration: OTLPExporterConfiguration) throws {
        self.configuration = configuration
        url = configuration.endpoint.description
        var clientConfiguration = HTTPClient.Configuration()
        if configuration.endpoint.tls {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let ca = configuration.certificateFile { tls.trustRoots = .file(ca) }
            if configuration.skipVerify { tls.certificateVerification = .none }
            if let certificate = configuration.clientCertificateFile, let key = configuration.clientKeyFile {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            clientConfiguration.tlsConfiguration = tls
        }
        clientConfiguration.timeout = .init(connect: .seconds(5))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    func export(_ batch: ExportBatch) async -> ExportResult {
        let json = configuration.transportProtocol == .httpJSON
        var body = json
            ? OTLPJSONEncoder.encode(batch.spans, extraResourceAttributes: batch.resourceAttributes)
            : OTLPProtobufEncoder.encode(batch.spans, extraResourceAttributes: batch.resourceAttributes)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: json ? "application/json" : "application/x-protobuf")
        request.headers.add(name: "User-Agent", value: "trace-bridge/\(TraceBridgeScope.version)")
        for header in configuration.headers { request.headers.add(name: header.name, value: header.value) }
        if configuration.compression == .gzip {
            do {
                body = try Gzip.compress(body)
            } catch {
                return .permanent(reason: "\(error)")
            }
            request.headers.add(name: "Content-Encoding", value: "gzip")
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(configuration.timeout.components.seconds) * 1_000_000_000 + configuration.timeout.components.attoseconds / 1_000_000_000))
            let responseBody = try await response.body.collect(upTo: 4 << 20)
            let status = Int(response.status.code)
            let result = ExportResult.http(
                status: status, retryAfter: response.headers.first(name: "Retry-After"),
                body: String(buffer: responseBody))
            guard case .accepted = result else { return result }
            return Self.partialSuccess(Array(buffer: responseBody), json: json)
        } catch {
            // Connection refused, reset, timed out: the collector may come back.
            return .retryable(reason: "HTTP transport: \(error)", retryAfter: nil)
        }
    }

    /// Reads `partial_success` from the response (an empty body is full success).
    static func partialSuccess(_ body: [UInt8], json: Bool) -> ExportResult {
        guard !body.isEmpty else { return .accepted(rejectedSpans: 0, message: "") }
        if json {
            guard let value = try? JSONValue(parsing: body), let partial = value["partialSuccess"] else {
                return .accepted(rejectedSpans: 0, message: "")
            }
            let rejected = partial["rejectedSpans"].flatMap { $0.int64Value ?? $0.stringValue.flatMap { Int64($0) } } ?? 0
            return .accepted(rejectedSpans: rejected, message: partial["errorMessage"]?.stringValue ?? "")
        }
        guard let response = try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(serializedBytes: body) else {
            return .accepted(rejectedSpans: 0, message: "")
        }
        return .accepted(rejectedSpans: response.partialSuccess.rejectedSpans, message: response.partialSuccess.errorMessage)
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
