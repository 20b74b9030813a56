import CRabbitMQ
import Glibc
import TraceCore

/// How to reach and log in to the broker.
public struct ConnectionSettings: Sendable, Equatable {
    public var url: AMQPURL
    public var tls: TLSSettings
    /// Negotiated heartbeat in seconds (0 disables). rabbitmq-c services heartbeats only inside library calls, so the
    /// consume loop never blocks longer than `pollInterval` outside one.
    public var heartbeatSeconds: Int32
    /// `connection_name` client property, shown by `rabbitmqctl list_connections name client_properties`.
    public var connectionName: String
    public var connectTimeoutMilliseconds: Int

    public init(url: AMQPURL, tls: TLSSettings = TLSSettings(), heartbeatSeconds: Int32 = 30,
                connectionName: String, connectTimeoutMilliseconds: Int = 10_000) {
        self.url = url
        self.tls = tls
        self.heartbeatSeconds = heartbeatSeconds
        self.connectionName = connectionName
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }
}

/// TLS for `amqps://`. Peer verification is on unless explicitly disabled.
public struct TLSSettings: Sendable, Equatable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var verifyPeer: Bool
    public var verifyHostname: Bool

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true,
                verifyHostname: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
        self.verifyHostname = verifyHostname
    }
}

/// What one poll of the connection produced.
public enum Incoming {
    case delivery(Delivery)
    /// Nothing arrived within the poll interval (heartbeats were serviced meanwhile).
    case idle
    /// `connection.blocked`: the broker blocks publishers (memory or disk alarm). Consumers keep working.
    case blocked(reason: String)
    case unblocked
}

/// A message delivered to our consumer, copied out of rabbitmq-c's buffers.
public struct Delivery: Sendable {
    public var deliveryTag: UInt64
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    public var properties: MessageProperties
    public var headers: AMQPTable
    public var body: [UInt8]
}

/// One AMQP connection with one channel, through rabbitmq-c.
///
/// Confined to one thread: rabbitmq-c connections are not thread-safe. `BrokerSource` owns the thread; nothing else
/// holds a connection.
public final class AMQPConnection {
    private let state: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    private var open = false
    public let settings: ConnectionSettings
    /// The header strings of deliveries repeat from message to message (connection and node names, routing keys,
    /// queues, the nested properties' keys): each is allocated once, not once per delivery (Benchmarks/RESULTS.md).
    private let interner = StringInterner(slots: 1024)
    /// Broker notices that arrived between a delivery's content frames, returned by the next calls of `next`.
    private var pendingNotices: [Incoming] = []

    /// Opens the socket (TCP or TLS), logs in with PLAIN and opens channel 1.
    public init(settings: ConnectionSettings) throws(AMQPError) {
        self.settings = settings
        guard let state = amqp_new_connection() else {
            throw AMQPError(code: .configuration, replyText: "out of memory", operation: "connect")
        }
        self.state = state
        let url = settings.url
        let socket: OpaquePointer?
        if url.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else {
                amqp_destroy_connection(state)
                throw AMQPError(code: .configuration, replyText: "cannot create a TLS socket", operation: "connect")
            }
            amqp_ssl_socket_set_verify_peer(socket, settings.tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, settings.tls.verifyHostname ? 1 : 0)
            if let ca = settings.tls.caFile {
                let status = amqp_ssl_socket_set_cacert(socket, ca)
                guard status == AMQP_STATUS_OK.rawValue else {
                    amqp_destroy_connection(state)
                    throw AMQPError.library(status, "TLS CA file \(ca)")
                }
            }
            if let certificate = settings.tls.certificateFile, let key = settings.tls.keyFile {
                let status = amqp_ssl_socket_set_key(socket, certificate, key)
                guard status == AMQP_STATUS_OK.rawValue else {
                    amqp_destroy_connection(state)
                    throw AMQPError.library(status, "TLS client certificate \(certificate) / key \(key)")
                }
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else {
            amqp_destroy_connection(state)
            throw AMQPError(code: .configuration, replyText: "cannot create a socket", operation: "connect")
        }
        var timeout = timeval(tv_sec: settings.connectTimeoutMilliseconds / 1000,
                              tv_usec: (settings.connectTimeoutMilliseconds % 1000) * 1000)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            throw AMQPError.library(status, "connect to \(url.host):\(url.port)")
        }
        let login = tb_login_plain(
            state, url.vhost, 0, 131_072, settings.heartbeatSeconds, url.user, url.password, settings.connectionName,
            "trace-bridge", TraceBridgeScope.version)
        do {
            try check(login, "login as \(url.user) to vhost \(url.vhost)")
            amqp_channel_open(state, channel)
            try check(amqp_get_rpc_reply(state), "channel.open")
        } catch {
            amqp_destroy_connection(state)
            throw error
        }
        open = true
    }

