import Foundation

/// A child process that runs while the test goes on (an agent, the scenario driver), with its output in files.
public final class BackgroundProcess: @unchecked Sendable {
    // Mutated only by the test that owns it; Process itself is thread-safe for these calls.
    public let process = Process()
    public let stdoutFile: URL
    public let stderrFile: URL

    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let id = UUID().uuidString.prefix(8)
        stdoutFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(executable.lastPathComponent)-\(id).out")
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(executable.lastPathComponent)-\(id).err")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        var environment = environment
        if executable.lastPathComponent == "trace-bridge", environment["TRACE_BRIDGE_HTTP_LISTEN"] == nil {
            // Tests run several agents at once: each listens on a port of its own, not the default 9464.
            environment["TRACE_BRIDGE_HTTP_LISTEN"] = "127.0.0.1:0"
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the process to exit; kills it and fails after `timeout`.
    @discardableResult
    public func wait(timeout: Double) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TestSetupError("\(process.executableURL?.lastPathComponent ?? "process") did not exit within \(timeout) s; stderr: \(stderr.suffix(2000))")
            }
            usleep(20_000)
        }
        return process.terminationStatus
    }

    public func cleanUp() {
        signal(SIGKILL)
        try? FileManager.default.removeItem(at: stdoutFile)
        try? FileManager.default.removeItem(at: stderrFile)
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns the seconds it took, or throws.
@discardableResult
public func waitUntil(_ what: String, timeout: Double, _ condition: () throws -> Bool) throws -> Double {
    let start = Date()
    while Date().timeIntervalSince(start) < timeout {
        if try condition() { return Date().timeIntervalSince(start) }
        usleep(50_000)
    }
    throw TestSetupError("timed out after \(timeout) s waiting for \(what)")
}

/// Runs a command to completion with `posix_spawn` and `waitpid`, output appended to `log`.
///
/// Foundation's `Process` on Linux learns that a child exited when a descriptor it shares with the child closes; a
/// daemon the child starts (tools/broker.sh starting RabbitMQ) inherits that descriptor, so `Process` would wait
/// for the daemon. `waitpid` waits for the child alone.
public func runToCompletion(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                            log: URL, timeout: Double) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0)=\($1)") } + [nil]
    defer { for pointer in argv + env { free(pointer) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, nil, argv, env)
    guard status == 0 else { throw TestSetupError("cannot start \(executable): errno \(status)") }
    let deadline = Date().addingTimeInterval(timeout)
    var exitStatus: Int32 = 0
    while waitpid(pid, &exitStatus, WNOHANG) == 0 {
        if Date() > deadline {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &exitStatus, 0)
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        usleep(50_000)
    }
    // WIFEXITED / WEXITSTATUS are macros Swift does not import.
    return (exitStatus & 0x7F) == 0 ? (exitStatus >> 8) & 0xFF : 128 + (exitStatus & 0x7F)
}
