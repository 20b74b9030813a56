extension BusMessage {
    /// Reads a fixture line of the shape `trace-bridge capture` writes without building `JSONValue`s: header tables
    /// are converted straight from the line's bytes, typed by `header_types` where it lies in the line. Nil for any
    /// other line (a missing or invalid member, a duplicate, a type it does not read, nesting past 16 levels), which
    /// the reference reader (`init(referenceLine:)`) then reads or rejects, so errors are always the reference's.
    ///
    /// Why: the reference reader built the headers and their type tree as JSON values and then converted them, about
    /// 26 of the 44 allocations per line that reading a line cost (Benchmarks/RESULTS.md). Agreement with the
    /// reference is tested on every line of every capture, on the fuzz corpus and by the fuzzer.
    static func fastLine(_ line: [UInt8], lineNumber: Int) -> BusMessage? {
        do {
            return try JSONScanner.scan(line) { (scanner) throws(JSONError) -> BusMessage? in
                try FastLine.read(&scanner, lineNumber: lineNumber)
            }
        } catch {
            return nil
        }
    }
}

/// The fast reader of `BusMessage.fastLine`. Giving up is a thrown `JSONError` (`bail`); nothing of it is reported.
private enum FastLine {
    /// Deeper header tables are left to the reference reader (real ones nest three levels).
    static let maximumDepth = 16

    static func bail(_ scanner: JSONScanner) -> JSONError { JSONError(code: .unexpectedByte, offset: scanner.offset) }

