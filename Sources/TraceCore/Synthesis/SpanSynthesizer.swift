/// Turns decoded bus events into OpenTelemetry spans (docs/synthesis.md).
///
/// A value type fed one event at a time, in event-time order; it never reads a clock, so replay and live agree.
/// Spans come out when they are complete: PRODUCER at publish, CONSUMER at delivery, SERVER at the reply's publish,
/// CLIENT at the reply's delivery or when the call times out (judged against event time in `advance(to:)`).
public struct SpanSynthesizer {
    public let options: SynthesisOptions
    public private(set) var counters = SynthesisCounters()

    /// Published messages by identity: their trace, the parent of their consumer spans, and publish time.
    private var publishes: ExpiringCache<String, PublishRecord>
    /// Open calls by `_msg_id`.
    private var calls: ExpiringCache<String, CallRecord>
    /// Handlers per request ID: who is working on the request, for cause inference and sender attribution.
    private var requests: ExpiringCache<String, RequestRecord>
    /// Deliveries already handled, by their receive span ID (a hash of identity + queue, + consumer for stream
    /// queues): a redelivery to the same queue is emitted once. The ID, not the strings, is the key: the largest
    /// table (twice the capacity) then holds 8 bytes per key instead of two strings and their buffers. Two
    /// deliveries whose 64-bit IDs collide (about 1e-9 at 200,000 entries) would be counted as one duplicate.
    private var deliveries: ExpiringCache<SpanID, Void>
    /// Processes learned from certain evidence: the publisher behind a broker connection name, the consumer behind
    /// a connection (learned from `<topic>.<server>` deliveries), and the caller behind a reply queue.
    private var publisherConnections: ExpiringCache<String, ServiceIdentity>
    private var consumerConnections: ExpiringCache<String, ServiceIdentity>
    private var replyQueues: ExpiringCache<String, ServiceIdentity>
    /// Earliest client deadline among open calls, so `advance(to:)` scans only when something can expire.
    private var nextDeadline: Int64 = .max
    /// Set once a firehose publish came without `routed_queues` (`FirehoseHeader`): no delivery is inferred from
    /// routing then, so routing shows no handlers either, and sender attribution must not count on it.
    private var routingUnreported = false
    /// Span names, destination templates and `rpc.method` values repeat span after span: built on the stack and
    /// shared from here, not allocated per span (`StringInterner.concatenated`). Copies of the synthesizer share it,
    /// which only shares a cache: a synthesizer is used by one task at a time.
    private let interner = StringInterner(slots: 1024)

    public init(options: SynthesisOptions = SynthesisOptions()) {
        self.options = options
        let capacity = options.correlationCapacity
        let age = options.correlationMaximumAge
        publishes = ExpiringCache(capacity: capacity, maximumAge: age)
        // Calls live until their own deadline (nova's long_rpc_timeout is 30 min); the age bound is a backstop.
        calls = ExpiringCache(capacity: capacity, maximumAge: max(age, 2 * 3600 * 1_000_000_000))
        requests = ExpiringCache(capacity: capacity, maximumAge: age)
        deliveries = ExpiringCache(capacity: capacity * 2, maximumAge: age)
        publisherConnections = ExpiringCache(capacity: 65536, maximumAge: 24 * 3600 * 1_000_000_000)
        consumerConnections = ExpiringCache(capacity: 65536, maximumAge: 24 * 3600 * 1_000_000_000)
        replyQueues = ExpiringCache(capacity: 65536, maximumAge: 24 * 3600 * 1_000_000_000)
    }

    /// Entries held in the correlation state, for the metrics endpoint.
    public var correlationEntries: Int {
        publishes.count + calls.count + requests.count + deliveries.count
    }

    /// Handlers held for one request ID: at most `RequestRecord.maximumHandlers`, however long the request lives.
    func handlersHeld(forRequest requestID: String) -> Int { requests[requestID]?.handlers.count ?? 0 }

    // MARK: Events

    /// Processes one decoded event; returns the spans it completed (including calls that timed out before it).
    public mutating func process(_ event: BusEvent, _ message: OsloMessage) -> [Span] {
        var spans = expire(now: event.time)
        for field in message.context.rejectedFields { counters.rejectedContextFields[field, default: 0] += 1 }
        switch (event.kind, message.kind) {
        case (.publish, .request), (.publish, .notification):
            published(event, message, into: &spans)
        case (.deliver, .request), (.deliver, .notification):
            delivered(event, message, into: &spans)
        case (.publish, .reply):
            replyPublished(event, message, into: &spans)
        case (.deliver, .reply):
            replyDelivered(event, message, into: &spans)
        }
        for span in spans { counters.countSpan(span.kind) }
        return spans
    }

    /// Moves event time forward: calls whose deadline passed close as timed out, stale correlation state leaves.
    public mutating func advance(to now: Int64) -> [Span] {
        let spans = expire(now: now)
        for span in spans { counters.countSpan(span.kind) }
        return spans
    }

    private mutating func expire(now: Int64) -> [Span] {
        var spans: [Span] = []
        if now > nextDeadline {
            var earliest = Int64.max
            for msgID in Array(calls.keys) {
                guard var call = calls[msgID], !call.clientClosed else { continue }
                let deadline = call.clientDeadline
                if deadline < now {
                    spans.append(contentsOf: closeClient(&call, at: deadline, timedOut: true))
                    calls[msgID] = call
                } else {
                    earliest = min(earliest, deadline)
                }
            }
            nextDeadline = earliest
        }
        evict(now: now, into: &spans)
        return spans
    }

    /// End of input (end of a replay, shutdown): every open call is closed as of its deadline, since no reply can
    /// be seen any more. A call whose reply was published but whose delivery was not seen ends at the publish.
    public mutating func finish() -> [Span] {
        var spans: [Span] = []
        for (_, var call) in calls.removeAll() {
            if call.clientClosed {
            } else if let replied = call.replyPublishedAt {
                spans.append(contentsOf: closeClient(&call, at: replied, timedOut: false))
            } else {
                spans.append(contentsOf: closeClient(&call, at: call.clientDeadline, timedOut: true))
            }
            spans.append(contentsOf: flushServer(&call))
        }
        nextDeadline = .max
        spans.sort { ($0.startTime, $0.spanID.value) < ($1.startTime, $1.spanID.value) }
        for span in spans { counters.countSpan(span.kind) }
        return spans
    }

    /// The longest call timeout honoured (a day): larger `expiration` or `_timeout` values are clamped.
    static let maximumTimeout: Int64 = 86_400 * 1_000_000_000

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// Counts an event that produced nothing, by reason.
    public mutating func countSkipped(_ reason: SkipReason) {
        counters.skipped[reason, default: 0] += 1
    }

    // MARK: Publish of a request or notification

