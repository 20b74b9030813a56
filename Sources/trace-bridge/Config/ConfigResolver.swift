import Foundation
import RabbitMQ

/// Applies the configuration file and the environment to a command line: flags > environment > file > defaults.
///
/// It works on the arguments, before they are parsed: a setting that is not given as a flag but is set in the
/// environment or the file becomes that flag. The flags' own parsing and validation then apply to every source
/// alike, and what runs is exactly what `config check` prints.
struct ConfigResolver {
    enum Source: String {
        case flag, environment, file, `default`
    }

    /// One key's effective value and where it came from.
    struct Effective {
        var key: ConfigKey
        var items: [String]
        var source: Source
        /// The variable's name or `file:line`.
        var origin: String
    }

    /// The commands that read a configuration.
    static let commands: Set<String> = ["run", "capture"]
    static let configVariable = "TRACE_BRIDGE_CONFIG"

    let command: String
    let arguments: [String]
    let environment: [String: String]
    let file: ConfigFile?

    /// `arguments` follow the subcommand. The file is `--config PATH`, else `$TRACE_BRIDGE_CONFIG`, else none.
    init(command: String, arguments: [String], environment: [String: String]) throws {
        self.command = command
        self.arguments = arguments
        self.environment = environment
        let path = Self.flagValues("--config", in: arguments).last ?? environment[Self.configVariable].flatMap { $0.isEmpty ? nil : $0 }
        file = try path.map { try ConfigFile(path: $0) }
    }

    /// The command line to parse: `raw` with the environment's and the file's settings added as flags.
    static func apply(_ raw: [String], environment: [String: String]) throws -> [String] {
        guard let command = raw.first, commands.contains(command),
            !raw.contains(where: { $0 == "--help" || $0 == "-h" || $0 == "help" })
        else { return raw }
        let resolver = try ConfigResolver(command: command, arguments: Array(raw.dropFirst()), environment: environment)
        return [command] + resolver.arguments + (try resolver.injectedFlags())
    }

    var keys: [ConfigKey] { ConfigKey.all.filter { $0.commands.contains(command) } }

    /// Every key of the command with its effective value.
    func effective() throws -> [Effective] {
        try keys.map { key in
            let given = Self.flagValues(key.flag, in: arguments, short: key.short, boolean: key.kind == .boolean)
            if !given.isEmpty { return Effective(key: key, items: given, source: .flag, origin: key.flag) }
            for name in key.variables {
                guard let value = environment[name], !value.isEmpty else { continue }
                let items = key.kind == .list && name.hasPrefix("TRACE_BRIDGE_")
                    ? value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [value]
                if name.hasPrefix("TRACE_BRIDGE_") {
                    for item in items { try key.validate(item, source: "environment variable \(name)") }
                }
                return Effective(key: key, items: items, source: .environment, origin: name)
            }
            if let value = file?.values[key.path], !value.items.isEmpty {
                return Effective(key: key, items: value.items, source: .file, origin: "\(file!.path):\(value.line)")
            }
            return Effective(key: key, items: [], source: .default, origin: "")
        }
    }

    /// Flags for the settings that come from the environment (`TRACE_BRIDGE_*`) or the file. OpenTelemetry's own
    /// variables are left to the exporter, which reads them with their specification's semantics.
    func injectedFlags() throws -> [String] {
        var flags: [String] = []
        for value in try effective() where value.source == .environment || value.source == .file {
            if value.source == .environment, !value.origin.hasPrefix("TRACE_BRIDGE_") { continue }
            switch value.key.kind {
            case .boolean:
                if value.items.last.flatMap(ConfigKey.boolean) == true { flags.append(value.key.flag) }
            default:
                for item in value.items { flags += [value.key.flag, item] }
            }
        }
        return flags
    }

    /// The values given for a flag on the command line (`--x V`, `--x=V`, or `--x` for booleans).
    static func flagValues(_ flag: String, in arguments: [String], short: String? = nil, boolean: Bool = false) -> [String] {
        var values: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == flag || (short != nil && argument == short) {
                if boolean {
                    values.append("true")
                } else if index + 1 < arguments.count {
                    values.append(arguments[index + 1])
                    index += 1
                }
            } else if argument.hasPrefix(flag + "=") {
                values.append(String(argument.dropFirst(flag.count + 1)))
            }
            index += 1
        }
        return values
    }

    /// The effective configuration as YAML, secrets masked, each value's source in a comment.
    func render() throws -> String {
        var lines = ["# trace-bridge \(command): effective configuration (flags > environment > file > defaults)"]
        if let file { lines.append("# file: \(file.path)") }
        var section = ""
        for value in try effective() {
            if value.key.section != section {
                section = String(value.key.section)
                lines.append("\(section):")
            }
            let shown = value.items.map { Self.masked($0, key: value.key) }
            let origin = value.source == .default ? "default" : "\(value.source.rawValue) \(value.origin)"
            switch (value.key.kind, value.source) {
            case (_, .default) where value.key.defaultValue.isEmpty:
                lines.append("  \(value.key.name):  # unset")
            case (_, .default):
                lines.append("  \(value.key.name): \(Self.quoted(value.key.defaultValue))  # default")
            case (.list, _):
                lines.append("  \(value.key.name):  # \(origin)")
                for item in shown { lines.append("    - \(Self.quoted(item))") }
            default:
                lines.append("  \(value.key.name): \(Self.quoted(shown.last ?? ""))  # \(origin)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Secrets are never printed: URL passwords and header values become `****`.
    static func masked(_ value: String, key: ConfigKey) -> String {
        guard key.secret else { return value }
        // As written, password masked: one item may hold several hosts (transport_url style), or be one of them.
        if key.path == "amqp.url" { return AMQPURL.maskList(value) }
        if let equals = value.firstIndex(of: "=") { return value[..<equals] + "=****" }
        return "****"
    }

    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "-_./:@*".contains($0) }
            && !text.hasPrefix("*") && !text.hasPrefix("@")
        return plain ? text : "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