    static func read(_ scanner: inout JSONScanner, lineNumber: Int) throws(JSONError) -> BusMessage? {
        guard scanner.peek() == UInt8(ascii: "{") else { return nil }
        var seen: UInt16 = 0
        var seq: Int64?, capturedAt: Int64?, redelivered = false
        var mode: String?, exchange: String?, routingKey: String?
        var propertyEntries: [(key: String, value: AMQPValue)] = []
        var headersAt: Int?, typesAt: Int?
        var body: [UInt8]?
        try scanner.readObject { (key, scanner) throws(JSONError) in
            /// The first of duplicate members counts in the reference reader; a duplicate is left to it.
            func once(_ bit: UInt16) throws(JSONError) {
                guard seen & bit == 0 else { throw bail(scanner) }
                seen |= bit
            }
            switch key {
            case "seq":
                try once(1)
                seq = try integer(&scanner)
            case "captured_at":
                try once(2)
                capturedAt = try integer(&scanner)
            case "mode":
                try once(4)
                mode = try string(&scanner)
            case "exchange":
                try once(8)
                exchange = try string(&scanner)
            case "routing_key":
                try once(16)
                routingKey = try string(&scanner)
            case "redelivered":
                try once(32)
                guard scanner.peek() == UInt8(ascii: "t") || scanner.peek() == UInt8(ascii: "f") else {
                    throw bail(scanner)
                }
                redelivered = try scanner.readBool()
            case "properties":
                try once(64)
                try scanner.readObject { (key, scanner) throws(JSONError) in
                    switch scanner.peek() {
                    case UInt8(ascii: "n"): _ = try scanner.readNull()
                    case UInt8(ascii: "\""): propertyEntries.append((key.string, .string(try scanner.readString())))
                    default:
                        propertyEntries.append((key.string, .integer(try integer(&scanner), tag: UInt8(ascii: "l"))))
                    }
                }
            case "headers":
                try once(128)
                guard scanner.peek() == UInt8(ascii: "{") else { throw bail(scanner) }
                headersAt = scanner.offset
                try scanner.skipValue()  // read below, once the types are known
            case "header_types":
                try once(256)
                if try scanner.readNull() { return }
                guard scanner.peek() == UInt8(ascii: "{") else { throw bail(scanner) }
                typesAt = scanner.offset
                // Lookups read only the types they need: the rest is checked here as the reference would parse it.
                try validate(&scanner, depth: 0)
            case "body_b64":
                try once(512)
                guard scanner.peek() == UInt8(ascii: "\"") else { throw bail(scanner) }
                body = try scanner.withStringBytes { Base64.decode($0) }
                if body == nil { throw bail(scanner) }
            default:
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
        guard let routingKey, let capturedAt, (0...7_000_000_000_000_000_000).contains(capturedAt), let body else {
            return nil
        }
        let resolvedMode: BusMessage.Mode
        switch mode {
        case "firehose": resolvedMode = .firehose
        case nil: resolvedMode = routingKey.hasPrefix("publish.") || routingKey.hasPrefix("deliver.") ? .firehose : .tap
        case "tap": resolvedMode = .tap
        default: return nil
        }
        var headers = AMQPTable()
        if let headersAt {
            var tables = JSONScanner(buffer: scanner.buffer, offset: headersAt)
            headers = try table(&tables, types: typesAt, depth: 0)
        }
        return BusMessage(
            seq: seq ?? Int64(lineNumber), capturedAt: capturedAt, mode: resolvedMode,
            exchange: exchange ?? (resolvedMode == .firehose ? "amq.rabbitmq.trace" : ""), routingKey: routingKey,
            redelivered: redelivered,
            properties: propertyEntries.isEmpty ? MessageProperties() : MessageProperties(table: AMQPTable(propertyEntries)),
            headers: headers, body: body)
    }

    /// A string member; anything else is the reference's to judge.
    static func string(_ scanner: inout JSONScanner) throws(JSONError) -> String {
        guard scanner.peek() == UInt8(ascii: "\"") else { throw bail(scanner) }
        return try scanner.readString()
    }

    /// An integral number in `Int64`'s range.
    static func integer(_ scanner: inout JSONScanner) throws(JSONError) -> Int64 {
        guard let byte = scanner.peek(), byte == UInt8(ascii: "-") || isDigit(byte) else { throw bail(scanner) }
        guard let value = try scanner.readInteger() else { throw bail(scanner) }
        return value
    }

    /// Checks the value at the cursor as `parseValue` would (string escapes and UTF-8, keys, numbers), building
    /// nothing but the short strings of a type tree.
    static func validate(_ scanner: inout JSONScanner, depth: Int) throws(JSONError) {
        guard depth < maximumDepth else { throw bail(scanner) }
        switch scanner.peek() {
        case UInt8(ascii: "{"):
            try scanner.readObject { (_, scanner) throws(JSONError) in try validate(&scanner, depth: depth + 1) }
        case UInt8(ascii: "["):
            try scanner.expect(UInt8(ascii: "["))
            if scanner.peek() == UInt8(ascii: "]") {
                try scanner.expect(UInt8(ascii: "]"))
                return
            }
            while true {
                try validate(&scanner, depth: depth + 1)
                if scanner.peek() == UInt8(ascii: "]") {
                    try scanner.expect(UInt8(ascii: "]"))
                    return
                }
                try scanner.expect(UInt8(ascii: ","))
            }
        case UInt8(ascii: "\""): _ = try scanner.readString()
        default: _ = try scanner.parseValue()  // a literal or a number
        }
    }

    // MARK: Header tables

    /// A member's AMQP type as `header_types` gives it: none (inferred from the JSON), a letter, or the offset in
    /// the line of a nested table's (`{"F": {...}}`) or array's (`{"A": [...]}`) types.
    enum FieldType {
        case inferred
        case letter(UInt8)
        case table(Int)
        case array(Int)
    }

    /// The table at the cursor, its members typed by the `header_types` object at offset `types`.
    static func table(_ scanner: inout JSONScanner, types: Int?, depth: Int) throws(JSONError) -> AMQPTable {
        guard depth < maximumDepth, scanner.peek() == UInt8(ascii: "{") else { throw bail(scanner) }
        var entries: [(key: String, value: AMQPValue)] = []
        // Types are written in the headers' order: the member at `hint` is tried first.
        var hint = types.map { $0 + 1 }
        try scanner.readObject { (key, scanner) throws(JSONError) in
            let name = key.string
            // A repeated key would make the in-order guess differ from the reference's first-match lookup.
            for entry in entries where entry.key == name { throw bail(scanner) }
            // Room for a firehose event's headers (about ten) at the first member: one allocation instead of one per
            // doubling (1, 2, 4, 8, 16), and none for an empty table.
            if entries.isEmpty { entries.reserveCapacity(16) }
            var type = FieldType.inferred
            if let types, var position = hint {
                type = try memberType(key, buffer: scanner.buffer, object: types, hint: &position)
                hint = position
            }
            entries.append((name, try value(&scanner, type, depth: depth + 1)))
        }
        return AMQPTable(distinctEntries: entries)
    }

    /// The type of member `key` in the types object at `object`: the member at `hint` when it is that key (then
    /// `hint` moves past it), else the first member of that name, as the reference's lookup finds it. Every member
    /// before `hint` was matched in order to an earlier, different key, so the one at `hint` is the first of its name.
    ///
    /// Keys are compared as bytes, the reference's as `String`s, which are equal when canonically equivalent
    /// ("\u{212A}" is "K"): a non-ASCII key is left to the reference.
    static func memberType(
        _ key: JSONKey, buffer: UnsafeBufferPointer<UInt8>, object: Int, hint: inout Int
    ) throws(JSONError) -> FieldType {
        var cursor = JSONScanner(buffer: buffer, offset: hint)
        guard key.isASCII else { throw bail(cursor) }
        if cursor.peek() == UInt8(ascii: "\"") {
            let name = try cursor.readKey()
            try cursor.expect(UInt8(ascii: ":"))
            if name.sameBytes(as: key) {
                let type = try fieldType(&cursor)
                if cursor.peek() == UInt8(ascii: ",") { try cursor.expect(UInt8(ascii: ",")) }
                hint = cursor.offset
                return type
            }
        }
        cursor = JSONScanner(buffer: buffer, offset: object)
        try cursor.expect(UInt8(ascii: "{"))
        guard cursor.peek() != UInt8(ascii: "}") else { return .inferred }
        while true {
            let name = try cursor.readKey()
            guard name.isASCII else { throw bail(cursor) }
            try cursor.expect(UInt8(ascii: ":"))
            if name.sameBytes(as: key) { return try fieldType(&cursor) }
            try cursor.skipValue()
            guard cursor.peek() == UInt8(ascii: ",") else { return .inferred }
            try cursor.expect(UInt8(ascii: ","))
        }
    }

    /// Reads one type of the tree: a one-letter string, null (inferred), `{"F": {...}}` or `{"A": [...]}`.
    static func fieldType(_ cursor: inout JSONScanner) throws(JSONError) -> FieldType {
        switch cursor.peek() {
        case UInt8(ascii: "\""):
            let letter = try cursor.readString().utf8
            guard letter.count == 1, let tag = letter.first else { throw bail(cursor) }
            return .letter(tag)
        case UInt8(ascii: "n"):
            _ = try cursor.readNull()
            return .inferred
        case UInt8(ascii: "{"):
            try cursor.expect(UInt8(ascii: "{"))
            guard cursor.peek() == UInt8(ascii: "\"") else { throw bail(cursor) }
            let name = try cursor.readKey()
            try cursor.expect(UInt8(ascii: ":"))
            let nested = cursor.peek()
            let at = cursor.offset
            let type: FieldType
            switch name {
            case "F" where nested == UInt8(ascii: "{"): type = .table(at)
            case "A" where nested == UInt8(ascii: "["): type = .array(at)
            default: throw bail(cursor)
            }
            try cursor.skipValue()
            try cursor.expect(UInt8(ascii: "}"))  // exactly one member
            return type
        default:
            throw bail(cursor)
        }
    }

    /// One header value of type `type` (the reference's `AMQPValue(json:type:)` for the types it reads).
    static func value(_ scanner: inout JSONScanner, _ type: FieldType, depth: Int) throws(JSONError) -> AMQPValue {
        let next = scanner.peek()
        switch type {
        case .inferred:
            switch next {
            case UInt8(ascii: "\""): return .string(try scanner.readString())
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean(try scanner.readBool())
            case UInt8(ascii: "n"):
                _ = try scanner.readNull()
                return .void
            case UInt8(ascii: "["): return .array(try array(&scanner, types: nil, depth: depth))
            case UInt8(ascii: "{"): throw bail(scanner)  // maybe {"$bytes_b64"} and the like
            default:
                return .integer(try integer(&scanner), tag: UInt8(ascii: "l"))
            }
        case .letter(let tag):
            switch tag {
            case UInt8(ascii: "S"):
                guard next == UInt8(ascii: "\"") else { throw bail(scanner) }
                return .string(try scanner.readString())
            case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "s"), UInt8(ascii: "u"), UInt8(ascii: "U"),
                UInt8(ascii: "I"), UInt8(ascii: "i"), UInt8(ascii: "l"), UInt8(ascii: "L"):
                return .integer(try integer(&scanner), tag: tag)
            case UInt8(ascii: "t"):
                guard next == UInt8(ascii: "t") || next == UInt8(ascii: "f") else { throw bail(scanner) }
                return .boolean(try scanner.readBool())
            case UInt8(ascii: "V"):
                guard try scanner.readNull() else { throw bail(scanner) }
                return .void
            default:
                throw bail(scanner)  // floats, decimals, timestamps, bytes: the reference reads them
            }
        case .table(let types):
            return .table(try table(&scanner, types: types, depth: depth))
        case .array(let types):
            guard next == UInt8(ascii: "[") else { throw bail(scanner) }
            return .array(try array(&scanner, types: types, depth: depth))
        }
    }

    /// The array at the cursor, its elements typed by position from the types array at offset `types`.
    static func array(_ scanner: inout JSONScanner, types: Int?, depth: Int) throws(JSONError) -> [AMQPValue] {
        guard depth < maximumDepth else { throw bail(scanner) }
        try scanner.expect(UInt8(ascii: "["))
        var values: [AMQPValue] = []
        if scanner.peek() == UInt8(ascii: "]") {
            try scanner.expect(UInt8(ascii: "]"))
            return values
        }
        var typeCursor = types.map { JSONScanner(buffer: scanner.buffer, offset: $0) }
        var typesLeft = false
        if var cursor = typeCursor {
            try cursor.expect(UInt8(ascii: "["))
            typesLeft = cursor.peek() != UInt8(ascii: "]")
            typeCursor = cursor
        }
        while true {
            var type = FieldType.inferred
            if typesLeft, var cursor = typeCursor {
                type = try fieldType(&cursor)
                if cursor.peek() == UInt8(ascii: ",") {
                    try cursor.expect(UInt8(ascii: ","))
                } else {
                    typesLeft = false
                }
                typeCursor = cursor
            }
            values.append(try value(&scanner, type, depth: depth + 1))
            if scanner.peek() == UInt8(ascii: "]") {
                try scanner.expect(UInt8(ascii: "]"))
                return values
            }
            try scanner.expect(UInt8(ascii: ","))
        }
    }
}
