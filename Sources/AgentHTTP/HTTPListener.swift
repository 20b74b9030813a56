import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import TraceCore

/// The agent's one HTTP listener: `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/traces` (HTML) and
/// `/traces.json`. GET only, no request bodies, small responses: a plain SwiftNIO HTTP/1.1 server is enough.
public struct HTTPListener: Service {
    public let host: String
    public let port: Int
    let routes: HTTPRoutes
    let logger: Logger

    /// Logs the address it listens on (`http listening address=HOST:PORT`; the real port when `port` is 0).
    public init(host: String, port: Int, status: AgentStatus, registry: PrometheusCollectorRegistry, logger: Logger,
                clock: @escaping @Sendable () -> Int64) {
        self.host = host
        self.port = port
        routes = HTTPRoutes(status: status, registry: registry, clock: clock)
        self.logger = logger
    }

    /// Parses `HOST:PORT` (`[v6]:PORT` too).
    public static func parse(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    public func run() async throws {
        let routes = routes
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(HTTPHandler(routes: routes))
                }
            }
            .bind(host: host, port: port).get()
        } catch {
            throw HTTPListenerError(description: "cannot serve /metrics, /healthz, /readyz and /traces on \(host):\(port): \(error) (another trace-bridge on this host? choose another address with --http-listen / http.listen, or off)")
        }
        logger.info("http listening", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// The listener could not start; says where and what to do.
public struct HTTPListenerError: Error, CustomStringConvertible {
    public var description: String
}

/// What each path answers; separate from the I/O so it reads as the endpoint catalogue.
struct HTTPRoutes: Sendable {
    let status: AgentStatus
    let registry: PrometheusCollectorRegistry
    let clock: @Sendable () -> Int64

    struct Response {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
    }

    func respond(to path: String) -> Response {
        switch path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path {
        case "/metrics":
            return Response(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.emitToBuffer() + Array(status.busMetricsExposition.utf8))
        case "/healthz":
            return Response(status: .ok, contentType: "text/plain; charset=utf-8", body: Array("ok\n".utf8))
        case "/readyz":
            let (ready, reason) = status.readiness(now: clock())
            return Response(status: ready ? .ok : .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                            body: Array((reason + "\n").utf8))
        case "/traces", "/traces/":
            let html = TraceWebRenderer().html(
                status.recentTraces, title: "trace-bridge: recent traces",
                generatedAt: Date().formatted(.iso8601))
            return Response(status: .ok, contentType: "text/html; charset=utf-8", body: Array(html.utf8))
        case "/traces.json":
            return Response(status: .ok, contentType: "application/json", body: TraceWebRenderer().json(status.recentTraces))
        case "/":
            let index = "trace-bridge: /traces (recent traces), /traces.json, /metrics, /healthz, /readyz\n"
            return Response(status: .ok, contentType: "text/plain; charset=utf-8", body: Array(index.utf8))
        default:
            return Response(status: .notFound, contentType: "text/plain; charset=utf-8",
                            body: Array("not found; try /traces, /metrics, /healthz or /readyz\n".utf8))
        }
    }
}

private final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: HTTPRoutes
    private var request: HTTPRequestHead?

    init(routes: HTTPRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // GET only: bodies are ignored
        case .end:
            guard let head = request else { return }
            request = nil
            let response = head.method == .GET || head.method == .HEAD
                ? routes.respond(to: head.uri)
                : HTTPRoutes.Response(status: .methodNotAllowed, contentType: "text/plain", body: Array("GET only\n".utf8))
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: "\(response.body.count)")
            headers.add(name: "Cache-Control", value: "no-store")
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
