import ArgumentParser
import Logging

/// `--log-format` and `--log-level`, for every long-running command.
struct LogFlags: ParsableArguments {
    @Option(name: .customLong("log-format"), help: ArgumentHelp(
        "text (for people), logfmt or json (for log pipelines).", valueName: "format"))
    var format: LineLogHandler.Format = .text

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "Least severe level logged: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var level: Logger.Level = .info

    /// Installs the handler; call once, before the first log line.
    func bootstrap() {
        let format = format, level = level
        LoggingSystem.bootstrap { _ in LineLogHandler(format: format, logLevel: level) }
    }
}

extension LineLogHandler.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
