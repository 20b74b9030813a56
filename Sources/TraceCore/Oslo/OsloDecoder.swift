/// Why a body is not an oslo.messaging message the agent can use; `reason` labels the decode-failure counter.
public struct OsloDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: SkipReason
    public var detail: String

    public var description: String { "\(reason.detailName): \(detail)" }

    static func json(_ error: JSONError, inner: Bool) -> OsloDecodingError {
        OsloDecodingError(reason: .oslo(error.code, inner: inner), detail: error.description)
    }
}

/// Decodes oslo.messaging bodies: the `{"oslo.version": "2.0", "oslo.message": "<JSON string>"}` envelope or a bare
/// v1 message, reading only the allow-listed keys and skipping the rest (`result`, the service catalog, all of
/// `args` and `payload` but the instance UUID: `MessageSubject`) without building them.
public enum OsloDecoder {
    /// `interner`: the strings that repeat across messages (request, user and project IDs, reply queues, methods,
    /// event types) are taken from it when it holds them: the pipeline keeps one, so a request's messages share their
    /// IDs instead of allocating them again. Only the in-place path uses it; the answer is the same either way.
    public static func decode(
        _ body: [UInt8], interner: StringInterner? = nil
    ) throws(OsloDecodingError) -> OsloMessage {
        if let read = readInPlace(body, interner: interner) {
            var fields = read.fields
            return try fields.message(envelopeVersion: read.envelopeVersion)
        }
        return try decodeUnescaping(body)
    }

    /// The fast path: the envelope's `oslo.message` is walked where it lies, in its escaped form
    /// (`JSONScanner.readEmbeddedDocument`), instead of being unescaped into a buffer and walked again. Nil whenever
    /// anything is not as oslo.messaging writes it (an error, an escape other than `\"` `\\` `\/` in the string, a
    /// second `oslo.message`): the caller then takes the unescaping path, which gives the answer or the error.
    /// Returns the fields read and the envelope version (nil for a bare v1 message).
    static func readInPlace(_ body: [UInt8], interner: StringInterner? = nil) -> (fields: Fields, envelopeVersion: String?)? {
        var fields = Fields(interner: interner)
        var inner: Fields? = nil
        var envelopeVersion: String? = nil
        do throws(JSONError) {
            try JSONScanner.scan(body) { (scanner) throws(JSONError) in
                try scanner.readObject { (key, scanner) throws(JSONError) in
                    switch key {
                    case "oslo.message":
                        guard inner == nil, scanner.peek() == UInt8(ascii: "\"") else {
                            throw JSONError(code: .unexpectedByte, offset: scanner.offset)
                        }
                        var message = Fields(interner: interner)
                        try scanner.readEmbeddedDocument { (scanner) throws(JSONError) in
                            try scanner.readObject { (key, scanner) throws(JSONError) in try message.read(key, &scanner) }
                        }
                        inner = message
                    case "oslo.version": envelopeVersion = try readVersion(&scanner) ?? envelopeVersion
                    default: try fields.read(key, &scanner)
                    }
                }
                try scanner.expectEnd()
            }
        } catch {
            return nil
        }
        if let inner { return (inner, envelopeVersion ?? "2.0") }
        return (fields, nil)
    }

    /// `oslo.version` when it is a string; anything else is skipped (nil).
    private static func readVersion(_ scanner: inout JSONScanner) throws(JSONError) -> String? {
        guard scanner.peek() == UInt8(ascii: "\"") else {
            try scanner.skipValue()
            return nil
        }
        return try scanner.readString()
    }

