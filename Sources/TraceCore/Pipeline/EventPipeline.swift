/// Source-independent processing: captured message → bus event → oslo.messaging message → spans.
///
/// Replay feeds it fixture lines; the live consumer feeds it records built from deliveries. Every input that is
/// skipped is counted by reason, and the first example of each reason is kept for a one-time report.
public struct EventPipeline {
    public private(set) var synthesizer: SpanSynthesizer
    public private(set) var stats = PipelineStats()
    /// Replay only what `options.visibility` would have received (`replay --mode`): a full capture then shows
    /// exactly what a cheaper source mode keeps. Live sources never need it: the broker already filters.
    public let reducesToVisibility: Bool
    /// Holds events until the messages of other broker nodes that must come first have arrived (cluster order).
    public private(set) var window: ReorderWindow
    /// Records taken so far (`process(record:)`): the sequence the window and `releasedThrough` count in.
    public private(set) var inputs: Int64 = 0
    /// What the window releases per event, kept between events so that releasing one allocates nothing (empty
    /// between calls).
    private var released: [ReorderWindow.Entry] = []
    private static let releasedKept = 64
    /// The decoder's strings that repeat across messages (request, user and project IDs, reply queues), shared
    /// instead of allocated per message. A class: copies of a pipeline share it, and a pipeline is used by one task.
    private let interner = StringInterner()

    public init(options: SynthesisOptions = SynthesisOptions(), reducesToVisibility: Bool = false) {
        synthesizer = SpanSynthesizer(options: options)
        window = ReorderWindow(
            window: options.reorderWindow, capacity: options.reorderCapacity, visibility: options.visibility,
            serviceMap: options.serviceMap)
        self.reducesToVisibility = reducesToVisibility
    }

    /// Processes one fixture line. A bad line is counted and reported (with its number) and yields no spans; it
    /// never stops the rest.
    public mutating func process(line: [UInt8], number: Int) -> [Span] {
        stats.linesRead += 1
        let record: BusMessage
        do {
            record = try BusMessage(line: line, lineNumber: number)
        } catch {
            stats.skip(error.reason, example: error.description)
            return []
        }
        return process(record: record, location: "line \(number)")
    }

    /// Processes one fixture line that was decoded already (`replay` of several captures decodes to merge them by
    /// time): counted as a line read, as `process(line:number:)` would.
    public mutating func process(decodedLine record: BusMessage, location: String) -> [Span] {
        stats.linesRead += 1
        return process(record: record, location: location)
    }

    /// Processes one captured message. `location` names it in the first-example report.
    public mutating func process(record: BusMessage, location: String? = nil) -> [Span] {
        stats.messages += 1
        inputs += 1
        let event: BusEvent
        do {
            event = try BusEvent(record: record, interner: interner)
        } catch {
            stats.skip(error.reason, example: "\(location ?? "seq \(record.seq)"): \(error.detail)")
            return advanceSynthesizer(to: record.capturedAt)
        }
        stats.missingFirehoseHeaders.count(event.missingHeaders)
        if reducesToVisibility {
            guard let visible = synthesizer.options.visibility.reduce(event) else {
                stats.notVisible += 1
                return advanceSynthesizer(to: event.time)
            }
            return process(event: visible, location: location ?? "seq \(record.seq)")
        }
        return process(event: event, location: location ?? "seq \(record.seq)")
    }

    /// Processes one bus event.
    public mutating func process(event: BusEvent, location: String) -> [Span] {
        stats.count(event.kind)
        let body: [UInt8]
        do {
            body = try event.decodableBody(limit: synthesizer.options.decompressionLimit)
        } catch {
            stats.skip(error.reason, example: "\(location): \(error.detail)")
            return advanceSynthesizer(to: event.time)
        }
        let message: OsloMessage
        do {
            message = try OsloDecoder.decode(body, interner: interner)
        } catch {
            stats.skip(error.reason, example: "\(location): \(error.detail)")
            return advanceSynthesizer(to: event.time)
        }
        stats.count(message.kind)
        return synthesize(event, message, location: location)
    }

    /// Processes one event already decoded, as `process(record:)` would after decoding it: `trace-bridge-bench FILE
    /// synthesis` times the reorder window and synthesis alone through it.
    public mutating func process(event: BusEvent, message: OsloMessage, location: String) -> [Span] {
        stats.messages += 1
        inputs += 1
        stats.count(event.kind)
        stats.count(message.kind)
        return synthesize(event, message, location: location)
    }