    private mutating func published(_ event: BusEvent, _ message: OsloMessage, into spans: inout [Span]) {
        let identity = Self.identity(of: message, event: event)
        if event.missingHeaders.contains(.routedQueues) { routingUnreported = true }
        if publishes[identity] != nil {
            countSkipped(.duplicatePublish)
            return
        }
        let map = options.serviceMap
        let target = map.target(exchange: event.exchange, routingKey: event.routingKey)
        let destination = map.service(of: target)
        let requestID = message.context.requestID
        // Taken out of the table until it is inserted again below, so that changing its handlers (a cause's
        // `lastActive`, `blockedOn`) does not copy them: a long-lived request holds up to 256.
        var request = requestID.flatMap { requests.removeValue(for: $0) }

        var sender = attributeSender(message, event: event, target: target, destination: destination, request: request)
        if message.isCall, let replyQueue = message.replyQueue, sender.host == nil, !sender.isUnknown,
            let name = map.target(ofQueue: replyQueue).queueManagerName
        {
            // `reply_<hostname>:<processname>:<n>` is read by the caller's process only: its host is in the name.
            sender.host = name.hostname
        }
        // Between equally good handlers about different instances none is guessed: the publish hangs on their
        // common ancestor (what is certain) and says so.
        var causeIndex: Int?
        var parentHandler: Int?
        var causeAmbiguous = false
        switch sender.isUnknown ? nil : request?.cause(for: sender, subject: message.subject) {
        case .handler(let index)?: (causeIndex, parentHandler) = (index, index)
        case .ambiguous(let ancestor)?: (parentHandler, causeAmbiguous) = (ancestor, true)
        case nil: break
        }
        var context = traceContext(of: message, event: event, identity: identity, cause: parentHandler.map { request!.handlers[$0] })
        if context.fromSender { causeAmbiguous = false }  // the sender's own span is its parent: nothing was inferred
        if causeAmbiguous { counters.causeAmbiguous += 1 }
        if parentHandler == nil, !causeAmbiguous, Self.startsOwnTrace(message, request: request, context: context) {
            context.traceID = SpanIDScheme.traceID(identity: identity)
        }

        // A call is one CLIENT span (and its SERVER): its request message gets no PRODUCER or CONSUMER of ours, so
        // that service graphs pair CLIENT and SERVER directly and count the call once (docs/synthesis.md, "A call").
        // Its send span ID and consumer parent are therefore never needed: not hashed (one SHA-256 per call).
        let emitProducer = !message.isCall
            && !(context.fromSender && options.senderTraced == .complement && message.context.traceParent != nil)
        let producerID = message.isCall ? nil : SpanIDScheme.spanID(role: .send, identity: identity)
        let consumerParent = producerID.map {
            Self.consumerParent(of: message, event: event, identity: identity, options: options, sendID: $0)
        }

        // Shared by the PRODUCER and, for a call, the CLIENT and SERVER spans: built once.
        var attributes = commonAttributes(message, event: event, identity: identity, target: target)
        // The service the message is for, when the map names one: a service graph's virtual node when nothing
        // answers (a timed-out call, an unroutable publish).
        let peer = destination.flatMap { $0.isUnknown ? nil : $0.service }
        // Only a publish the broker could not route failed. An ERROR-priority notification was sent fine: its
        // priority is an attribute, not the span's status.
        var status = Span.Status.unset
        let unroutable = event.routedQueues?.isEmpty ?? false
        if unroutable { status = .error("unroutable: no queue is bound for routing key \(event.routingKey)") }
        // A call never gets a PRODUCER (above), so `attributes` stays the common set for its CLIENT and SERVER.
        if emitProducer, let producerID {
            let template = map.destinationTemplate(
                exchange: event.exchange, routingKey: event.routingKey, target: target, interner: interner)
            attributes.append(Attribute(AttributeKey.messagingOperationType, .string("send")))
            attributes.append(Attribute(AttributeKey.messagingOperationName, .string("publish")))
            attributes.append(Attribute(AttributeKey.messagingDestinationTemplate, .string(template)))
            if let node = event.node { attributes.append(Self.serverAddress(node: node)) }
            if let peer { attributes.append(contentsOf: Self.peerAttributes(peer)) }
            if causeAmbiguous { attributes.append(Self.ambiguousCause) }
            if unroutable {
                attributes.append(Attribute(AttributeKey.errorType, .string("unroutable")))
                attributes.append(Attribute(AttributeKey.traceBridgeUnroutable, .bool(true)))
            }
            spans.append(Span(
                traceID: context.traceID, spanID: producerID, parentSpanID: context.parent,
                parentIsRemote: context.parentIsRemote, traceState: context.traceState,
                name: interner.concatenated("publish ", template), kind: .producer,
                startTime: event.time, endTime: event.time, attributes: attributes, status: status,
                resource: sender))
        }

        publishes.insert(
            PublishRecord(
                traceID: context.traceID, traceState: context.traceState, strong: context.strong,
                consumerParent: consumerParent, time: event.time,
                cause: parentHandler.map { request!.handlers[$0].spanID }),
            for: identity, at: event.time)

        if let index = causeIndex {
            request!.handlers[index].lastActive = event.time
        }
        // A call is tracked only when its reply can be seen (published to the default exchange, or delivered).
        let replyVisible = options.visibility.seesReplies
            || message.replyQueue.map { options.visibility.seesDeliveries(fromQueue: $0) } ?? false
        if message.isCall, let msgID = message.msgID {
            // Hostile values must not trap: timeouts are clamped to a day and deadlines saturate.
            let timeout = event.properties.expirationMilliseconds.map { min($0, Self.maximumTimeout / 1_000_000) * 1_000_000 }
                ?? options.defaultCallTimeout
            var callAttributes = attributes
            if let expiration = event.properties.expirationMilliseconds {
                callAttributes.append(Attribute(AttributeKey.openstackRpcTimeoutMS, .int(expiration)))
            }
            if unroutable { callAttributes.append(Attribute(AttributeKey.traceBridgeUnroutable, .bool(true))) }
            var call = CallRecord(
                msgID: msgID, identity: identity, requestID: requestID, traceID: context.traceID,
                traceState: context.traceState, clientParent: context.parent,
                clientParentIsRemote: context.parentIsRemote, caller: sender, start: event.time,
                deadline: Self.saturatingAdd(event.time, timeout),
                monitorInterval: message.monitorTimeout.flatMap { seconds in
                    seconds.isFinite && seconds > 0 ? Int64(min(seconds, Double(Self.maximumTimeout) / 1e9) * 1e9) : nil
                },
                lastProgress: event.time, name: Self.rpcMethod(message, target: target, interner: interner), peer: peer,
                attributes: callAttributes, causeAmbiguous: causeAmbiguous)
            if replyVisible {
                if let replyQueue = message.replyQueue, !sender.isUnknown {
                    replyQueues.insert(sender, for: replyQueue, at: event.time)
                }
                calls.insert(call, for: msgID, at: event.time)
                nextDeadline = min(nextDeadline, call.clientDeadline)
                if let index = causeIndex {
                    request!.handlers[index].blockedOn.insert(msgID)
                }
            } else {
                // No reply can be seen here (a tap): the CLIENT still stands for the call, so that the SERVER of
                // whichever agent sees the delivery has its parent; it ends where our view of it does.
                spans.append(contentsOf: closeClient(
                    &call, at: event.time, timedOut: false, end: .unobserved,
                    unroutable: unroutable ? status : nil))
            }
        }
        if let requestID {
            var record = request ?? RequestRecord()
            record.publishes += 1
            record.lastPublishAt = event.time
            // (Re)inserting keeps an active request young in the age-bounded table.
            requests.insert(record, for: requestID, at: event.time)
        }
        // Deliveries this source cannot see happen anyway: the broker says where it routed the message.
        let routed = options.visibility.seesRouting ? event.routedQueues ?? [] : []
        for queue in routed where !options.visibility.seesDeliveries(fromQueue: queue) {
            // Only queues whose consumer the service map names: a queue nobody is known to read (notifications
            // piling up for a listener that is not running) says where the message went, not that it was consumed.
            let target = options.serviceMap.target(ofQueue: queue)
            guard !target.isReplyQueue, !(options.serviceMap.service(of: target)?.isUnknown ?? true) else {
                if !target.isReplyQueue { countSkipped(.inferredDeliveryToUnmappedQueue) }
                continue
            }
            // A stream (`rabbit_stream_fanout`) is read by every listener of the topic, and routing does not say
            // how many there are: one inferred span would be none of theirs (their IDs name their connections).
            if target.isStreamQueue {
                countSkipped(.inferredDeliveryToStreamQueue)
                continue
            }
            received(event, message, identity: identity, queue: queue, observed: false, into: &spans)
        }
    }