    /// The reference path: `oslo.message` unescaped into a buffer, then walked. `decode` falls back to it, and the
    /// tests and the Oslo fuzzer hold `decode` to its answers.
    public static func decodeUnescaping(_ body: [UInt8]) throws(OsloDecodingError) -> OsloMessage {
        var fields = Fields()
        var inner: [UInt8]? = nil
        var envelopeVersion: String? = nil
        var envelopeError: OsloDecodingError? = nil
        try JSONScanner.scan(body) { (scanner) throws(OsloDecodingError) in
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw OsloDecodingError(reason: .osloNotJSONObject, detail: "the body does not start with a JSON object")
            }
            do throws(JSONError) {
                try scanner.readObject { (key, scanner) throws(JSONError) in
                    switch key {
                    case "oslo.message":
                        if scanner.peek() == UInt8(ascii: "\"") {
                            inner = try scanner.readStringBytes()
                        } else {
                            envelopeError = OsloDecodingError(
                                reason: .osloEnvelopeMessageNotString, detail: "oslo.message must be a JSON string")
                            try scanner.skipValue()
                        }
                    case "oslo.version": envelopeVersion = try readVersion(&scanner) ?? envelopeVersion
                    default: try fields.read(key, &scanner)
                    }
                }
                try scanner.expectEnd()
            } catch {
                throw .json(error, inner: false)
            }
        }
        if let envelopeError { throw envelopeError }
        if let inner {
            fields = Fields()
            try JSONScanner.scan(inner) { (scanner) throws(OsloDecodingError) in
                guard scanner.peek() == UInt8(ascii: "{") else {
                    throw OsloDecodingError(reason: .osloInnerNotJSONObject, detail: "oslo.message is not a JSON object")
                }
                do throws(JSONError) {
                    try scanner.readObject { (key, scanner) throws(JSONError) in try fields.read(key, &scanner) }
                    try scanner.expectEnd()
                } catch {
                    throw .json(error, inner: true)
                }
            }
        }
        return try fields.message(envelopeVersion: inner == nil ? nil : (envelopeVersion ?? "2.0"))
    }

    /// The keys the decoder reads; everything else is skipped.
    struct Fields {
        var message = OsloMessage(kind: .request)
        var hasMethod = false
        var hasEnding = false
        var hasEventType = false
        var typeError: OsloDecodingError?
        var rawTraceParent: String?
        var rawTraceState: String?
        var rawTraceInfo: (base: String?, parent: String?)?
        var userFallback: String?
        var projectFallback: String?
        var argsSubject = MessageSubject()
        var payloadSubject = MessageSubject()
        /// Set on the in-place path only (`decode(_:interner:)`): the reference path allocates every string, as before.
        var interner: StringInterner? = nil

        mutating func wrongType(_ key: JSONKey, _ expected: String) {
            if typeError == nil {
                typeError = OsloDecodingError(reason: .osloWrongType, detail: "\(key.string) is not \(expected)")
            }
        }

        /// A string or null; anything else is skipped and is a type error of the message, or with `dropOnly` (trace
        /// context) only of that field, which is dropped while the message is kept.
        /// `shared`: a value that repeats across messages, read through the interner when there is one (IDs unique to
        /// a message would only evict the ones that repeat).
        mutating func string(
            _ key: JSONKey, _ scanner: inout JSONScanner, dropOnly: Bool = false, shared: Bool = false
        ) throws(JSONError) -> String? {
            switch scanner.peek() {
            case UInt8(ascii: "\""):
                guard shared, let interner else { return try scanner.readString() }
                guard let string = try scanner.withStringBytes(interner.string) else {
                    throw JSONError(code: .invalidUTF8, offset: scanner.offset)  // the reference path reports it
                }
                return string
            case UInt8(ascii: "n"):
                _ = try scanner.readNull()
                return nil
            default:
                if dropOnly {
                    message.context.rejectedFields.append("\(key.string):wrong_type")
                } else {
                    wrongType(key, "a string")
                }
                try scanner.skipValue()
                return nil
            }
        }

        mutating func read(_ key: JSONKey, _ scanner: inout JSONScanner) throws(JSONError) {
            switch key {
            case "method":
                hasMethod = true
                message.method = try string(key, &scanner, shared: true)
                if message.method == nil { wrongType(key, "a string") }
            case "namespace": message.namespace = try string(key, &scanner, shared: true)
            case "version": message.version = try string(key, &scanner)
            case "_msg_id": message.msgID = try string(key, &scanner)
            case "_reply_q": message.replyQueue = try string(key, &scanner, shared: true)
            case "_unique_id": message.uniqueID = try string(key, &scanner)
            case "_timeout":
                switch scanner.peek() {
                case UInt8(ascii: "n"): _ = try scanner.readNull()
                case let byte? where byte == UInt8(ascii: "-") || isDigit(byte):
                    message.monitorTimeout = Double(try scanner.readNumberText())
                default:
                    wrongType(key, "a number")
                    try scanner.skipValue()
                }
            case "ending":
                hasEnding = true
                switch scanner.peek() {
                case UInt8(ascii: "t"), UInt8(ascii: "f"): message.ending = try scanner.readBool()
                default:
                    wrongType(key, "a bool")
                    try scanner.skipValue()
                }
            case "failure":
                switch scanner.peek() {
                case UInt8(ascii: "n"): _ = try scanner.readNull()
                case UInt8(ascii: "\""):
                    let text = try scanner.readStringBytes()
                    message.failure = RemoteFailure(serialized: text)
                default:
                    wrongType(key, "a JSON string")
                    try scanner.skipValue()
                }
            case "message_id": message.messageID = try string(key, &scanner)
            case "publisher_id": message.publisherID = try string(key, &scanner, shared: true)
            case "event_type":
                hasEventType = true
                message.eventType = try string(key, &scanner, shared: true)
            case "priority": message.priority = try string(key, &scanner)
            case "timestamp": message.timestamp = try string(key, &scanner)
            case "_context_request_id": message.context.requestID = try string(key, &scanner, shared: true)
            case "_context_global_request_id":
                message.context.globalRequestID = try string(key, &scanner, shared: true)
            case "_context_user_id": message.context.userID = try string(key, &scanner, shared: true)
            case "_context_project_id": message.context.projectID = try string(key, &scanner, shared: true)
            // oslo.context's base RequestContext serializes the IDs as `user` and `project` (nova adds `*_id`).
            case "_context_user": userFallback = try string(key, &scanner, shared: true)
            case "_context_project": projectFallback = try string(key, &scanner, shared: true)
            case "_context_traceparent": rawTraceParent = try string(key, &scanner, dropOnly: true)
            case "_context_tracestate": rawTraceState = try string(key, &scanner, dropOnly: true)
            case "_context_trace_info": try readTraceInfo(&scanner)
            // Read in this same walk: the instance UUID only (MessageSubject's allow-list), the rest skipped.
            case "args": try argsSubject.readArgs(&scanner, interner: interner)
            case "payload": try payloadSubject.readPayload(&scanner, interner: interner)
            default:
                // result, auth_token, service_catalog and every other key: never materialized.
                try scanner.skipValue()
            }
        }

        /// `_context_trace_info`: reads `base_id` and `parent_id`, skips `hmac_key` (a secret) and the rest.
        mutating func readTraceInfo(_ scanner: inout JSONScanner) throws(JSONError) {
            guard scanner.peek() == UInt8(ascii: "{") else {
                if try !scanner.readNull() {
                    message.context.rejectedFields.append("_context_trace_info:wrong_type")
                    try scanner.skipValue()
                }
                return
            }
            var base: String?
            var parent: String?
            try scanner.readObject { (key, scanner) throws(JSONError) in
                switch (key, scanner.peek()) {
                case ("base_id", UInt8(ascii: "\"")): base = try scanner.readString()
                case ("parent_id", UInt8(ascii: "\"")): parent = try scanner.readString()
                default: try scanner.skipValue()
                }
            }
            rawTraceInfo = (base, parent)
        }

        mutating func message(envelopeVersion: String?) throws(OsloDecodingError) -> OsloMessage {
            if let typeError { throw typeError }
            if hasMethod {
                message.kind = .request
            } else if hasEnding {
                message.kind = .reply
            } else if hasEventType {
                message.kind = .notification
            } else {
                throw OsloDecodingError(
                    reason: .osloNotOslo, detail: "no method, ending or event_type: not an oslo.messaging message")
            }
            message.envelopeVersion = envelopeVersion
            message.subject = message.kind == .notification ? payloadSubject.subject : argsSubject.subject
            if message.context.userID == nil { message.context.userID = userFallback }
            if message.context.projectID == nil { message.context.projectID = projectFallback }
            if let rawTraceParent {
                if let parsed = TraceParent(rawTraceParent) {
                    message.context.traceParent = parsed
                    if let rawTraceState {
                        if TraceState.isValid(rawTraceState) {
                            message.context.traceState = rawTraceState
                        } else {
                            message.context.rejectedFields.append("_context_tracestate:invalid")
                        }
                    }
                } else {
                    message.context.rejectedFields.append("_context_traceparent:invalid")
                }
            }
            if let rawTraceInfo {
                if let base = rawTraceInfo.base.flatMap({ TraceID(uuid: $0) }),
                    let parent = rawTraceInfo.parent.flatMap({ uuidBytes($0) })
                {
                    message.context.traceInfo = ProfilerTraceInfo(baseID: base, parentSpanID: SpanID(bytes: parent[8...]))
                } else {
                    message.context.rejectedFields.append("_context_trace_info:invalid")
                }
            }
            return message
        }
    }
}

extension RemoteFailure {
    /// Reads oslo.messaging's serialized failure (`{"class", "module", "message", "tb", "args", "kwargs"}` as a JSON
    /// string); an unreadable one still marks the call failed, with class `RemoteError`.
    init(serialized bytes: [UInt8]) {
        var className: String?
        var module: String?
        var message: String?
        do {
            try JSONScanner.scan(bytes) { (scanner) throws(JSONError) in
                try scanner.readObject { (key, scanner) throws(JSONError) in
                    switch (key, scanner.peek()) {
                    case ("class", UInt8(ascii: "\"")): className = try scanner.readString()
                    case ("module", UInt8(ascii: "\"")): module = try scanner.readString()
                    case ("message", UInt8(ascii: "\"")): message = try scanner.readString()
                    default: try scanner.skipValue()  // tb leaks file paths; args/kwargs may hold anything
                    }
                }
            }
        } catch {
            className = nil
        }
        self.init(
            className: className ?? "RemoteError", module: className == nil ? nil : module,
            message: message ?? "unreadable remote failure")
    }
}
