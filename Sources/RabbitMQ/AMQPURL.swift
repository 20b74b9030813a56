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

    /// Several broker addresses, for failover, in the syntax of oslo.messaging's `transport_url`:
    /// `amqp://U:P@HOST1:5672,U:P@HOST2:5672/VHOST` (one scheme and one vhost for every host), and also a list of
    /// whole URLs `amqp://U:P@HOST1/,amqp://U:P@HOST2/` (what the repeated `--amqp-url` flag amounts to: its values
    /// are joined with commas). `rabbit://` is read as `amqp://`, so a `transport_url` can be pasted as is. A host
    /// written without credentials takes those of the first host of its URL that has them (oslo.messaging would log
    /// in with empty ones), else guest:guest. A comma inside a password must be percent-encoded (`%2C`), as in any
    /// URL. The order is kept: the agent tries the first address first and moves on round robin.
    public static func list(_ text: String) throws(ParseError) -> [AMQPURL] {
        func fail(_ why: String) -> ParseError {
            ParseError(description: "invalid AMQP URL list \(maskList(text)): \(why); expected amqp://USER:PASS@HOST1:5672,USER:PASS@HOST2:5672/VHOST")
        }
        // Group the comma-separated items into URLs: an item with a scheme starts one, the others are more hosts.
        var groups: [[Substring]] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.drop { $0 == " " || $0 == "\n" || $0 == "\t" }
            if item.isEmpty { throw fail("an empty address") }
            if item.contains("://") || groups.isEmpty {
                groups.append([item])
            } else {
                groups[groups.count - 1].append(item)
            }
        }
        guard !groups.isEmpty else { throw fail("no address") }
        var urls: [AMQPURL] = []
        for group in groups {
            guard let schemeEnd = group[0].range(of: "://") else { throw fail("the first address has no scheme") }
            var scheme = String(group[0][..<schemeEnd.lowerBound])
            if scheme == "rabbit" { scheme = "amqp" }
            // The last host carries the URL's path (the vhost), which applies to every host of the group.
            var hosts = [Substring(group[0][schemeEnd.upperBound...])] + group.dropFirst()
            var path: Substring = ""
            if let slash = hosts[hosts.count - 1].firstIndex(of: "/") {
                path = hosts[hosts.count - 1][slash...]
                hosts[hosts.count - 1] = hosts[hosts.count - 1][..<slash]
            }
            if path.contains("?") {
                throw fail("query options (?...) are not supported: use amqps:// and --ca-file for TLS")
            }
            if let bad = hosts.dropLast().first(where: { $0.contains("/") }) {
                throw fail("only the last host of a URL may have a /VHOST (got \(maskList(String(bad))))")
            }
            let credentials = hosts.first { $0.contains("@") }.map { $0[..<$0.lastIndex(of: "@")!] }
            for host in hosts {
                var entry = String(host)
                if !host.contains("@"), let credentials { entry = credentials + "@" + entry }
                let candidate = scheme + "://" + entry + path
                do {
                    urls.append(try AMQPURL(candidate))
                } catch {
                    // Keep the single URL's reason, without repeating the (masked) URL and the expected form.
                    let reason = error.description.dropFirst("invalid AMQP URL \(mask(candidate)): ".count)
                    throw fail("\(mask(candidate)): " + String(reason.prefix { $0 != ";" }))
                }
            }
        }
        return urls
    }

    /// `mask` for every address of a list (`amqp://u:p@h1,u:p@h2/`).
    public static func maskList(_ text: String) -> String {
        text.split(separator: ",", omittingEmptySubsequences: false).map { item -> String in
            let item = String(item)
            guard let at = item.lastIndex(of: "@") else { return item }
            let start = item.range(of: "://")?.upperBound ?? item.startIndex
            guard start < at, let colon = item[start..<at].firstIndex(of: ":") else { return item }
            return String(item[...colon]) + "****" + String(item[at...])
        }.joined(separator: ",")
    }

    /// Masks the password of anything that looks like a URL with credentials, for error messages about bad input.
    public static func mask(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "****" + String(text[at...])
    }

}