    /// Decides who published a request or notification (docs/synthesis.md "Who sent it", in order).
    private mutating func attributeSender(
        _ message: OsloMessage, event: BusEvent, target: ServiceMap.Target, destination: ServiceIdentity?,
        request: RequestRecord?
    ) -> ServiceIdentity {
        let map = options.serviceMap
        if message.kind == .notification, let publisherID = message.publisherID {
            let sender = map.publisher(publisherID)
            if let connection = event.connection { publisherConnections.insert(sender, for: connection, at: event.time) }
            return sender
        }
        if let connection = event.connection, let known = publisherConnections[connection] { return known }
        if message.isCall, let replyQueue = message.replyQueue {
            if let known = replyQueues[replyQueue] { return known }
            // Queue manager: the reply queue names the caller's process. Its name is a service only when it is one
            // the map knows (the default is argv[0]'s basename: `nova-conductor`, but `uwsgi` for a WSGI API).
            if let name = map.target(ofQueue: replyQueue).queueManagerName, map.isKnownService(name.processname) {
                return ServiceIdentity(service: name.processname, host: name.hostname)
            }
        }
        if let request, let handler = request.mostRecentlyActiveOpenHandler(excluding: destination, subject: message.subject),
            message.context.namesUser || handler.lastActive >= request.lastPublishAt
        {
            // Under a context without a user (a service's own, possibly one for the process's life) only a handler
            // that received or sent something since the request's last publish: a cast's handler never closes, and
            // those of the request's earlier roots (an l2population cast to another agent hours ago) are not at work.
            return handler.process
        }
        // No handler of R can have sent it: under a user's context the request's origin, the API, is the one party
        // still acting (its first publish, or a later one after its calls were answered). Without deliveries, seen
        // or inferred from routing, there are no handlers to rule out, so only the first publish qualifies.
        let firstPublish = (request?.publishes ?? 0) == 0
        let handlersVisible = options.visibility.seesAllDeliveries || (options.visibility.seesRouting && !routingUnreported)
        if message.context.namesUser, handlersVisible || firstPublish,
            let api = map.apiService(exchange: event.exchange, topic: target.topic)
        {
            return ServiceIdentity(service: api)
        }
        return .unknown
    }

    // MARK: Delivery of a request or notification

    private mutating func delivered(_ event: BusEvent, _ message: OsloMessage, into spans: inout [Span]) {
        guard let queue = event.queue else { return }
        if options.ignoredQueues.contains(queue) {
            countSkipped(.ownQueue)
            return
        }
        received(event, message, identity: Self.identity(of: message, event: event), queue: queue, observed: true,
                 into: &spans)
    }

