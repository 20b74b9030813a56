import Foundation
import Yams

/// A configuration error: names the key (or variable), where it is, and what is allowed.
struct ConfigError: Error, CustomStringConvertible {
    var description: String
}

/// A YAML configuration file, read into `section.key` values with their line numbers.
///
/// The file mirrors the OpenTelemetry Collector's style: sections (`amqp`, `source`, `export`, ...) holding keys.
/// Every key and value is checked against `ConfigKey.all`; anything unknown is an error that names the key, the
/// line and what is allowed, never silently ignored (a misspelt `max_lenght` must not leave a queue unbounded).
struct ConfigFile {
    struct Value {
        /// Scalars as written; lists item by item; KEY=VALUE mappings flattened to `KEY=VALUE` items.
        var items: [String]
        var line: Int
    }

    var path: String
    var values: [String: Value] = [:]

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(description: "cannot read the configuration file \(path): check the path and its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(description: "\(path) is not UTF-8 text")
        }
        try self.init(path: path, text: text)
    }

    init(path: String, text: String) throws {
        self.path = path
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(description: "\(path): not valid YAML: \(error)")
        }
        guard let root else { return }  // an empty file: all defaults
        guard let sections = root.mapping else {
            throw ConfigError(description: "\(path):\(Self.line(root)): expected sections (amqp:, source:, export:, ...) at the top level")
        }
        let knownSections = Self.orderedUnique(ConfigKey.all.map { String($0.section) })
        for (sectionNode, body) in sections {
            let section = sectionNode.string ?? ""
            guard knownSections.contains(section) else {
                throw ConfigError(description: "\(path):\(Self.line(sectionNode)): unknown section '\(section)'; sections are \(knownSections.joined(separator: ", "))")
            }
            guard let keys = body.mapping else {
                throw ConfigError(description: "\(path):\(Self.line(body)): section '\(section)' must hold keys, e.g. \(section):\n  \(ConfigKey.all.first { $0.section == section }!.name): ...")
            }
            for (keyNode, valueNode) in keys {
                let path = "\(section).\(keyNode.string ?? "")"
                let line = Self.line(keyNode)
                guard let key = ConfigKey.find(path) else {
                    let allowed = ConfigKey.all.filter { $0.section == section }.map { String($0.name) }
                    throw ConfigError(description: "\(self.path):\(line): unknown key '\(path)'; '\(section)' takes \(allowed.joined(separator: ", "))")
                }
                let items = try Self.items(of: valueNode, key: key, file: self.path)
                for item in items {
                    try key.validate(item, source: "\(self.path):\(Self.line(valueNode)): \(path)")
                }
                values[path] = Value(items: items, line: line)
            }
        }
    }

    private static func items(of node: Node, key: ConfigKey, file: String) throws -> [String] {
        let location = "\(file):\(line(node)): \(key.path)"
        switch (key.kind, node) {
        case (.list, .sequence(let sequence)):
            return try sequence.map { item in
                guard let text = item.string else { throw ConfigError(description: "\(location): list items must be plain values") }
                return text
            }
        case (.list, .mapping(let mapping)):
            return try mapping.map { name, value in
                guard let name = name.string, let value = value.string else {
                    throw ConfigError(description: "\(location): expected NAME: VALUE pairs")
                }
                return "\(name)=\(value)"
            }
        case (.list, .scalar(let scalar)):
            return scalar.string.isEmpty ? [] : [scalar.string]
        case (_, .scalar(let scalar)):
            // YAML null (`key:` or `key: ~`) means "not set": the default applies.
            if scalar.tag.description.hasSuffix(":null") || (scalar.string.isEmpty && scalar.style == .plain) { return [] }
            return [scalar.string]
        default:
            throw ConfigError(description: "\(location): expected a single value (\(key.kind.expected))")
        }
    }

    static func line(_ node: Node) -> Int { (node.mark?.line ?? 0) }

    static func orderedUnique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}

extension ConfigKey.Kind {
    var expected: String {
        switch self {
        case .string: "text"
        case .integer: "a whole number"
        case .number: "a number"
        case .boolean: "true or false"
        case .list: "a list"
        case .choice(let values): "one of \(values.joined(separator: ", "))"
        }
    }
}

extension ConfigKey {
    /// Checks one value (one item of a list); `source` names where it came from (file line or variable).
    func validate(_ value: String, source: String) throws {
        switch kind {
        case .string, .list:
            return
        case .integer:
            guard Int64(value) != nil else { throw ConfigError(description: "\(source): '\(value)' is not \(kind.expected)") }
        case .number:
            guard let number = Double(value), number.isFinite else {
                throw ConfigError(description: "\(source): '\(value)' is not \(kind.expected)")
            }
        case .boolean:
            guard Self.boolean(value) != nil else { throw ConfigError(description: "\(source): '\(value)' is not \(kind.expected)") }
        case .choice(let values):
            guard values.contains(value) else {
                throw ConfigError(description: "\(source): '\(value)' is not \(kind.expected)")
            }
        }
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": true
        case "false", "no", "off", "0": false
        default: nil
        }
    }
}
