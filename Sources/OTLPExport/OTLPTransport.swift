import TraceCore

/// A batch of spans for one export request.
public struct ExportBatch: Sendable {
    public var spans: [Span]
    public var resourceAttributes: [Attribute]

    public init(spans: [Span], resourceAttributes: [Attribute]) {
        self.spans = spans
        self.resourceAttributes = resourceAttributes
    }
}

/// Sends one export request and says how it went; retrying is the caller's business.
public protocol OTLPTransport: Sendable {
    func export(_ batch: ExportBatch) async -> ExportResult
    func shutdown() async
}

/// The transport the configuration asks for.
public func makeTransport(_ configuration: OTLPExporterConfiguration) throws -> any OTLPTransport {
    switch configuration.transportProtocol {
    case .grpc: try OTLPGRPCTransport(configuration)
    case .httpProtobuf, .httpJSON: try OTLPHTTPTransport(configuration)
    }
}
