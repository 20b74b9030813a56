import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OTLPProto
import TraceCore

/// OTLP/gRPC: the unary `opentelemetry.proto.collector.trace.v1.TraceService/Export`, called through grpc-swift-2
/// without generated stubs (one method does not justify a build-time code generator).
final class OTLPGRPCTransport: OTLPTransport {
    private let configuration: OTLPExporterConfiguration
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let connections: Task<Void, any Error>
    private static let method = MethodDescriptor(
        fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export")

    init(_ configuration: OTLPExporterConfiguration) throws {
        self.configuration = configuration
        let endpoint = configuration.endpoint
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if endpoint.tls {
            let configure: (inout HTTP2ClientTransport.Posix.TransportSecurity.TLS) -> Void = { tls in
                if let ca = configuration.certificateFile { tls.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
                tls.serverCertificateVerification = configuration.skipVerify ? .noVerification : .fullVerification
            }
            if let certificate = configuration.clientCertificateFile, let key = configuration.clientKeyFile {
                security = .mTLS(certificateChain: [.file(path: certificate, format: .pem)],
                                 privateKey: .file(path: key, format: .pem), configure: configure)
            } else {
                security = .tls(configure: configure)
            }
        } else {
            security = .plaintext
        }
        var transportConfiguration = HTTP2ClientTransport.Posix.Config.defaults
        if configuration.compression == .gzip {
            transportConfiguration.compression = .init(algorithm: .gzip, enabledAlgorithms: .gzip)
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: security,
            config: transportConfiguration)
        let client = GRPCClient(transport: transport)
        self.client = client
        connections = Task { try await client.runConnections() }
    }

    func export(_ batch: ExportBatch) async -> ExportResult {
        let request = OTLPProtobufEncoder.encode(batch.spans, extraResourceAttributes: batch.resourceAttributes)
        var metadata = Metadata()
        for header in configuration.headers { metadata.addString(header.value, forKey: header.name.lowercased()) }
        var options = CallOptions.defaults
        options.timeout = configuration.timeout
        if configuration.compression == .gzip { options.compression = .gzip }
        do {
            let response = try await client.unary(
                request: ClientRequest(message: request, metadata: metadata), descriptor: Self.method,
                serializer: EncodedRequestSerializer(),
                deserializer: ProtobufDeserializer<Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse>(),
                options: options
            ) { response in try response.message }
            return .accepted(rejectedSpans: response.partialSuccess.rejectedSpans, message: response.partialSuccess.errorMessage)
        } catch let error as RPCError {
            var retryInfo: Duration? = nil
            for details in error.metadata[binaryValues: "grpc-status-details-bin"] {
                retryInfo = ExportResult.retryInfo(statusDetails: Array(details))
                if retryInfo != nil { break }
            }
            return ExportResult.grpc(code: error.code.rawValue, message: error.message, retryInfo: retryInfo)
        } catch {
            return .retryable(reason: "gRPC transport: \(error)", retryAfter: nil)
        }
    }

    func shutdown() async {
        client.beginGracefulShutdown()
        _ = try? await connections.value
    }
}

/// Hands the request that `OTLPProtobufEncoder` already encoded to gRPC as it is (no swift-protobuf message tree).
struct EncodedRequestSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}