    deinit {
        close()
    }

    /// Closes the channel and connection politely; safe to call twice.
    public func close() {
        guard open else { return }
        open = false
        _ = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        amqp_destroy_connection(state)
    }

    /// Declares a queue of ours, never exclusive or auto-delete, with `settings.declareArguments`. A refusal that
    /// retrying cannot fix (an existing queue with other arguments; a deprecated feature the broker denies) is
    /// thrown as `.queueRefused`, so the source stops instead of reconnecting forever.
    public func declareQueue(_ settings: QueueSettings) throws(AMQPError) {
        let arguments = settings.declareArguments
        // rabbitmq-c keeps pointers to the bytes until the call returns: copies that outlive it, freed below.
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func copy(_ text: String) -> UnsafeMutablePointer<CChar> {
            let pointer = strdup(text)!
            strings.append(pointer)
            return pointer
        }
        var entries = arguments.map { argument -> amqp_table_entry_t in
            switch argument.value {
            case .integer(let value): tb_i64_entry(copy(argument.key), value)
            case .string(let value): tb_string_entry(copy(argument.key), copy(value))
            }
        }
        let name = copy(settings.name)
        entries.withUnsafeMutableBufferPointer { buffer in
            let table = amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress)
            _ = amqp_queue_declare(state, channel, amqp_cstring_bytes(name), 0, settings.durable ? 1 : 0, 0, 0, table)
        }
        do {
            try check(amqp_get_rpc_reply(state), "queue.declare \(settings.name)")
        } catch {
            throw error.refusingQueueDeclare ? AMQPError(
                code: .queueRefused, replyCode: error.replyCode, replyText: error.replyText, operation: error.operation) : error
        }
    }

    public func bind(queue: String, exchange: String, routingKey: String) throws(AMQPError) {
        // amqp_cstring_bytes keeps the pointer: the C strings must outlive the call, hence the nesting.
        queue.withCString { queue in
            exchange.withCString { exchange in
                routingKey.withCString { key in
                    _ = amqp_queue_bind(state, channel, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                                        amqp_cstring_bytes(key), amqp_empty_table)
                }
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.bind \(queue) to \(exchange) with \(routingKey)")
    }

    /// `basic.qos`: at most `prefetch` unacknowledged messages in flight to us; this bounds the agent's memory.
    /// Per consumer (`global` = 0): RabbitMQ 4.3 denies global QoS (deprecated feature `global_qos`); the live
    /// tests assert `global_prefetch_count` 0 through `rabbitmqctl list_channels`.
    public func qos(prefetch: UInt16) throws(AMQPError) {
        _ = amqp_basic_qos(state, channel, 0, prefetch, /* global */ 0)
        try check(amqp_get_rpc_reply(state), "basic.qos \(prefetch)")
    }

    public func consume(queue: String) throws(AMQPError) {
        let ok = queue.withCString { queue in
            amqp_basic_consume(state, channel, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
        }
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
        if let ok { consumerTag = Self.bytes(ok.pointee.consumer_tag) }
    }

    private var consumerTag: [UInt8]?

    /// `basic.cancel`: stops new deliveries but keeps the channel, so acknowledgements can still be sent. Deliveries
    /// already on the wire still arrive (rabbitmq-c queues them while it waits for cancel-ok).
    public func cancelConsumer() throws(AMQPError) {
        guard var tag = consumerTag else { return }
        consumerTag = nil
        tag.withUnsafeMutableBytes { raw in
            _ = amqp_basic_cancel(state, channel, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress))
        }
        try check(amqp_get_rpc_reply(state), "basic.cancel")
    }

    /// Acknowledges `tag`, and with `multiple` every earlier one too.
    public func ack(_ tag: UInt64, multiple: Bool) throws(AMQPError) {
        let status = amqp_basic_ack(state, channel, tag, multiple ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.library(status, "basic.ack \(tag)") }
    }

    /// Waits up to `timeoutMilliseconds` for input on the socket unless some is already buffered, or until
    /// `wakeFD` is signalled (`BrokerSource` signals it when an acknowledgement is due).
    public func waitForInput(wakeFD: Int32, timeoutMilliseconds: Int32) {
        if tb_has_buffered_input(state) != 0 { return }
        _ = tb_wait_input(state, wakeFD, timeoutMilliseconds)
    }

    /// Waits up to `timeoutMilliseconds` for the next delivery or broker notice.
    public func next(timeoutMilliseconds: Int32) throws(AMQPError) -> Incoming {
        if !pendingNotices.isEmpty { return pendingNotices.removeFirst() }
        amqp_maybe_release_buffers(state)
        var frame = amqp_frame_t()
        let status = tb_wait_frame(state, &frame, timeoutMilliseconds)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return .idle }
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.library(status, "consume") }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD), frame.payload.method.id == TB_BASIC_DELIVER_METHOD else {
            return try handle(frame)
        }
        return .delivery(try readDelivery(frame))
    }

    /// The content of a `basic.deliver`: its header and body frames, read where rabbitmq-c decoded them (the
    /// channel's frame pool, kept until the next `amqp_maybe_release_buffers`) and copied once, into the `Delivery`.
    /// `amqp_consume_message` would first copy them into an envelope (a deep clone of the header table into a new
    /// pool, the body, exchange, routing key and consumer tag: about five `malloc`s per delivery) that was then
    /// copied again. The checks are `amqp_read_message`'s.
    private func readDelivery(_ method: amqp_frame_t) throws(AMQPError) -> Delivery {
        let deliver = method.payload.method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
        var header = amqp_frame_t()
        try waitContent(&header, channel: method.channel, type: AMQP_FRAME_HEADER)
        guard header.payload.properties.body_size <= UInt64(Int32.max) else {
            throw AMQPError.library(AMQP_STATUS_NO_MEMORY.rawValue, "consume")
        }
        let properties = header.payload.properties.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee
        var failure: AMQPError?
        let body = [UInt8](unsafeUninitializedCapacity: Int(header.payload.properties.body_size)) { buffer, count in
            while count < buffer.count {
                var frame = amqp_frame_t()
                do throws(AMQPError) {
                    try waitContent(&frame, channel: method.channel, type: AMQP_FRAME_BODY)
                } catch {
                    failure = error
                    return
                }
                let fragment = Self.buffer(frame.payload.body_fragment)
                guard fragment.count <= buffer.count - count else {
                    failure = AMQPError.library(AMQP_STATUS_BAD_AMQP_DATA.rawValue, "consume")
                    return
                }
                if let source = fragment.baseAddress {
                    (buffer.baseAddress! + count).initialize(from: source, count: fragment.count)
                }
                count += fragment.count
            }
        }
        if let failure { throw failure }
        return Delivery(deliver: deliver, properties: properties, body: body, interner: interner)
    }

    /// The next frame on `channel`, which must be of `type` (a content header or body). A channel or connection
    /// close or a cancel instead is answered as `handle` answers it (and thrown); a `connection.blocked` or
    /// `unblocked` on channel 0 is kept for the next `next()`; anything else on our channel is a protocol error.
    /// A delivery cut short is not returned: it was never acknowledged, so the broker delivers it again after the
    /// reconnection.
    private func waitContent(_ frame: inout amqp_frame_t, channel: amqp_channel_t, type: Int32) throws(AMQPError) {
        while true {
            let status = amqp_simple_wait_frame(state, &frame)
            guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError.library(status, "consume") }
            if frame.channel == channel, Int32(frame.frame_type) == type { return }
            if frame.frame_type == UInt8(AMQP_FRAME_METHOD) {
                let notice = try handle(frame)
                switch notice {
                case .blocked, .unblocked:
                    pendingNotices.append(notice)
                    continue
                case .delivery, .idle:
                    break
                }
            }
            guard frame.channel == channel else { continue }  // a channel we never opened: nothing of ours
            throw AMQPError.library(AMQP_STATUS_BAD_AMQP_DATA.rawValue, "consume")
        }
    }

    /// A frame that is not a delivery: act on it.
    private func handle(_ frame: amqp_frame_t) throws(AMQPError) -> Incoming {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return .idle }
        let method = frame.payload.method
        switch method.id {
        case TB_BASIC_CANCEL_METHOD:
            throw AMQPError(code: .consumerCancelled, operation: "consume")
        case TB_CHANNEL_CLOSE_METHOD:
            // Copy the reply text before answering: sending reuses the buffers it points into.
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let error = AMQPError(code: .channelClosed, replyCode: close.reply_code, replyText: Self.string(close.reply_text),
                                  operation: "consume")
            _ = tb_send_channel_close_ok(state, channel)
            throw error
        case TB_CONNECTION_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let error = AMQPError(code: .connectionClosed, replyCode: close.reply_code,
                                  replyText: Self.string(close.reply_text), operation: "consume")
            _ = tb_send_connection_close_ok(state)
            open = false
            amqp_destroy_connection(state)
            throw error
        case TB_CONNECTION_BLOCKED_METHOD:
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            return .blocked(reason: Self.string(blocked.reason))
        case TB_CONNECTION_UNBLOCKED_METHOD:
            return .unblocked
        default:
            return .idle
        }
    }

    /// Turns an RPC reply into nothing or a thrown error; answers server-initiated closes as the protocol requires.
    private func check(_ reply: amqp_rpc_reply_t, _ operation: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case TB_CONNECTION_CLOSE_METHOD:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let error = AMQPError(code: .connectionClosed, replyCode: close.reply_code,
                                      replyText: Self.string(close.reply_text), operation: operation)
                _ = tb_send_connection_close_ok(state)
                throw error
            case TB_CHANNEL_CLOSE_METHOD:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let error = AMQPError(code: .channelClosed, replyCode: close.reply_code,
                                      replyText: Self.string(close.reply_text), operation: operation)
                _ = tb_send_channel_close_ok(state, channel)
                throw error
            default:
                throw AMQPError(code: .connectionClosed, replyText: "unexpected server method \(reply.reply.id)",
                                operation: operation)
            }
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError.library(reply.library_error, operation)
        default:
            throw AMQPError(code: .library, replyText: "no reply", operation: operation)
        }
    }

    static func string(_ bytes: amqp_bytes_t) -> String {
        String(decoding: buffer(bytes), as: UTF8.self)
    }

    /// The same string, from `interner` when it holds it (invalid UTF-8 is repaired as `string(_:)` repairs it).
    static func string(_ bytes: amqp_bytes_t, _ interner: StringInterner?) -> String {
        let buffer = buffer(bytes)
        return interner?.string(buffer) ?? String(decoding: buffer, as: UTF8.self)
    }

    /// rabbitmq-c's bytes in place, valid until the frame is released.
    static func buffer(_ bytes: amqp_bytes_t) -> UnsafeBufferPointer<UInt8> {
        guard bytes.len > 0, let base = bytes.bytes else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.len)
    }

    static func bytes(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let base = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
    }
}
