import Foundation
import TraceCore

/// Where and how spans are exported, read from the OpenTelemetry exporter environment variables
/// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/) and overridden by flags.
///
/// Every `OTEL_EXPORTER_OTLP_X` has a `OTEL_EXPORTER_OTLP_TRACES_X` twin that wins over it.
public struct OTLPExporterConfiguration: Sendable, Equatable {
    public enum TransportProtocol: String, Sendable, CaseIterable {
        case grpc
        case httpProtobuf = "http/protobuf"
        case httpJSON = "http/json"
    }

    public enum Compression: String, Sendable, CaseIterable {
        case none
        case gzip
    }

    /// `OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`; default `grpc` (the gateway collector's 4317).
    public var transportProtocol: TransportProtocol
    /// The full URL: for HTTP including the `/v1/traces` path; for gRPC `scheme://host:port`.
    public var endpoint: Endpoint
    /// `OTEL_EXPORTER_OTLP[_TRACES]_HEADERS`: `key=value,key2=value2`, values percent-decoded. Secrets (an auth
    /// token): never printed.
    public var headers: [(name: String, value: String)]
    /// `OTEL_EXPORTER_OTLP[_TRACES]_COMPRESSION`: `gzip` or `none` (default).
    public var compression: Compression
    /// `OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT` in milliseconds (default 10000): per export attempt.
    public var timeout: Duration
    /// `OTEL_EXPORTER_OTLP[_TRACES]_CERTIFICATE`: CA bundle (PEM) to verify the collector.
    public var certificateFile: String?
    /// `OTEL_EXPORTER_OTLP[_TRACES]_CLIENT_KEY` / `_CLIENT_CERTIFICATE`: for mTLS.
    public var clientKeyFile: String?
    public var clientCertificateFile: String?
    /// `OTEL_EXPORTER_OTLP[_TRACES]_INSECURE`: gRPC without TLS when the endpoint has no scheme.
    public var insecure: Bool
    /// Skip verifying the collector's certificate (`--otlp-tls-insecure-skip-verify`, testing only).
    public var skipVerify: Bool
    /// `OTEL_RESOURCE_ATTRIBUTES`: merged into every synthesized resource.
    public var resourceAttributes: [Attribute]

    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var tls: Bool
        public var host: String
        public var port: Int
        /// `/v1/traces` for HTTP; empty for gRPC.
        public var path: String

        public var description: String {
            "\(tls ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)"
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.transportProtocol == rhs.transportProtocol && lhs.endpoint == rhs.endpoint
            && lhs.headers.map { "\($0.name)=\($0.value)" } == rhs.headers.map { "\($0.name)=\($0.value)" }
            && lhs.compression == rhs.compression && lhs.timeout == rhs.timeout
            && lhs.certificateFile == rhs.certificateFile && lhs.clientKeyFile == rhs.clientKeyFile
            && lhs.clientCertificateFile == rhs.clientCertificateFile && lhs.insecure == rhs.insecure
            && lhs.skipVerify == rhs.skipVerify && lhs.resourceAttributes == rhs.resourceAttributes
    }

    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Explicit settings (flags) that win over the environment; nil means "not given".
    public struct Overrides: Sendable {
        public var transportProtocol: TransportProtocol?
        public var endpoint: String?
        public var headers: [String] = []
        public var compression: Compression?
        public var timeoutMilliseconds: Int?
        public var certificateFile: String?
        public var clientKeyFile: String?
        public var clientCertificateFile: String?
        public var insecure: Bool?
        public var skipVerify = false

        public init() {}
    }

