import Agent
import ArgumentParser
import Foundation

/// `trace-bridge config check|keys`: what the agent will run with, and every setting it has.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration, or list every setting.",
        subcommands: [Check.self, Keys.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate the configuration and print the effective settings, secrets masked.",
            discussion: """
                Reads the file (--config, else $TRACE_BRIDGE_CONFIG; none: defaults plus environment), applies the \
                environment and any flags given after --, validates everything `run` would, and prints the result \
                with the source of each value. Exit code 0 when valid, 78 (EX_CONFIG) with the reason otherwise.

                Examples:
                  trace-bridge config check --config deploy/kubernetes/control-plane/config.yaml
                  TRACE_BRIDGE_SOURCE_MODE=tap trace-bridge config check
                  trace-bridge config check --config agent.yaml -- --mode publish-only
                """)

        @Option(help: ArgumentHelp("The YAML configuration file.", valueName: "path"))
        var config: String?

        @Option(help: "The command whose configuration to check: run or capture.")
        var command: String = "run"

        @Argument(parsing: .postTerminator, help: ArgumentHelp("Flags of the command, after --.", valueName: "flags"))
        var flags: [String] = []

        func run() throws {
            guard ConfigResolver.commands.contains(command) else {
                throw ValidationError("--command \(command) takes no configuration; use run or capture")
            }
            do {
                let resolver = try ConfigResolver(
                    command: command, arguments: (config.map { ["--config", $0] } ?? []) + flags,
                    environment: ProcessInfo.processInfo.environment)
                let arguments = resolver.arguments + (try resolver.injectedFlags())
                // The same parsing and validation as the command itself, without connecting to anything.
                switch command {
                case "capture":
                    var parsed = try CaptureCommand.parse(arguments + (arguments.contains("--output") ? [] : ["--output", "-"]))
                    try parsed.validate()
                    _ = try parsed.broker.topology()
                    _ = try parsed.broker.connectionSettings(purpose: "check")
                default:
                    var parsed = try RunCommand.parse(arguments)
                    try parsed.validate()
                    try parsed.checkConfiguration()
                }
                print(try resolver.render())
                print("# valid")
            } catch let error as ConfigError {
                printError("trace-bridge: \(error.description)")
                throw ExitCode(78)
            } catch {
                printError("trace-bridge: \(RunCommand.message(for: error))")
                throw ExitCode(78)
            }
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys",
            abstract: "Print every setting as the README's table: key, flag, variable, default, meaning.")

        enum Listing: String, ExpressibleByArgument, CaseIterable {
            case table, keys, variables
        }

        @Option(help: "table (markdown, the README's), keys (one dotted key per line) or variables (every environment variable read).")
        var list: Listing = .table

        func run() {
            switch list {
            case .table: print(Self.markdownTable())
            case .keys: print(ConfigKey.all.map(\.path).joined(separator: "\n"))
            case .variables:
                print((ConfigKey.all.flatMap(\.variables) + [ConfigResolver.configVariable]).joined(separator: "\n"))
            }
        }

        static func markdownTable() -> String {
            var rows = ["| key | flag | variable | default | meaning |", "|---|---|---|---|---|"]
            for key in ConfigKey.all {
                let variables = key.variables.map { "`\($0)`" }.joined(separator: ", ")
                let defaultValue = key.defaultValue.isEmpty ? "" : "`\(key.defaultValue)`"
                let commands = key.commands == ["run"] ? " (run)" : ""
                rows.append("| `\(key.path)` | `\(key.flag)` | \(variables) | \(defaultValue) | \(key.meaning)\(commands) |")
            }
            return rows.joined(separator: "\n")
        }
    }
}
