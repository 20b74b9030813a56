/// Puts the trace messages of a RabbitMQ cluster back into an order synthesis can trust (docs/synthesis.md,
/// "Cluster order").
///
/// `trace_on` is node-local: every node publishes its own trace messages, and they reach our queue over different
/// links. Messages of one node stay in order; those of different nodes can overtake each other (a reply's publish
/// before the call's delivery; a conductor's cast before the delivery of the reply that unblocked it). The firehose
/// has no timestamps, so a lagging node also shifts event times.
///
/// The window holds a decoded event only while it is *blocked*: a message of another node that must precede it is
/// missing. The rules are the broker's and the protocol's, never a guess about timing:
/// - per-node order is kept (a node's events leave in arrival order, so one held event holds its successors);
/// - a delivery follows the publish of the same message (identity: `_unique_id`, else `message_id`);
/// - a reply's publish follows the delivery of its call (`_msg_id`);
/// - a request published under request R on the connection (or, for a call, with the reply queue) of an
///   unanswered call of R, or while a reply of R is published but not yet delivered, follows that reply's delivery:
///   a handler blocked on a call publishes nothing until the reply is delivered (a call about another instance
///   holds nothing: `mayBeSameHandler`);
/// - a handler's publish follows the delivery that opened the handler (`awaitsHandler`), unless that delivery is
///   held behind the publish's own delivery.
/// An event leaves when it is unblocked, or when it has waited `window` of event time (its dependency may never
/// come: a publish before the agent started, a call that times out), or early when `capacity` events are held.
/// A node's events leave in arrival order, so with a single node the order is the broker's, unchanged; a blocked
/// event (a delivery whose publish came before the agent started) only leaves later.
///
/// Event times are made consistent with what the rules imply: a delivery is never before its publish (clamped, so
/// queue waits are never negative), a reply's publish never before the call's delivery, an unblocked publish never
/// before the reply that unblocked it. RabbitMQ 3.12+'s `timestamp_in_ms` header (the incoming-message interceptor
/// `message_interceptors.incoming.set_header_timestamp`) is the publish time as the broker received it: when present,
/// a publish's time is its receive time clamped into that millisecond, and a delivery is never before it.
///
/// A value type with no clock: time is the events' own and `advance(to:)`'s, so replay and live agree.
public struct ReorderWindow {
    /// One decoded event waiting, with what the pipeline needs to synthesize and to acknowledge it.
    public struct Entry {
        public var event: BusEvent
        public var message: OsloMessage
        public var location: String
        /// The pipeline's input number: acknowledgement never passes a held one.
        public var sequence: Int64
        /// Receive time (event time as it arrived): the hold is measured from it.
        var arrival: Int64
        /// For a held delivery of a request: the request ID and the service it opens a handler of.
        var handlerOf: (requestID: String, service: String?)?
        /// The message identity, computed once.
        var identity: String
    }

    /// Longest hold in nanoseconds of event time; 0 turns the window off.
    public let window: Int64
    /// Most events held at once; beyond it the oldest leaves early (counted).
    public let capacity: Int
    public private(set) var counters = ReorderCounters()
    /// What the source sees: a rule never waits for a message the source cannot receive.
    public let visibility: SourceVisibility
    private let seesAllPublishes: Bool
    /// Who consumes a request (its destination service) and who published a notification.
    public let serviceMap: ServiceMap
    /// Requests of each request ID released but not yet delivered to every queue they were
    /// routed to: a handler they open may be the sender of a later publish.
    private var inFlight: FIFOMap<String, [InFlight]>
    /// Deliveries of requests still held, per request ID: the services they will open handlers of.
    private var heldHandlers: [String: [HeldHandler]] = [:]
    /// Publishes still held: identity → node.
    private var heldPublishes: [String: String] = [:]

    struct HeldHandler: Equatable {
        var identity: String
        var service: String?
        /// The instance the request is about (`OsloMessage.subject`): its handler causes only publishes about it.
        var subject: String?
    }

