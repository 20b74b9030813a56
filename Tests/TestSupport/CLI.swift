import Foundation

/// Locates the package's shipped files: tests run against the repository's own `fixtures/`, never `../shared`.
public enum Repository {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func fixture(_ name: String) -> URL { root.appendingPathComponent("fixtures").appendingPathComponent(name) }

    public static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
}

/// Runs the built `trace-bridge` binary and the test venv's Python.
public enum CLI {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `trace-bridge` executable built beside the test bundle (`make test` builds it first).
    public static var executable: URL {
        let productsDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let beside = productsDirectory.appendingPathComponent("trace-bridge")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return Repository.root.appendingPathComponent(".build/debug/trace-bridge")
    }

    /// The Python with `opentelemetry-proto`: `TRACE_BRIDGE_PYTHON`, else the repository's `.venv` (`make test`
    /// creates it). Missing is a failure, not a skip.
    public static var pythonExecutable: URL {
        if let path = ProcessInfo.processInfo.environment["TRACE_BRIDGE_PYTHON"] { return URL(fileURLWithPath: path) }
        return Repository.root.appendingPathComponent(".venv/bin/python")
    }

    /// Runs the binary; `environment` is added to this process's environment.
    public static func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        try execute(executable, arguments, stdin: stdin, environment: environment)
    }

    public static func python(_ arguments: [String]) throws -> Result {
        let python = pythonExecutable
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw TestSetupError("no Python with opentelemetry-proto at \(python.path): run `make test` (it creates .venv)")
        }
        return try execute(python, arguments, stdin: nil)
    }

    public static func execute(_ executable: URL, _ arguments: [String], stdin: Data?, environment: [String: String] = [:]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw TestSetupError("\(executable.path) is not built: run `make test`")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        // stderr goes to a file, stdout to a pipe drained before waiting, so no output size can block the child.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-stderr-\(UUID())")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderrData = (try? Data(contentsOf: errorFile)) ?? Data()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

/// Something the tests need is missing: a failure that says what to run, never a skip.
public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