    /// Through the reorder window when it is on; out come the events it releases, in order.
    private mutating func synthesize(_ event: BusEvent, _ message: OsloMessage, location: String) -> [Span] {
        guard window.window > 0 else { return synthesizer.process(event, message) }
        // The buffer is taken out while in use (unique, so it grows in place) and emptied before it is put back, so
        // it holds no message past this call; one grown by a burst (a held node let go at once) is not kept.
        var entries: [ReorderWindow.Entry] = []
        swap(&entries, &released)
        let spans: [Span]
        if let time = window.admit(event, message, location: location, sequence: inputs, into: &entries) {
            // It left at once (nearly always): the event itself is synthesized, copied only when its time moved.
            if time == event.time {
                spans = synthesizer.process(event, message)
            } else {
                var settled = event
                settled.time = time
                spans = synthesizer.process(settled, message)
            }
        } else {
            spans = synthesize(entries)
        }
        if entries.capacity <= Self.releasedKept {
            entries.removeAll(keepingCapacity: true)
            released = entries
        }
        return spans
    }

    private mutating func synthesize(_ entries: [ReorderWindow.Entry]) -> [Span] {
        var spans: [Span] = []
        for entry in entries { spans.adopt(synthesizer.process(entry.event, entry.message)) }
        return spans
    }

    /// Every input up to this sequence (`inputs`) has left the window and been synthesized: a live delivery may be
    /// acknowledged up to it, never past an event still held.
    public var releasedThrough: Int64 { window.oldestHeldSequence.map { $0 - 1 } ?? inputs }

    /// Event time for deadlines: never past an event still held (its reply may be the one that answers a call).
    private mutating func advanceSynthesizer(to now: Int64) -> [Span] {
        synthesizer.advance(to: window.oldestHeldArrival.map { min($0, now) } ?? now)
    }

    /// Moves event time forward without an event (live: a timer): calls whose deadline passed close as timeouts.
    public mutating func advance(to now: Int64) -> [Span] {
        guard window.window > 0 else { return synthesizer.advance(to: now) }
        let spans = synthesize(window.advance(to: now))
        return spans + advanceSynthesizer(to: now)
    }

    /// Lets every event the reorder window holds leave now, in order, without closing anything else (open calls
    /// stay open): live, at shutdown, so that held messages are synthesized and acknowledged rather than redelivered
    /// to a fresh agent that would lack their context.
    public mutating func releaseHeld() -> [Span] {
        synthesize(window.finish())
    }

    /// End of input: closes what can no longer complete (open calls time out at their deadline).
    public mutating func finish() -> [Span] {
        synthesize(window.finish()) + synthesizer.finish()
    }
}

/// Counters of the pipeline, for the replay summary and the metrics endpoint.
public struct PipelineStats: Sendable, Equatable {
    public var linesRead = 0
    public var messages = 0
    /// Bus events by kind (`publish`, `deliver`), only kinds that occurred.
    public var events: [String: Int] {
        [BusEvent.Kind.publish: publishes, .deliver: deliveries].reduce(into: [:]) { byName, entry in
            if entry.value > 0 { byName[entry.key.rawValue] = entry.value }
        }
    }
    /// Decoded oslo.messaging messages by kind (`request`, `reply`, `notification`), only kinds that occurred.
    public var messageKinds: [String: Int] {
        [OsloMessage.Kind.request: requests, .reply: replies, .notification: notifications].reduce(into: [:]) {
            byName, entry in
            if entry.value > 0 { byName[entry.key.rawValue] = entry.value }
        }
    }
    // Counted per message in plain fields, not in dictionaries keyed by name (a hash per increment).
    private var publishes = 0, deliveries = 0, requests = 0, replies = 0, notifications = 0

    mutating func count(_ kind: BusEvent.Kind) {
        switch kind {
        case .publish: publishes += 1
        case .deliver: deliveries += 1
        }
    }

    mutating func count(_ kind: OsloMessage.Kind) {
        switch kind {
        case .request: requests += 1
        case .reply: replies += 1
        case .notification: notifications += 1
        }
    }
    /// Inputs skipped, by reason (`fixture_invalid_json`, `oslo_not_oslo`, ...: `SkipReason`).
    public var skipped: [SkipReason: Int] = [:]
    /// The first example of each skip reason, so each is reported once, not once per message.
    public var firstExample: [SkipReason: String] = [:]
    /// Events a replay left out because the chosen source mode would not have received them (not an error).
    public var notVisible = 0
    /// Firehose trace messages without each undocumented header the agent uses (`FirehoseHeader`).
    public var missingFirehoseHeaders = FirehoseHeaderCounts()

    public init() {}

    public mutating func skip(_ reason: SkipReason, example: String) {
        skipped[reason, default: 0] += 1
        if firstExample[reason] == nil { firstExample[reason] = example }
    }

    public var skippedTotal: Int { skipped.values.reduce(0, +) }
}