    struct InFlight {
        var identity: String
        var destination: String?
        /// The publishing connection: a publish on the same one comes from the same process, never its handler.
        var connection: String?
        var subject: String?
        var pending: Int
    }

    /// Events held, per lane (`lane(of:)`): one node's channel, whose trace messages keep their order.
    private var queues: [String: NodeQueue] = [:]
    public private(set) var held = 0
    /// Broker nodes seen (the `node` header).
    public private(set) var nodeCount = 0
    private var nodes: Set<String> = []
    /// The last event's node (nil before the first event), so that `nodes` is hashed only on a change.
    private var lastNode: String?
    // What has been released, bounded by count (a dependency older than these has long been synthesized).
    private var publishedAt: FIFOMap<String, Int64>
    private var callDeliveredAt: FIFOMap<String, Int64>
    private var calls: FIFOMap<String, CallState>
    /// Calls of each request, most recent last (a few per request; their states live in `calls`).
    private var callsByRequest: FIFOMap<String, [String]>

    struct CallState {
        var requestID: String
        var connection: String?
        var replyQueue: String?
        /// The instance the call is about (`OsloMessage.subject`): a handler blocked on it publishes nothing, but
        /// another handler of the same request in the same process (a build of another instance) may.
        var subject: String?
        var deadline: Int64
        var replyPublished = false
        var replyDeliveredAt: Int64?
    }

    /// One lane's events in arrival order.
    struct NodeQueue {
        var entries: [Entry] = []
        var head = 0
        var isEmpty: Bool { head == entries.count }
        var first: Entry? { isEmpty ? nil : entries[head] }
        mutating func popFirst() -> Entry {
            let entry = entries[head]
            head += 1
            if head == entries.count {
                entries.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64, head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            return entry
        }
    }

    /// `window` and `capacity` as in `SynthesisOptions.reorderWindow` / `reorderCapacity`; `memory` bounds what is
    /// remembered of released events (identities, calls).
    public init(
        window: Int64, capacity: Int = 10_000, visibility: SourceVisibility = .fullFirehose,
        serviceMap: ServiceMap = .openStackDefaults, memory: Int = 65_536
    ) {
        self.window = max(0, window)
        self.visibility = visibility
        self.serviceMap = serviceMap
        inFlight = FIFOMap(capacity: memory)
        seesAllPublishes = visibility.firehosePatterns.contains { $0 == "#" || $0 == "publish.#" }
        self.capacity = max(1, capacity)
        publishedAt = FIFOMap(capacity: memory)
        callDeliveredAt = FIFOMap(capacity: memory)
        calls = FIFOMap(capacity: memory)
        callsByRequest = FIFOMap(capacity: memory)
    }

    /// The lowest sequence still held, if any: every input before it has been released.
    public var oldestHeldSequence: Int64? {
        var oldest: Int64?
        for queue in queues.values {
            if let head = queue.first { oldest = min(oldest ?? head.sequence, head.sequence) }
        }
        return oldest
    }

    /// The earliest receive time still held: synthesis must not judge deadlines past it (a held reply may answer).
    public var oldestHeldArrival: Int64? {
        var oldest: Int64?
        for queue in queues.values {
            if let head = queue.first { oldest = min(oldest ?? head.arrival, head.arrival) }
        }
        return oldest
    }

    /// Takes one decoded event; returns what may leave now, in release order (times adjusted).
    public mutating func insert(
        _ event: BusEvent, _ message: OsloMessage, location: String, sequence: Int64
    ) -> [Entry] {
        var out: [Entry] = []
        if let time = admit(event, message, location: location, sequence: sequence, into: &out) {
            var entry = Entry(
                event: event, message: message, location: location, sequence: sequence, arrival: event.time,
                identity: SpanSynthesizer.identity(of: message, event: event))
            entry.event.time = time
            out.append(entry)
        }
        return out
    }

