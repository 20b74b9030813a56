import Foundation
import TraceCore

/// An `amqp://` or `amqps://` URL: `amqp[s]://USER:PASS@HOST[:PORT][/VHOST]` (RabbitMQ's URI spec: the vhost is the
/// percent-decoded path without its leading slash; no path means `/`).
public struct AMQPURL: Equatable, Sendable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(tls: Bool = false, host: String, port: Int? = nil, user: String = "guest", password: String = "guest",
                vhost: String = "/") {
        self.tls = tls
        self.host = host
        self.port = port ?? (tls ? 5671 : 5672)
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    public init(_ text: String) throws(ParseError) {
        func fail(_ why: String) -> ParseError {
            ParseError(description: "invalid AMQP URL \(AMQPURL.mask(text)): \(why); expected amqp://USER:PASS@HOST:5672/VHOST")
        }
        let tls: Bool
        var rest: Substring
        if text.hasPrefix("amqp://") {
            tls = false
            rest = text.dropFirst("amqp://".count)
        } else if text.hasPrefix("amqps://") {
            tls = true
            rest = text.dropFirst("amqps://".count)
        } else {
            throw fail("the scheme must be amqp:// or amqps://")
        }
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user = "guest", password = "guest"
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                guard let decodedUser = PercentEncoding.decode(credentials[..<colon]),
                    let decodedPassword = PercentEncoding.decode(credentials[credentials.index(after: colon)...])
                else { throw fail("bad percent-encoding in the credentials") }
                user = decodedUser
                password = decodedPassword
            } else {
                guard let decodedUser = PercentEncoding.decode(credentials) else { throw fail("bad percent-encoding in the user") }
                user = decodedUser
            }
        }
        var host = String(rest)
        var port: Int? = nil
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { throw fail("bad port") }
                port = value
            } else if !after.isEmpty {
                throw fail("unexpected text after the IPv6 address")
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                throw fail("bad port")
            }
            port = value
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw fail("no host") }
        var vhost = "/"
        if let path, !path.isEmpty {
            guard let decoded = PercentEncoding.decode(path) else { throw fail("bad percent-encoding in the vhost") }
            vhost = decoded
        }
        self.init(tls: tls, host: host, port: port, user: user, password: password, vhost: vhost)
    }

    /// The URL with the password masked: safe to log and print.
    public var description: String {
        let vhostPart = vhost == "/" ? "/" : "/" + PercentEncoding.encode(vhost)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(tls ? "amqps" : "amqp")://\(PercentEncoding.encode(user)):****@\(hostPart):\(port)\(vhostPart)"
    }

    /// Masks the password of anything that looks like a URL with credentials, for error messages about bad input.
    public static func mask(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "****" + String(text[at...])
    }

}