    /// A delivery to `queue`: seen (`observed`, `event` is the delivery) or inferred from the publish's routing
    /// (`event` is the publish; the delivery time is not known, so the span has no queue wait and says so).
    private mutating func received(
        _ event: BusEvent, _ message: OsloMessage, identity: String, queue: String, observed: Bool,
        into spans: inout [Span]
    ) {
        if options.ignoredQueues.contains(queue) { return }
        let queueTarget = options.serviceMap.target(ofQueue: queue)
        let headers = observed ? event.properties.headers : nil
        // A stream is read by every listener of the topic: each one's delivery is its own span, told apart by the
        // consumer's connection and channel (scheme v2). Known by name (`<topic>_fanout`), or by the offset the
        // broker adds to every message a stream delivers.
        // Without the `connection` header (counted as missing by the pipeline) the v1 ID stands: the first
        // listener's delivery is kept and the others' are counted as duplicates, never attributed by a guess.
        var consumer: SpanIDScheme.Consumer?
        if observed, queueTarget.isStreamQueue || headers?["x-stream-offset"] != nil, let connection = event.connection {
            consumer = SpanIDScheme.Consumer(connection: connection, channel: event.channel)
        }
        let consumerID = SpanIDScheme.spanID(role: .receive, identity: identity, queue: queue, consumer: consumer)
        if deliveries[consumerID] != nil {
            countSkipped(.duplicateDelivery)
            return
        }
        deliveries.insert((), for: consumerID, at: event.time)

        let receiver = receiverOf(
            queue: queue, target: queueTarget, connection: observed ? event.connection : nil, at: event.time)
        let published = publishes[identity]
        let context = published.map {
            TraceContext(traceID: $0.traceID, parent: $0.consumerParent, parentIsRemote: true, traceState: $0.traceState,
                         strong: $0.strong, fromSender: false)
        } ?? traceContext(of: message, event: event, identity: identity, cause: nil)

        let foreign = options.foreignQueues.contains { SourceVisibility.topicMatches($0, queue) }
        // The queue wait, when both ends were seen: an attribute, since the span itself starts at the delivery.
        let queueWait = observed ? published.map { event.time - $0.time } : nil
        // The delivery opens a handler of the receiving service: a call's handler is its SERVER span (whatever this
        // agent sees of the call, so that every agent parents the handler's publishes alike), a cast's its CONSUMER.
        let handlerSpan: SpanID
        if message.isCall, let msgID = message.msgID {
            handlerSpan = SpanIDScheme.spanID(role: .process, identity: identity, queue: queue)
            if foreign {
                countSkipped(.foreignQueue)
            } else {
                var server = ServerSide(
                    queue: queue, callee: receiver, deliveredAt: observed ? event.time : nil,
                    publishedAt: published?.time ?? event.time, spanID: handlerSpan,
                    deliveryConnection: observed ? event.connection : nil, queueWait: queueWait,
                    redelivered: observed && Self.redelivered(event, headers: headers),
                    node: observed ? event.node : nil)
                if var call = calls[msgID], call.server == nil {
                    call.server = server
                    calls[msgID] = call
                } else {
                    // The call was not seen (hypervisor role, or before we started), or is already handled
                    // elsewhere: the SERVER is ours to emit, and its end is not ours to see.
                    let target = options.serviceMap.target(exchange: event.exchange, routingKey: event.routingKey)
                    spans.append(serverSpan(
                        &server, identity: identity, traceID: context.traceID, traceState: context.traceState,
                        name: Self.rpcMethod(message, target: target, interner: interner),
                        attributes: commonAttributes(message, event: event, identity: identity, target: target),
                        end: nil, failure: nil))
                }
            }
        } else {
            handlerSpan = consumerID
            // Derived from the message alone, so the publish's record, when there is one, already holds it.
            let parent = published?.consumerParent
                ?? Self.consumerParent(of: message, event: event, identity: identity, options: options)
            let target = options.serviceMap.target(exchange: event.exchange, routingKey: event.routingKey)
            var attributes = commonAttributes(message, event: event, identity: identity, target: target)
            // `process`: oslo.messaging's listeners are pushed deliveries (basic.consume) and handle them at once.
            let destination = options.serviceMap.destinationTemplate(
                exchange: event.exchange, routingKey: event.routingKey, target: target, interner: interner)
            let template = interner.concatenated(
                destination, ":", options.serviceMap.queueTemplate(queue, target: queueTarget, interner: interner))
            attributes.append(Attribute(AttributeKey.messagingOperationType, .string("process")))
            attributes.append(Attribute(AttributeKey.messagingOperationName, .string("process")))
            attributes.append(Attribute(AttributeKey.messagingDestinationSubscriptionName, .string(queue)))
            attributes.append(Attribute(AttributeKey.messagingDestinationTemplate, .string(template)))
            // An inferred delivery's event is the publish: its node is the sender's, not the receiver's.
            if observed, let node = event.node { attributes.append(Self.serverAddress(node: node)) }
            Self.appendDeliveryFacts(
                to: &attributes, observed: observed, queueWait: queueWait,
                redelivered: observed && Self.redelivered(event, headers: headers))
            if receiver.isUnknown { attributes.append(Attribute(AttributeKey.traceBridgeUnknownQueue, .string(queue))) }
            // The CONSUMER starts at the delivery (Tempo and the servicegraph connector measure a messaging edge as
            // consumer start − producer end: the queue wait); casts have no end of their handling to show.
            if foreign { countSkipped(.foreignQueue) } else { spans.append(Span(
                traceID: context.traceID, spanID: consumerID, parentSpanID: parent, parentIsRemote: true,
                traceState: context.traceState, name: interner.concatenated("process ", template), kind: .consumer,
                startTime: event.time, endTime: event.time, attributes: attributes,
                resource: receiver)) }
        }
        guard let requestID = message.context.requestID else { return }
        // Taken out and inserted again (below): appending to a handler list still held by the table would copy it.
        var request = requests.removeValue(for: requestID) ?? RequestRecord()
        request.handlers.append(Handler(
            process: receiver, spanID: handlerSpan, traceID: context.traceID, traceState: context.traceState,
            strong: context.strong, openedAt: event.time, lastActive: event.time,
            callMsgID: message.isCall ? message.msgID : nil,
            // A fanout's listeners, like notification listeners, are never inferred as RPC senders: a broadcast
            // reaches every agent, and none of them is the one behind the request's next publish (neutron's agents
            // act on their own contexts; the API sends the request's next fanout or cast).
            isNotification: message.kind == .notification || event.exchange.hasSuffix("_fanout"),
            subject: message.subject, cause: published?.cause))
        if request.handlers.count > RequestRecord.maximumHandlers {
            request.handlers.removeFirst(request.handlers.count - RequestRecord.maximumHandlers)
            counters.evictions["handlers", default: 0] += 1
        }
        requests.insert(request, for: requestID, at: event.time)
    }

    /// The owner of a queue: the caller behind a reply queue, else the service map, with the host from the
    /// queue name (`<topic>.<server>`), from the consumer's connection once learned, else from a queue-manager
    /// fanout name (`<topic>_fanout_<hostname>:<processname>:<n>`).
    ///
    /// The server in `<topic>.<server>` is the service's own `host` option (what publisher IDs carry too), the
    /// queue manager's hostname is oslo.messaging's `[oslo_messaging_rabbit] hostname`: both default to
    /// `socket.gethostname()`, but may be set apart, so the former wins where the connection is known.
    private mutating func receiverOf(
        queue: String, target: ServiceMap.Target, connection: String?, at time: Int64
    ) -> ServiceIdentity {
        let map = options.serviceMap
        if target.isReplyQueue { return replyQueues[queue] ?? .unknown }
        guard var owner = map.service(of: target) else { return .unknown }
        let isNotification = map.entry(ofTopic: target.topic)?.isNotificationTopic ?? false
        if owner.host != nil, !isNotification {
            // One oslo.messaging RPC listener connection consumes `<topic>`, `<topic>.<server>` and the fanout
            // queue (or stream) of one process: learn it from the queue that names the server.
            if let connection { consumerConnections.insert(owner, for: connection, at: time) }
        } else if let connection, let known = consumerConnections[connection], known.service == owner.service,
            known.host != nil
        {
            owner.host = known.host
        } else if !isNotification, let name = target.queueManagerName {
            owner.host = name.hostname
            if let connection { consumerConnections.insert(owner, for: connection, at: time) }
        }
        return owner
    }

    // MARK: Replies