    /// `insert` for the pipeline, which keeps the event it passes. Nearly always nothing is held and the event is
    /// not blocked: it leaves at once, alone, and only its settled time comes back, so the pipeline synthesizes the
    /// event it holds instead of a copy taken into an entry and out again (copying an event and a message retains
    /// some thirty strings: a fifth of synthesis, measured). Otherwise the event is held (nil) and what may leave now
    /// is appended to `out`, a buffer the pipeline keeps so that releasing allocates no array per message.
    public mutating func admit(
        _ event: BusEvent, _ message: OsloMessage, location: String, sequence: Int64, into out: inout [Entry]
    ) -> Int64? {
        let node = Self.lane(of: event)
        // Nodes change rarely from one event to the next: the set is hashed only when this one differs.
        if node != lastNode {
            if nodes.insert(node).inserted { nodeCount += 1 }
            lastNode = node
        }
        let identity = SpanSynthesizer.identity(of: message, event: event)
        // The common case, nothing held and this event not blocked: it leaves at once, as `release` would let it
        // (it would be the only candidate), without a trip through a lane and the release loop.
        if held == 0, !blocked(event, message, identity: identity, arrival: event.time) {
            counters.heldMaximum = max(counters.heldMaximum, 1)
            return settle(event, message, identity: identity, arrival: event.time, sequence: sequence)
        }
        var entry = Entry(
            event: event, message: message, location: location, sequence: sequence, arrival: event.time,
            identity: identity)
        if event.kind == .deliver, message.kind == .request, let requestID = message.context.requestID,
            let queue = event.queue
        {
            let service = serviceMap.service(of: serviceMap.target(ofQueue: queue))?.service
            entry.handlerOf = (requestID, service)
            heldHandlers[requestID, default: []].append(HeldHandler(identity: identity, service: service, subject: message.subject))
        } else if event.kind == .publish {
            heldPublishes[identity] = node
        }
        queues[node, default: NodeQueue()].entries.append(entry)
        held += 1
        counters.heldMaximum = max(counters.heldMaximum, held)
        release(now: event.time, everything: false, into: &out)
        return nil
    }

    /// Event time moved on (live: a timer): what has waited `window` leaves.
    public mutating func advance(to now: Int64) -> [Entry] {
        var out: [Entry] = []
        release(now: now, everything: false, into: &out)
        return out
    }

    /// End of input: everything leaves, in the best order the rules give.
    public mutating func finish() -> [Entry] {
        var out: [Entry] = []
        release(now: .max, everything: true, into: &out)
        return out
    }

    // MARK: Release

    private mutating func release(now: Int64, everything: Bool, into out: inout [Entry]) {
        while held > 0 {
            let overflow = held > capacity
            var best: (node: String, entry: Entry, time: Int64)?
            var oldest: (node: String, entry: Entry)?
            for (node, queue) in queues {
                guard let head = queue.first else { continue }
                if oldest == nil || (head.arrival, head.sequence) < (oldest!.entry.arrival, oldest!.entry.sequence) {
                    oldest = (node, head)
                }
                let due = everything || now == .max || head.arrival <= now - window
                guard due || !blocked(head) else { continue }
                let time = Self.timestampTime(head) ?? head.arrival
                if best == nil || (time, head.arrival, head.sequence) < (best!.time, best!.entry.arrival, best!.entry.sequence) {
                    best = (node, head, time)
                }
            }
            var chosen = best?.node
            var early = false
            if chosen == nil, overflow, let oldest {
                chosen = oldest.node
                early = true
                counters.releasedEarly += 1
            }
            guard let node = chosen else { return }
            if !early, !everything, blocked(queues[node]!.first!) { counters.releasedAtDeadline += 1 }
            var entry = queues[node]!.popFirst()
            held -= 1
            if let (requestID, service) = entry.handlerOf, var handlers = heldHandlers[requestID],
                let index = handlers.firstIndex(where: { $0.identity == entry.identity && $0.service == service })
            {
                handlers.remove(at: index)
                heldHandlers[requestID] = handlers.isEmpty ? nil : handlers
            } else if entry.event.kind == .publish {
                heldPublishes[entry.identity] = nil
            }
            entry.event.time = settle(
                entry.event, entry.message, identity: entry.identity, arrival: entry.arrival, sequence: entry.sequence)
            out.append(entry)
        }
    }

