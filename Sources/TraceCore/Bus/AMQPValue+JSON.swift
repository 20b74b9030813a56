import Foundation

/// Why a JSON value could not be read as an AMQP field value.
public struct AMQPJSONError: Error, Equatable, Sendable {
    public var detail: String
}

/// The fixture format's JSON mapping of AMQP field values (docs/fixture-format.md): `S` → string or
/// `{"$bytes_b64"}`, `x` → `{"$bytes_b64"}`, `T` → `{"$timestamp"}`, `D` → `{"$decimal"}`, `V` → null, `t` → bool,
/// integers → number, `f d` → number, `F` → object, `A` → array. Types come from the parallel `header_types` tree.
extension AMQPValue {
    private static let integerTags = Set("bBsuUIilL".utf8)

    /// Reads `json` with the type tag tree `type` (a one-letter string, `{"F": {...}}` or `{"A": [...]}`); without
    /// a type the tag is inferred from the JSON kind.
    public init(json: JSONValue, type: JSONValue?) throws(AMQPJSONError) {
        let tagText: String?
        var nestedType: JSONValue? = nil
        switch type {
        case .string(let letter)?: tagText = letter
        case .object(let members)? where members.count == 1:
            tagText = members[0].key
            nestedType = members[0].value
        case nil, .null?: tagText = nil
        case let other?: throw AMQPJSONError(detail: "type tag \(other.kindName) is not a letter or {F:..}/{A:..}")
        }
        guard let tagText else {
            self = try Self.inferred(from: json)
            return
        }
        guard tagText.utf8.count == 1, let tag = tagText.utf8.first else {
            throw AMQPJSONError(detail: "unknown AMQP field type \"\(tagText)\"")
        }
        switch tag {
        case UInt8(ascii: "S"):
            if let text = json.stringValue {
                self = .string(text)
            } else {
                self = .bytes(try Self.bytes(json), tag: tag)
            }
        case UInt8(ascii: "x"): self = .bytes(try Self.bytes(json), tag: tag)
        case UInt8(ascii: "t"):
            guard let flag = json.boolValue else { throw AMQPJSONError(detail: "t needs a bool") }
            self = .boolean(flag)
        case let integer where Self.integerTags.contains(integer):
            guard let value = json.int64Value else { throw AMQPJSONError(detail: "integer expected, got \(json.kindName)") }
            self = .integer(value, tag: tag)
        case UInt8(ascii: "f"), UInt8(ascii: "d"):
            guard let value = json.doubleValue else { throw AMQPJSONError(detail: "number expected, got \(json.kindName)") }
            self = .float(value, tag: tag)
        case UInt8(ascii: "D"):
            guard let digits = json["$decimal"]?.stringValue else { throw AMQPJSONError(detail: "D needs {\"$decimal\"}") }
            self = .decimal(digits)
        case UInt8(ascii: "T"):
            guard let seconds = json["$timestamp"]?.int64Value else {
                throw AMQPJSONError(detail: "T needs {\"$timestamp\"}")
            }
            self = .timestamp(seconds)
        case UInt8(ascii: "V"): self = .void
        case UInt8(ascii: "F"): self = .table(try AMQPTable(json: json, types: nestedType))
        case UInt8(ascii: "A"):
            guard case .array(let elements) = json else { throw AMQPJSONError(detail: "A needs an array") }
            var types: [JSONValue] = []
            if case .array(let elementTypes)? = nestedType { types = elementTypes }
            var values: [AMQPValue] = []
            values.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                values.append(try AMQPValue(json: element, type: index < types.count ? types[index] : nil))
            }
            self = .array(values)
        default:
            throw AMQPJSONError(detail: "unknown AMQP field type \"\(tagText)\"")
        }
    }

    private static func bytes(_ json: JSONValue) throws(AMQPJSONError) -> [UInt8] {
        guard let text = json["$bytes_b64"]?.stringValue, let data = Data(base64Encoded: text) else {
            throw AMQPJSONError(detail: "bytes need {\"$bytes_b64\": base64}")
        }
        return [UInt8](data)
    }

    private static func inferred(from json: JSONValue) throws(AMQPJSONError) -> AMQPValue {
        switch json {
        case .null: return .void
        case .bool(let flag): return .boolean(flag)
        case .number(let text):
            if let value = Int64(text) { return .integer(value, tag: UInt8(ascii: "l")) }
            return .float(Double(text) ?? 0, tag: UInt8(ascii: "d"))
        case .string(let text): return .string(text)
        case .array(let elements):
            var values: [AMQPValue] = []
            for element in elements { values.append(try inferred(from: element)) }
            return .array(values)
        case .object(let members):
            if members.count == 1, members[0].key == "$bytes_b64" { return .bytes(try bytes(json), tag: UInt8(ascii: "x")) }
            if members.count == 1, members[0].key == "$timestamp", let seconds = members[0].value.int64Value {
                return .timestamp(seconds)
            }
            if members.count == 1, members[0].key == "$decimal", let digits = members[0].value.stringValue {
                return .decimal(digits)
            }
            return .table(try AMQPTable(json: json, types: nil))
        }
    }

    /// The value in the fixture JSON mapping.
    public var jsonValue: JSONValue {
        switch self {
        case .boolean(let flag): .bool(flag)
        case .integer(let value, _): .number(String(value))
        // JSON has no infinity or NaN: 0.0, written as a float so that reading it back and writing it again gives the
        // same line (fuzzing found `1e644676` read as infinity, written `0`, read as 0.0, written `0.0`).
        case .float(let value, _): .number(value.isFinite ? String(value) : "0.0")
        case .decimal(let digits): .object([JSONMember(key: "$decimal", value: .string(digits))])
        case .string(let text): .string(text)
        case .bytes(let bytes, _): .object([JSONMember(key: "$bytes_b64", value: .string(Data(bytes).base64EncodedString()))])
        case .timestamp(let seconds): .object([JSONMember(key: "$timestamp", value: .number(String(seconds)))])
        case .table(let table): .object(table.entries.map { JSONMember(key: $0.key, value: $0.value.jsonValue) })
        case .array(let values): .array(values.map(\.jsonValue))
        case .void: .null
        }
    }

    /// The value's type tag tree (`header_types` shape).
    public var typeJSON: JSONValue {
        switch self {
        case .table(let table):
            .object([JSONMember(key: "F", value: .object(table.entries.map { JSONMember(key: $0.key, value: $0.value.typeJSON) }))])
        case .array(let values):
            .object([JSONMember(key: "A", value: .array(values.map(\.typeJSON)))])
        default:
            .string(String(UnicodeScalar(tag)))
        }
    }
}

extension AMQPTable {
    /// Reads a JSON object as a table, with the parallel type tree `types` (an object of tags) when present.
    public init(json: JSONValue, types: JSONValue?) throws(AMQPJSONError) {
        guard case .object(let members) = json else {
            throw AMQPJSONError(detail: "a table must be a JSON object, got \(json.kindName)")
        }
        var entries: [(key: String, value: AMQPValue)] = []
        entries.reserveCapacity(members.count)
        for member in members {
            do {
                entries.append((member.key, try AMQPValue(json: member.value, type: types?[member.key])))
            } catch {
                throw AMQPJSONError(detail: "\(member.key): \(error.detail)")
            }
        }
        self.init(entries)
    }
}