    private mutating func replyPublished(_ event: BusEvent, _ message: OsloMessage, into spans: inout [Span]) {
        guard let msgID = message.msgID, var call = calls[msgID] else {
            countSkipped(.replyToUnknownCall)
            return
        }
        if message.isHeartbeat {
            call.lastProgress = event.time
            calls[msgID] = call
            nextDeadline = min(nextDeadline, call.clientDeadline)
            return
        }
        guard call.replyPublishedAt == nil else {
            countSkipped(.duplicateReply)
            return
        }
        call.replyPublishedAt = event.time
        call.failure = message.failure
        if var server = call.server, !server.emitted {
            // Learned from deliveries seen only: an inferred callee may lack its host, which a connection must not
            // pass on to everything its process publishes.
            if server.observed, let connection = event.connection, !server.callee.isUnknown {
                if server.callee.host == nil, let known = publisherConnections[connection], known.mayBe(server.callee) {
                    // The callee's publishing connection is known from its notifications: now its host is too, and
                    // so is the host behind the listener connection the call was delivered on.
                    server.callee = known
                    if let listener = server.deliveryConnection {
                        consumerConnections.insert(known, for: listener, at: event.time)
                    }
                } else {
                    publisherConnections.insert(server.callee, for: connection, at: event.time)
                }
            }
            spans.append(serverSpan(&server, of: call, end: event.time, failure: message.failure))
            call.server = server
            if let requestID = call.requestID {
                requests.withValue(for: requestID) { $0.close(handlerSpan: server.spanID) }
            }
        } else if let requestID = call.requestID {
            // The delivery was not seen at all, nor inferred: its handler is done all the same.
            requests.withValue(for: requestID) { $0.close(callMsgID: msgID) }
        }
        if !options.visibility.seesDeliveries(fromQueue: event.routingKey) {
            // This source never sees the reply's delivery: the publish is the last thing the call shows.
            spans.adopt(closeClient(&call, at: event.time, timedOut: false, end: .replyPublished))
            calls.removeValue(for: msgID)
            return
        }
        calls[msgID] = call
    }

    private mutating func replyDelivered(_ event: BusEvent, _ message: OsloMessage, into spans: inout [Span]) {
        guard let msgID = message.msgID, var call = calls[msgID] else {
            countSkipped(.replyToUnknownCall)
            return
        }
        if message.isHeartbeat {
            call.lastProgress = event.time
            calls[msgID] = call
            return
        }
        if call.clientClosed {
            countSkipped(call.timedOut ? .replyAfterTimeout : .duplicateReply)
            return
        }
        if call.failure == nil { call.failure = message.failure }
        spans.adopt(closeClient(&call, at: event.time, timedOut: false))
        if call.server == nil || call.replyPublishedAt != nil {
            calls.removeValue(for: msgID)
        } else {
            calls[msgID] = call
        }
    }

    /// Where a CLIENT span ends when not at its reply's delivery (`trace_bridge.call_end`).
    public enum CallEnd: String, Sendable {
        case replyDelivered = ""
        /// The source never sees reply deliveries: the reply's publish is the last thing the call shows.
        case replyPublished = "reply_published"
        /// The source sees no replies at all (a tap): the CLIENT ends at its publish.
        case unobserved
    }

    /// Closes a call's CLIENT span and unblocks the handler that sent it; a SERVER still pending (delivered, no reply
    /// seen) comes out with a timeout, since no reply can end it any more (`unroutable`: the publish's failed
    /// status, for a call closed at its publish).
    private mutating func closeClient(
        _ call: inout CallRecord, at end: Int64, timedOut: Bool, end how: CallEnd = .replyDelivered,
        unroutable: Span.Status? = nil
    ) -> [Span] {
        call.clientClosed = true
        call.timedOut = timedOut
        if let requestID = call.requestID {
            let msgID = call.msgID
            requests.withValue(for: requestID) { $0.unblock(msgID: msgID) }
        }
        var attributes = call.attributes
        if how != .replyDelivered { attributes.append(Attribute(AttributeKey.traceBridgeCallEnd, .string(how.rawValue))) }
        if let peer = call.peer { attributes.append(contentsOf: Self.peerAttributes(peer)) }
        if call.causeAmbiguous { attributes.append(Self.ambiguousCause) }
        var events: [Span.Event] = []
        let status: Span.Status
        if timedOut {
            counters.timeouts += 1
            status = .error("timeout")
            attributes.append(Attribute(AttributeKey.errorType, .string("timeout")))
            events = [Span.Event(
                name: "exception", time: end,
                attributes: [
                    Attribute(AttributeKey.exceptionType, .string("oslo_messaging.exceptions.MessagingTimeout")),
                    Attribute(AttributeKey.exceptionMessage, .string("no reply within the call timeout")),
                ])]
        } else if let failure = call.failure {
            status = .error(Self.statusMessage(failure))
            attributes.append(Attribute(AttributeKey.errorType, .string(failure.qualifiedName)))
            events = failureEvents(failure, at: end)
        } else if let unroutable {
            status = unroutable
            attributes.append(Attribute(AttributeKey.errorType, .string("unroutable")))
        } else {
            status = .unset
        }
        var spans = [Span(
            traceID: call.traceID, spanID: SpanIDScheme.spanID(role: .call, identity: call.identity),
            parentSpanID: call.clientParent, parentIsRemote: call.clientParentIsRemote, traceState: call.traceState,
            name: call.name, kind: .client, startTime: call.start, endTime: end, attributes: attributes,
            events: events, status: status, resource: call.caller)]
        if timedOut { spans.append(contentsOf: flushServer(&call)) }
        return spans
    }

    /// The SERVER of a call delivered but never seen replying, when no reply can end it any more (the call timed
    /// out, the input ended, the record is evicted).
    private func flushServer(_ call: inout CallRecord) -> [Span] {
        guard var server = call.server, !server.emitted else { return [] }
        let span = serverSpan(&server, of: call, end: nil, failure: nil)
        call.server = server
        return [span]
    }

    /// The SERVER span of a call: from the delivery (or, inferred, from the publish) to the reply's publish (`end`;
    /// nil when no reply was seen: it ends where it starts and says so). Its parent is the CLIENT, whose ID every
    /// agent derives from the message alone, so a hypervisor's SERVER joins the control plane's CLIENT.
    private func serverSpan(_ server: inout ServerSide, of call: CallRecord, end: Int64?, failure: RemoteFailure?) -> Span {
        serverSpan(
            &server, identity: call.identity, traceID: call.traceID, traceState: call.traceState, name: call.name,
            attributes: call.attributes, end: end, failure: failure)
    }

    private func serverSpan(
        _ server: inout ServerSide, identity: String, traceID: TraceID, traceState: String?, name: String,
        attributes common: [Attribute], end: Int64?, failure: RemoteFailure?
    ) -> Span {
        server.emitted = true
        var attributes = common
        attributes.append(Attribute(AttributeKey.messagingDestinationSubscriptionName, .string(server.queue)))
        if let node = server.node { attributes.append(Self.serverAddress(node: node)) }
        Self.appendDeliveryFacts(
            to: &attributes, observed: server.observed, queueWait: server.queueWait, redelivered: server.redelivered)
        if end == nil { attributes.append(Attribute(AttributeKey.traceBridgeCallEnd, .string(CallEnd.unobserved.rawValue))) }
        if let failure { attributes.append(Attribute(AttributeKey.errorType, .string(failure.qualifiedName))) }
        let stop = end.map { max($0, server.start) } ?? server.start
        return Span(
            traceID: traceID, spanID: server.spanID, parentSpanID: SpanIDScheme.spanID(role: .call, identity: identity),
            parentIsRemote: true, traceState: traceState, name: name, kind: .server,
            startTime: server.start, endTime: stop, attributes: attributes,
            events: end.map { failureEvents(failure, at: $0) } ?? [],
            status: failure.map { .error(Self.statusMessage($0)) } ?? .unset, resource: server.callee)
    }