    /// True when a message of another node that must come first has not been released yet.
    private func blocked(_ entry: Entry) -> Bool {
        blocked(entry.event, entry.message, identity: entry.identity, arrival: entry.arrival)
    }

    /// `blocked` of an event not (yet) in an entry; `arrival` is its receive time.
    private func blocked(_ event: BusEvent, _ message: OsloMessage, identity: String, arrival: Int64) -> Bool {
        switch (event.kind, message.kind) {
        case (.deliver, _):
            guard seesAllPublishes || visibility.seesPublishes(toExchange: event.exchange) else { return false }
            return publishedAt[identity] == nil
        case (.publish, .reply):
            guard let msgID = message.msgID, visibility.seesAllDeliveries else { return false }
            return callDeliveredAt[msgID] == nil
        case (.publish, .request):
            return blockingCall(event, message, arrival: arrival) != nil || awaitsHandler(event, message, identity: identity)
        case (.publish, .notification):
            return awaitsHandler(event, message, identity: identity)
        }
    }

    /// A handler publishes only after the delivery that opened it. A notification names its publisher, so it waits
    /// for an undelivered request of its request ID to that service; a request names no sender, so it waits for any
    /// undelivered request of its request ID to another service (no service calls itself).
    private func awaitsHandler(_ event: BusEvent, _ message: OsloMessage, identity: String) -> Bool {
        guard let requestID = message.context.requestID else { return false }
        let items = inFlight[requestID], held = heldHandlers[requestID]
        guard items != nil || held != nil else { return false }
        // Undelivered: released with deliveries to come, or delivered but the delivery still held here; not one
        // whose publish is held behind this event on its node (it came later, so it cannot be the cause).
        let lane = Self.lane(of: event)
        // A handler about another instance never sends a publish about this one (nova multi-create: the builds of
        // one request run at once; each one's calls and notifications name its instance).
        func mayCause(_ subject: String?) -> Bool { subject == nil || message.subject == nil || subject == message.subject }
        // Each possible cause: its identity, the service whose handler it opens, and how many of its deliveries
        // are still to come (0: a delivery held here).
        var causes: [(identity: String, service: String?, pending: Int)] = []
        for item in items ?? [] where (item.connection == nil || item.connection != event.connection) && mayCause(item.subject) {
            causes.append((item.identity, item.destination, item.pending))
        }
        for handler in held ?? [] where heldPublishes[handler.identity] != lane && mayCause(handler.subject) {
            causes.append((handler.identity, handler.service, 0))
        }
        if message.kind == .notification {
            guard let publisherID = message.publisherID else { return false }
            let sender = serviceMap.publisher(publisherID).service
            causes.removeAll { $0.service != sender }
        } else {
            let destination = serviceMap.service(of: serviceMap.target(exchange: event.exchange, routingKey: event.routingKey))?.service
            causes.removeAll { $0.service != nil && $0.service == destination }
        }
        guard !causes.isEmpty else { return false }
        // A cause whose every delivery is held on a node behind this publish's own delivery cannot be released
        // before this publish (rule 2 holds that delivery until the publish leaves): waiting for it would only end
        // at the deadline, possibly with the delivery first. (o_migration_resize as three nodes: nova-compute's
        // post_live_migration_at_destination call waited for a conductor object_action delivery queued behind the
        // call's own delivery.)
        let stuck = heldBehindDelivery(of: identity)
        guard !stuck.isEmpty else { return true }
        return causes.contains { cause in (stuck[cause.identity] ?? 0) < max(cause.pending, 1) }
    }

    /// Events held on nodes whose first held event is the delivery of `identity`, counted per identity.
    private func heldBehindDelivery(of identity: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for queue in queues.values {
            guard let head = queue.first, head.event.kind == .deliver, head.identity == identity else { continue }
            for entry in queue.entries[(queue.head + 1)...] where entry.event.kind == .deliver {
                counts[entry.identity, default: 0] += 1
            }
        }
        return counts
    }

