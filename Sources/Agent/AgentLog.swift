import Logging

/// The process's logger; the command line sets its format and level (`LogFlags.bootstrap()`) before anything logs.
public let agentLogger = Logger(label: "trace-bridge")

/// Logs a constant message with metadata (info unless said otherwise): the message stays the same from one
/// occurrence to the next, so that operators can search for it, and what varies goes into the metadata.
public func log(_ message: String, _ metadata: [String: String], level: Logger.Level = .info) {
    agentLogger.log(level: level, "\(message)", metadata: metadata.mapValues { .string($0) })
}