    /// What this agent saw of a delivery, on its CONSUMER or SERVER span: the queue wait when it saw both the publish
    /// and the delivery, whether the delivery was seen at all (or inferred from routing), a redelivery.
    static func appendDeliveryFacts(to attributes: inout [Attribute], observed: Bool, queueWait: Int64?, redelivered: Bool) {
        if let queueWait {
            attributes.append(Attribute(AttributeKey.traceBridgeQueueWaitNS, .int(max(0, queueWait))))
        } else {
            attributes.append(Attribute(AttributeKey.traceBridgeQueueWaitKnown, .bool(false)))
        }
        if !observed { attributes.append(Attribute(AttributeKey.traceBridgeDeliveryObserved, .bool(false))) }
        if redelivered { attributes.append(Attribute(AttributeKey.traceBridgeRedelivered, .bool(true))) }
    }

    /// Quorum queues count deliveries in `x-delivery-count` (shown in the deliver event's `properties`); either
    /// signal says the broker delivered the message before.
    static func redelivered(_ event: BusEvent, headers: AMQPTable?) -> Bool {
        event.redelivered || (headers?["x-delivery-count"]?.integerValue ?? 0) > 0
    }

    private func failureEvents(_ failure: RemoteFailure?, at time: Int64) -> [Span.Event] {
        guard let failure else { return [] }
        return [Span.Event(
            name: "exception", time: time,
            attributes: [
                Attribute(AttributeKey.exceptionType, .string(failure.qualifiedName)),
                Attribute(AttributeKey.exceptionMessage, .string(failure.message)),
            ])]
    }

    private static func statusMessage(_ failure: RemoteFailure) -> String {
        "\(failure.className): \(failure.message)"
    }

    // MARK: Bounds

    private mutating func evict(now: Int64, into spans: inout [Span]) {
        func count(_ table: String, _ number: Int) {
            if number > 0 { counters.evictions[table, default: 0] += number }
        }
        count("publishes", publishes.evict(now: now).count)
        count("requests", requests.evict(now: now).count)
        count("deliveries", deliveries.evict(now: now).count)
        count("connections", publisherConnections.evict(now: now).count + consumerConnections.evict(now: now).count)
        count("reply_queues", replyQueues.evict(now: now).count)
        let evictedCalls = calls.evict(now: now)
        count("calls", evictedCalls.count)
        for (_, var call) in evictedCalls {
            if !call.clientClosed {
                spans.append(contentsOf: closeClient(&call, at: min(call.clientDeadline, now), timedOut: true))
            }
            spans.append(contentsOf: flushServer(&call))
        }
    }
}

// MARK: - Trace identity

extension SpanSynthesizer {
    /// The trace a message belongs to and the parent of our first span for it (docs/synthesis.md "Trace identity").
    struct TraceContext {
        var traceID: TraceID
        var parent: SpanID?
        var parentIsRemote: Bool
        var traceState: String?
        /// True when the trace came from a traceparent or trace_info (its own or inherited): it is inherited by
        /// messages caused by this one.
        var strong: Bool
        /// True when the message itself carries the sender's trace context.
        var fromSender: Bool
    }

    /// Applies the trace identity rules, first match wins: own traceparent (context key, else AMQP header), own
    /// osprofiler trace_info, an inferred cause's strong trace, `global_request_id`, `request_id`, a hash of the
    /// message identity.
    func traceContext(of message: OsloMessage, event: BusEvent, identity: String, cause: Handler?) -> TraceContext {
        if let (traceParent, traceState) = Self.senderTraceParent(message, event: event) {
            return TraceContext(
                traceID: traceParent.traceID, parent: traceParent.parentID, parentIsRemote: true,
                traceState: traceState, strong: true, fromSender: true)
        }
        if let info = message.context.traceInfo {
            return TraceContext(
                traceID: info.baseID, parent: info.parentSpanID, parentIsRemote: true, traceState: nil, strong: true,
                fromSender: true)
        }
        if let cause {
            return TraceContext(
                traceID: cause.traceID, parent: cause.spanID, parentIsRemote: false, traceState: cause.traceState,
                strong: cause.strong, fromSender: false)
        }
        let requestTrace = message.context.globalRequestID.flatMap { TraceID(uuid: $0) }
            ?? message.context.requestID.flatMap { TraceID(uuid: $0) }
        return TraceContext(
            traceID: requestTrace ?? SpanIDScheme.traceID(identity: identity), parent: nil, parentIsRemote: false,
            traceState: nil, strong: false, fromSender: false)
    }

    /// True when an uncaused publish starts a trace of its own instead of its request's (docs/synthesis.md "Long-lived
    /// request IDs"): its context names no user (a service's own context: neutron's agents keep one for their whole
    /// life, nova's periodic tasks share one per run), it carries no trace context of its sender, and its request ID
    /// already produced other publishes. Nothing on the wire ties it to those: one trace per request ID would grow
    /// for as long as the agent runs (a `report_state` every 30 s), with roots that have nothing to do with each
    /// other. Its trace is the hash of its identity (the "nothing" row), so every agent that sees the publish agrees;
    /// `openstack.request_id` still names the request, so a search finds them all. A request's first publish keeps
    /// the request's trace, as do publishes caused by a handler (inferred causes) and every publish under a user's
    /// context (the API's later publishes belong to its request).
    static func startsOwnTrace(_ message: OsloMessage, request: RequestRecord?, context: TraceContext) -> Bool {
        guard !context.fromSender, !message.context.namesUser, message.context.requestID != nil,
            let request, request.publishes > 0
        else { return false }
        return true
    }

    /// The sender's W3C context: `_context_traceparent` (oslo.messaging tracing), else the AMQP `traceparent` header.
    static func senderTraceParent(_ message: OsloMessage, event: BusEvent) -> (TraceParent, String?)? {
        if let traceParent = message.context.traceParent { return (traceParent, message.context.traceState) }
        guard let headers = event.properties.headers, let text = headers["traceparent"]?.stringValue,
            let traceParent = TraceParent(text)
        else { return nil }
        let state = headers["tracestate"]?.stringValue.flatMap { TraceState.isValid($0) ? $0 : nil }
        return (traceParent, state)
    }

    /// The parent of every consumer span of a message, derived from the message alone so that an agent that did
    /// not see the publish (hypervisor role) agrees: our PRODUCER span, or the sender's own span when we do not
    /// emit a PRODUCER beside it. `sendID`, when the caller has it, is the message's send span ID (a hash saved).
    static func consumerParent(
        of message: OsloMessage, event: BusEvent, identity: String, options: SynthesisOptions, sendID: SpanID? = nil
    ) -> SpanID {
        if options.senderTraced == .complement, message.context.traceParent != nil,
            let (traceParent, _) = senderTraceParent(message, event: event)
        {
            return traceParent.parentID
        }
        return sendID ?? SpanIDScheme.spanID(role: .send, identity: identity)
    }