    /// An unanswered call that holds back this publish: same request, and either the same connection or reply
    /// queue (the same process), or a reply already published (its delivery is on its way).
    private func blockingCall(_ event: BusEvent, _ message: OsloMessage, arrival: Int64) -> String? {
        guard let requestID = message.context.requestID, let msgIDs = callsByRequest[requestID] else { return nil }
        for msgID in msgIDs {
            guard let call = calls[msgID], call.replyDeliveredAt == nil, arrival <= call.deadline,
                Self.mayBeSameHandler(call.subject, message.subject)
            else { continue }
            if call.replyPublished { return msgID }
            if let connection = event.connection, connection == call.connection { return msgID }
            if message.isCall, let replyQueue = message.replyQueue, replyQueue == call.replyQueue {
                return msgID
            }
        }
        return nil
    }

    /// Two messages of one request and one process may come from the same handler unless they are about different
    /// instances: nova-compute runs the builds of a multi-create at once, on one connection, each one's calls
    /// naming its instance, and one build's unanswered call does not hold back another build's publishes.
    static func mayBeSameHandler(_ a: String?, _ b: String?) -> Bool {
        a == nil || b == nil || a == b
    }

    /// The broker's receive time of the original publish (`timestamp_in_ms`), for a publish: its receive time
    /// clamped into that millisecond.
    static func timestampTime(_ entry: Entry) -> Int64? {
        timestampTime(entry.event, arrival: entry.arrival)
    }

    static func timestampTime(_ event: BusEvent, arrival: Int64) -> Int64? {
        guard let millis = timestampMillis(event) else { return nil }
        let low = millis * 1_000_000
        return event.kind == .publish ? min(max(arrival, low), low + 999_999) : max(arrival, low)
    }

    /// The lane an event is ordered in: its node. RabbitMQ traces a publish in the publishing channel's process and a
    /// delivery in the consuming channel's, and each sends its trace messages on its own, so strictly only one
    /// channel's trace messages keep their order, even on one node (a server's publish was seen 5 ms before the
    /// delivery that caused it on a busy single node). Lanes per channel would let the window put those back, but
    /// every rule that blocks too much (a request publish after a reply whose delivery the mode cannot see) would
    /// then reorder instead of only delay: measured, publish-only and selective modes lost 69 of 146 calls. So a lane
    /// is a node until the rules are exact for every mode (docs/synthesis.md, "Cluster order").
    static func lane(of event: BusEvent) -> String {
        event.node ?? ""
    }

    static func timestampMillis(_ event: BusEvent) -> Int64? {
        // Unix milliseconds between 1970 and 2191, so the arithmetic above cannot overflow.
        guard let value = event.properties.headers?["timestamp_in_ms"]?.integerValue,
            (0...7_000_000_000_000).contains(value)
        else { return nil }
        return value
    }