    /// Builds the configuration: flags, then `_TRACES_` variables, then generic ones, then defaults.
    public init(environment: [String: String], overrides: Overrides = Overrides()) throws(Error) {
        func variable(_ name: String) -> String? {
            let value = environment["OTEL_EXPORTER_OTLP_TRACES_\(name)"] ?? environment["OTEL_EXPORTER_OTLP_\(name)"]
            return value.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let protocolText = overrides.transportProtocol?.rawValue ?? variable("PROTOCOL") ?? TransportProtocol.grpc.rawValue
        guard let transportProtocol = TransportProtocol(rawValue: protocolText) else {
            throw Error(description: "OTLP protocol \"\(protocolText)\" is not one of grpc, http/protobuf, http/json")
        }
        self.transportProtocol = transportProtocol
        let insecureText = overrides.insecure.map { $0 ? "true" : "false" } ?? variable("INSECURE") ?? "false"
        insecure = insecureText.lowercased() == "true"
        endpoint = try Self.endpoint(
            transportProtocol: transportProtocol, flag: overrides.endpoint,
            tracesVariable: environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 },
            genericVariable: environment["OTEL_EXPORTER_OTLP_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 },
            insecure: insecure)
        headers = try Self.keyValueList(variable("HEADERS"), what: "OTLP headers")
            + overrides.headers.map { pair throws(Error) in
                guard let entry = try Self.keyValueList(pair, what: "--otlp-header").first else {
                    throw Error(description: "--otlp-header \"\(pair)\" is not NAME=VALUE")
                }
                return entry
            }
        let compressionText = overrides.compression?.rawValue ?? variable("COMPRESSION") ?? "none"
        guard let compression = Compression(rawValue: compressionText) else {
            throw Error(description: "OTLP compression \"\(compressionText)\" is not gzip or none")
        }
        self.compression = compression
        let timeoutText = overrides.timeoutMilliseconds.map(String.init) ?? variable("TIMEOUT") ?? "10000"
        guard let milliseconds = Int(timeoutText), milliseconds > 0 else {
            throw Error(description: "OTLP timeout \"\(timeoutText)\" is not a positive number of milliseconds")
        }
        timeout = .milliseconds(milliseconds)
        certificateFile = overrides.certificateFile ?? variable("CERTIFICATE")
        clientKeyFile = overrides.clientKeyFile ?? variable("CLIENT_KEY")
        clientCertificateFile = overrides.clientCertificateFile ?? variable("CLIENT_CERTIFICATE")
        guard (clientKeyFile == nil) == (clientCertificateFile == nil) else {
            throw Error(description: "an OTLP client key and client certificate go together: give both or neither")
        }
        skipVerify = overrides.skipVerify
        resourceAttributes = try Self.keyValueList(environment["OTEL_RESOURCE_ATTRIBUTES"], what: "OTEL_RESOURCE_ATTRIBUTES")
            .map { Attribute($0.name, .string($0.value)) }
    }

    /// The spec's endpoint rules: the `_TRACES_` URL is used as is; the generic one gets `v1/traces` appended for
    /// HTTP; gRPC takes `scheme://host:port` (no scheme: TLS unless insecure).
    static func endpoint(
        transportProtocol: TransportProtocol, flag: String?, tracesVariable: String?, genericVariable: String?,
        insecure: Bool
    ) throws(Error) -> Endpoint {
        let isHTTP = transportProtocol != .grpc
        let defaultURL = isHTTP ? "http://localhost:4318/v1/traces" : "http://localhost:4317"
        // A flag is taken as is when it names a path, and as a base URL (like the generic variable) when it does not:
        // `--otlp-endpoint http://gateway:4318` means the gateway's /v1/traces.
        let (text, appendSignalPath) =
            if let flag { (flag, !Self.hasPath(flag)) } else if let tracesVariable { (tracesVariable, false) }
            else if let genericVariable { (genericVariable, true) } else { (defaultURL, false) }
        var rest = Substring(text)
        var tls: Bool
        if rest.hasPrefix("https://") {
            tls = true
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("http://") {
            tls = false
            rest = rest.dropFirst(7)
        } else if isHTTP {
            throw Error(description: "OTLP/HTTP endpoint \"\(text)\" needs http:// or https://")
        } else {
            tls = !insecure
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = isHTTP ? (tls ? 443 : 80) : (tls ? 443 : 80)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                    throw Error(description: "OTLP endpoint \"\(text)\" has a bad port")
                }
                port = value
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                throw Error(description: "OTLP endpoint \"\(text)\" has a bad port")
            }
            port = value
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw Error(description: "OTLP endpoint \"\(text)\" has no host") }
        if isHTTP {
            if appendSignalPath {
                path = (path.hasSuffix("/") ? path : path + "/") + "v1/traces"
            } else if path.isEmpty {
                path = "/"
            }
        } else {
            path = ""
        }
        return Endpoint(tls: tls, host: host, port: port, path: path)
    }

    static func hasPath(_ url: String) -> Bool {
        guard let scheme = url.range(of: "://") else { return false }
        let rest = url[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return false }
        return rest[slash...] != "/"
    }

    /// `key=value,key2=value2` (W3C baggage style), values percent-decoded, blanks around items ignored.
    public static func keyValueList(_ text: String?, what: String) throws(Error) -> [(name: String, value: String)] {
        guard let text else { return [] }
        var result: [(name: String, value: String)] = []
        for item in text.split(separator: ",") {
            let trimmed = String(item).trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "="), equals != trimmed.startIndex else {
                throw Error(description: "\(what): \"\(trimmed.prefix(40))\" is not KEY=VALUE")
            }
            let name = String(trimmed[..<equals]).trimmingCharacters(in: .whitespaces)
            guard let value = PercentEncoding.decode(String(trimmed[trimmed.index(after: equals)...]).trimmingCharacters(in: .whitespaces)) else {
                throw Error(description: "\(what): the value of \(name) has bad percent-encoding")
            }
            result.append((name, value))
        }
        return result
    }

    /// A one-line description safe to log: header names only, never their values.
    public var summary: String {
        var parts = ["protocol=\(transportProtocol.rawValue)", "endpoint=\(endpoint)", "compression=\(compression.rawValue)",
                     "timeout_ms=\(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)"]
        if !headers.isEmpty { parts.append("headers=\(headers.map(\.name).joined(separator: ","))") }
        if endpoint.tls { parts.append("tls_verify=\(!skipVerify)") }
        return parts.joined(separator: " ")
    }
}