    /// `_unique_id`, else the notification's `message_id`, else a hash of exchange, routing key and body.
    static func identity(of message: OsloMessage, event: BusEvent) -> String {
        message.uniqueID ?? message.messageID
            ?? SpanIDScheme.contentIdentity(exchange: event.exchange, routingKey: event.routingKey, body: event.body)
    }

    // MARK: Names and attributes

    /// `rpc.method`, fully qualified as the conventions ask: the endpoint's `namespace` when the call names one
    /// (`baseapi/ping`), else the topic (`compute/build_and_run_instance`). Also the CLIENT and SERVER span names.
    static func rpcMethod(_ message: OsloMessage, target: ServiceMap.Target, interner: StringInterner) -> String {
        interner.concatenated(message.namespace ?? target.topic, "/", message.method ?? "unknown")
    }

    /// `server.address`: the host part of a RabbitMQ node name (`rabbit@ctl-1` → `ctl-1`).
    static func serverAddress(node: String) -> Attribute {
        let host = node.utf8.firstIndex(of: UInt8(ascii: "@")).map { node[node.utf8.index(after: $0)...] } ?? node[...]
        return Attribute(AttributeKey.serverAddress, .string(String(host.isEmpty ? node[...] : host)))
    }

    /// `service.peer.name` and, for the service-graph tools that read only it, the deprecated `peer.service`.
    static func peerAttributes(_ peer: String) -> [Attribute] {
        [Attribute(AttributeKey.servicePeerName, .string(peer)), Attribute(AttributeKey.peerService, .string(peer))]
    }

    /// `trace_bridge.cause=ambiguous`: the span hangs on a common ancestor, not on a guessed handler.
    static let ambiguousCause = Attribute(AttributeKey.traceBridgeCause, .string("ambiguous"))

    static func messageKind(_ message: OsloMessage, event: BusEvent) -> String {
        switch message.kind {
        case .notification: "notification"
        case .reply: "reply"
        case .request:
            if message.isCall { "call" } else if event.exchange.hasSuffix("_fanout") { "fanout" } else { "cast" }
        }
    }

    /// The allow-listed attributes every span of a message shares. Nothing else of the context is ever copied.
    func commonAttributes(_ message: OsloMessage, event: BusEvent, identity: String, target: ServiceMap.Target)
        -> [Attribute]
    {
        // Room for what any span kind adds after these (up to 24 in all): one allocation, no regrowth per append.
        var attributes: [Attribute] = []
        attributes.reserveCapacity(24)
        attributes.append(Attribute(AttributeKey.messagingSystem, .string("rabbitmq")))
        attributes.append(Attribute(
            AttributeKey.messagingDestinationName, .string(event.exchange.isEmpty ? "amq.default" : event.exchange)))
        attributes.append(Attribute(AttributeKey.messagingRabbitmqDestinationRoutingKey, .string(event.routingKey)))
        attributes.append(Attribute(AttributeKey.messagingMessageID, .string(identity)))
        attributes.append(Attribute(AttributeKey.messagingMessageBodySize, .int(Int64(event.body.count))))
        attributes.append(Attribute(AttributeKey.openstackMessageKind, .string(Self.messageKind(message, event: event))))
        if let msgID = message.msgID {
            attributes.append(Attribute(AttributeKey.messagingMessageConversationID, .string(msgID)))
        }
        if message.kind == .request {
            attributes.append(Attribute(AttributeKey.rpcSystemName, .string("oslo_messaging")))
            let method = Self.rpcMethod(message, target: target, interner: interner)
            attributes.append(Attribute(AttributeKey.rpcMethod, .string(method)))
            if let version = message.version { attributes.append(Attribute(AttributeKey.openstackRpcVersion, .string(version))) }
        }
        if message.kind == .notification {
            if let eventType = message.eventType {
                attributes.append(Attribute(AttributeKey.openstackNotificationEventType, .string(eventType)))
            }
            if let priority = message.priority {
                attributes.append(Attribute(AttributeKey.openstackNotificationPriority, .string(priority)))
            }
            if let publisher = message.publisherID {
                attributes.append(Attribute(AttributeKey.openstackNotificationPublisherID, .string(publisher)))
            }
        }
        let context = message.context
        if let value = context.requestID { attributes.append(Attribute(AttributeKey.openstackRequestID, .string(value))) }
        if let value = context.globalRequestID {
            attributes.append(Attribute(AttributeKey.openstackGlobalRequestID, .string(value)))
        }
        if let value = context.projectID { attributes.append(Attribute(AttributeKey.openstackProjectID, .string(value))) }
        if let value = context.userID { attributes.append(Attribute(AttributeKey.openstackUserID, .string(value))) }
        if let subject = message.subject { attributes.append(Attribute(AttributeKey.openstackInstanceID, .string(subject))) }
        return attributes
    }
}

// MARK: - Correlation records

extension SpanSynthesizer {
    struct PublishRecord {
        var traceID: TraceID
        var traceState: String?
        var strong: Bool
        /// The parent of the message's CONSUMER spans; nil for a call, which has none.
        var consumerParent: SpanID?
        var time: Int64
        /// The handler span the PRODUCER was parented on by cause inference (the cause, or the common ancestor of
        /// ambiguous ones): the handlers this message opens descend from it.
        var cause: SpanID? = nil
    }

    /// A call's delivery, until its SERVER span is emitted.
    struct ServerSide {
        var queue: String
        var callee: ServiceIdentity
        /// The delivery's time; for a delivery inferred from routing, the publish's (the handling began after it).
        var start: Int64
        var observed: Bool
        var spanID: SpanID
        var deliveryConnection: String?
        var queueWait: Int64?
        var redelivered: Bool
        /// The broker node that delivered it (`server.address`).
        var node: String?
        var emitted = false

        init(
            queue: String, callee: ServiceIdentity, deliveredAt: Int64?, publishedAt: Int64, spanID: SpanID,
            deliveryConnection: String?, queueWait: Int64?, redelivered: Bool, node: String?
        ) {
            self.queue = queue
            self.callee = callee
            self.start = deliveredAt ?? publishedAt
            self.observed = deliveredAt != nil
            self.spanID = spanID
            self.deliveryConnection = deliveryConnection
            self.queueWait = queueWait
            self.redelivered = redelivered
            self.node = node
        }
    }

    struct CallRecord {
        var msgID: String
        var identity: String
        var requestID: String?
        var traceID: TraceID
        var traceState: String?
        var clientParent: SpanID?
        var clientParentIsRemote: Bool
        var caller: ServiceIdentity
        var start: Int64
        /// Publish time + the call timeout (`expiration`, ms).
        var deadline: Int64
        /// The call-monitor interval (`_timeout`, s): no heartbeat or reply for this long is a timeout too.
        var monitorInterval: Int64?
        var lastProgress: Int64
        /// `rpc.method`: the CLIENT's and the SERVER's name.
        var name: String
        /// The service the map names for the call's target (`service.peer.name` on the CLIENT).
        var peer: String?
        var attributes: [Attribute]
        var server: ServerSide?
        var replyPublishedAt: Int64?
        var failure: RemoteFailure?
        /// The CLIENT, like the PRODUCER, hangs on a common ancestor: its cause was ambiguous.
        var causeAmbiguous = false
        var clientClosed = false
        var timedOut = false