    /// The leaving event's time as its dependencies imply it (returned, for the caller to set); remembers what the
    /// event tells about others. `arrival` is its receive time, `sequence` its input number.
    private mutating func settle(
        _ event: BusEvent, _ message: OsloMessage, identity: String, arrival: Int64, sequence: Int64
    ) -> Int64 {
        var time = Self.timestampTime(event, arrival: arrival) ?? event.time
        switch (event.kind, message.kind) {
        case (.deliver, _):
            if let published = publishedAt[identity] { time = max(time, published) }
            if message.kind == .request, let requestID = message.context.requestID {
                let emptied = inFlight.modify(requestID) { items -> Bool in
                    guard let index = items.firstIndex(where: { $0.identity == identity }) else { return false }
                    items[index].pending -= 1
                    if items[index].pending <= 0 { items.remove(at: index) }
                    return items.isEmpty
                }
                if emptied == true { inFlight[requestID] = nil }
            }
            if message.kind == .reply, let msgID = message.msgID, message.ending != false, var call = calls[msgID] {
                call.replyDeliveredAt = time
                calls[msgID] = call
            } else if message.isCall, let msgID = message.msgID, callDeliveredAt[msgID] == nil {
                callDeliveredAt[msgID] = time
            }
        case (.publish, _):
            if message.kind == .reply, let msgID = message.msgID {
                if let delivered = callDeliveredAt[msgID] { time = max(time, delivered) }
                if message.ending != false, var call = calls[msgID] {
                    call.replyPublished = true
                    calls[msgID] = call
                }
            } else if message.kind == .request, let requestID = message.context.requestID {
                // Never before the reply that unblocked the handler sending it.
                for msgID in callsByRequest[requestID] ?? [] {
                    guard let call = calls[msgID], let delivered = call.replyDeliveredAt,
                        Self.mayBeSameHandler(call.subject, message.subject),
                        call.connection == event.connection
                            || (message.isCall && message.replyQueue != nil && message.replyQueue == call.replyQueue)
                    else { continue }
                    time = max(time, delivered)
                }
            }
            if publishedAt[identity] == nil { publishedAt[identity] = time }
            if message.kind == .request, let requestID = message.context.requestID, let routed = event.routedQueues,
                !routed.isEmpty, visibility.seesAllDeliveries
            {
                let target = serviceMap.target(exchange: event.exchange, routingKey: event.routingKey)
                let item = InFlight(
                    identity: identity, destination: serviceMap.service(of: target)?.service,
                    connection: event.connection, subject: message.subject, pending: routed.count)
                let appended: Void? = inFlight.modify(requestID) { items in
                    items.append(item)
                    if items.count > 16 { items.removeFirst(items.count - 16) }
                }
                if appended == nil { inFlight[requestID] = [item] }
            }
            if message.isCall, let msgID = message.msgID, let requestID = message.context.requestID, calls[msgID] == nil {
                let timeout = event.properties.expirationMilliseconds.map { min($0, 86_400_000) * 1_000_000 }
                    ?? 60_000_000_000
                calls[msgID] = CallState(
                    requestID: requestID, connection: event.connection, replyQueue: message.replyQueue,
                    subject: message.subject, deadline: time + timeout)
                let appended: Void? = callsByRequest.modify(requestID) { list in
                    list.append(msgID)
                    if list.count > 8 { list.removeFirst(list.count - 8) }
                }
                if appended == nil { callsByRequest[requestID] = [msgID] }
            }
        }
        if time != event.time { counters.timesAdjusted += 1 }
        if sequence < counters.lastSequence { counters.reordered += 1 }
        counters.lastSequence = max(counters.lastSequence, sequence)
        return time
    }
}

/// What the reorder window did, for the summary and the metrics endpoint.
public struct ReorderCounters: Sendable, Equatable {
    /// Most events held at once.
    public var heldMaximum = 0
    /// Events released before their dependency because `capacity` was reached.
    public var releasedEarly = 0
    /// Events released blocked because they had waited the whole window (their dependency never came in time).
    public var releasedAtDeadline = 0
    /// Events released after an event that came in later (the order synthesis saw differs from arrival order).
    public var reordered = 0
    /// Events whose time was moved to agree with the causal order or `timestamp_in_ms`.
    public var timesAdjusted = 0
    var lastSequence: Int64 = 0

    public init() {}
}

/// A dictionary that forgets its oldest keys beyond `capacity` (insertion order; updates keep the position).
struct FIFOMap<Key: Hashable, Value> {
    private var values: [Key: Value] = [:]
    private var order: [Key] = []
    private var head = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    subscript(key: Key) -> Value? {
        get { values[key] }
        set {
            guard let newValue else {
                values[key] = nil
                return
            }
            if values.updateValue(newValue, forKey: key) == nil {
                order.append(key)
                if values.count > capacity { trim() }
            }
        }
    }

    /// Changes the value held for `key` in place, found with one hash; nil (and `body` not called) when there is
    /// none. Reading an array value out, appending and writing it back would copy it (the map still holds it).
    mutating func modify<Result>(_ key: Key, _ body: (inout Value) -> Result) -> Result? {
        guard let index = values.index(forKey: key) else { return nil }
        return body(&values.values[index])
    }

    private mutating func trim() {
        while values.count > capacity, head < order.count {
            values[order[head]] = nil
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
