import Foundation

/// A file the agent cannot write: which, and what to check. The command line shows it as a usage error (64).
public struct OutputError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Opens where spans or captures go: standard output for nil or "-", else the file, truncated or appended to (a
/// restarted `run` or `capture` adds to what the previous one wrote).
public func openOutput(_ path: String?, append: Bool) throws(OutputError) -> FileHandle {
    guard let path, path != "-" else { return FileHandle.standardOutput }
    if !append || !FileManager.default.fileExists(atPath: path) {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw OutputError("cannot create output file \(path): check the directory exists and is writable")
        }
    }
    guard let handle = try? FileHandle(forWritingTo: URL(fileURLWithPath: path)) else {
        throw OutputError("cannot open output file \(path) for writing: check its permissions")
    }
    if append { _ = try? handle.seekToEnd() }
    return handle
}

/// Writes a line to standard error.
public func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