        var clientDeadline: Int64 {
            guard let monitorInterval else { return deadline }
            return min(deadline, SpanSynthesizer.saturatingAdd(lastProgress, monitorInterval))
        }
    }

    /// A delivery of request R to a service: it is working on R until it replies (calls) or forever (casts).
    struct Handler {
        var process: ServiceIdentity
        /// The span its publishes are parented on: the CONSUMER span of a cast, the SERVER span of a call.
        var spanID: SpanID
        var traceID: TraceID
        var traceState: String?
        var strong: Bool
        var openedAt: Int64
        var lastActive: Int64
        var callMsgID: String?
        /// A notification consumer may be the cause of what it publishes, but it is never inferred as the sender
        /// of an RPC request: listeners are not RPC handlers.
        var isNotification: Bool
        var open = true
        /// Calls it sent and still waits for: a blocked handler publishes nothing.
        var blockedOn: Set<String> = []
        /// The instance the delivered message is about (`OsloMessage.subject`): what tells concurrent handlers apart.
        var subject: String?
        /// The handler span the delivered message's publish was parented on (its cause), for common ancestors.
        var cause: SpanID?

        init(
            process: ServiceIdentity, spanID: SpanID, traceID: TraceID, traceState: String?, strong: Bool,
            openedAt: Int64, lastActive: Int64, callMsgID: String?, isNotification: Bool, subject: String? = nil,
            cause: SpanID? = nil
        ) {
            self.isNotification = isNotification
            self.subject = subject
            self.cause = cause
            self.process = process
            self.spanID = spanID
            self.traceID = traceID
            self.traceState = traceState
            self.strong = strong
            self.openedAt = openedAt
            self.lastActive = lastActive
            self.callMsgID = callMsgID
        }
    }

    struct RequestRecord {
        static let maximumHandlers = 256

        var handlers: [Handler] = []
        var publishes = 0
        /// Event time of the request's latest publish (sender attribution under a user-less context).
        var lastPublishAt = Int64.min

        /// What cause inference found for a publish by a process of this request.
        enum Cause: Equatable {
            /// The handler at this index caused it.
            case handler(Int)
            /// Several handlers are equally good and are about different subjects: none is guessed. The index is
            /// their latest common ancestor handler (certainly an ancestor of the publish), nil when they have none
            /// in this request (the publish then hangs at the request's root).
            case ambiguous(ancestor: Int?)
        }

        /// The cause of a publish by `sender` about `subject` (docs/synthesis.md "Who sent it"): an open handler of
        /// `sender` about the same subject, else, as before subjects, its latest delivery of this request (open and
        /// unblocked first), unless the equally good candidates are about different subjects.
        func cause(for sender: ServiceIdentity, subject: String?) -> Cause? {
            func tier(_ handler: Handler) -> Int { (handler.open ? 1 : 0) + (handler.blockedOn.isEmpty ? 1 : 0) }
            var best: Int?
            var bestRank = (-1, -1, Int64.min)
            for (index, handler) in handlers.enumerated() where handler.process.mayBe(sender) {
                let matches = subject != nil && handler.open && handler.subject == subject
                let rank = (matches ? 1 : 0, tier(handler), handler.openedAt)
                if rank > bestRank {
                    best = index
                    bestRank = rank
                }
            }
            guard let best else { return nil }
            if bestRank.0 == 1 { return .handler(best) }
            // No handler about the publish's subject: the equally good candidates (today's top tier), leaving out
            // those about another instance when some are about none.
            var candidates = handlers.indices.filter { handlers[$0].process.mayBe(sender) && tier(handlers[$0]) == bestRank.1 }
            if subject != nil {
                let unrelated = candidates.filter { handlers[$0].subject == nil }
                if !unrelated.isEmpty { candidates = unrelated }
            }
            let first = handlers[candidates[0]].subject
            if candidates.allSatisfy({ handlers[$0].subject == first }) {
                return .handler(candidates.max { handlers[$0].openedAt < handlers[$1].openedAt }!)
            }
            return .ambiguous(ancestor: commonAncestor(of: candidates))
        }

        /// The latest handler that is an ancestor (or one) of every handler in `indices`, by the chains of causes
        /// recorded when they were opened.
        func commonAncestor(of indices: [Int]) -> Int? {
            func chain(_ index: Int) -> [SpanID] {
                var chain = [handlers[index].spanID]
                var next = handlers[index].cause
                while let span = next, chain.count < Self.maximumHandlers, !chain.contains(span) {
                    chain.append(span)
                    next = handlers.first { $0.spanID == span }?.cause
                }
                return chain
            }
            var common = chain(indices[0])
            for index in indices.dropFirst() {
                let other = Set(chain(index))
                common = common.filter(other.contains)
            }
            guard let ancestor = common.first else { return nil }
            return handlers.firstIndex { $0.spanID == ancestor }
        }

        /// The open, unblocked handler that acted last, never one of the destination itself (no self-RPC); with a
        /// subject, one about it first, else one about no instance rather than one about another (the conductor's
        /// `schedule_and_build_instances` casts each build while compute's earlier builds are already open).
        func mostRecentlyActiveOpenHandler(excluding destination: ServiceIdentity?, subject: String?) -> Handler? {
            var candidates = handlers.filter { handler in
                handler.open && handler.blockedOn.isEmpty && !handler.isNotification
                    && !(destination.map { handler.process.mayBe($0) } ?? false)
            }
            if let subject {
                if let about = candidates.filter({ $0.subject == subject }).max(by: { $0.lastActive < $1.lastActive }) {
                    return about
                }
                let unrelated = candidates.filter { $0.subject == nil }
                if !unrelated.isEmpty { candidates = unrelated }
            }
            return candidates.max { $0.lastActive < $1.lastActive }
        }

        mutating func close(handlerSpan: SpanID) {
            for index in handlers.indices where handlers[index].spanID == handlerSpan { handlers[index].open = false }
        }

        mutating func close(callMsgID: String) {
            for index in handlers.indices where handlers[index].callMsgID == callMsgID { handlers[index].open = false }
        }

        mutating func unblock(msgID: String) {
            for index in handlers.indices { handlers[index].blockedOn.remove(msgID) }
        }
    }
}

extension Array where Element == Span {
    /// Appends `spans`, taking their array as it is when this one is empty (as it mostly is: the spans a message
    /// completes): no new buffer and no copy.
    mutating func adopt(_ spans: [Span]) {
        if isEmpty { self = spans } else { append(contentsOf: spans) }
    }
}
