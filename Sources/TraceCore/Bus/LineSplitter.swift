#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines (LF, optional CR before it) fed in arbitrary chunks, so a fixture of any size is
/// read with bounded memory.
public struct LineSplitter {
    private var pending: [UInt8] = []
    public private(set) var lineNumber = 0

    public init() {}

    /// Feeds a chunk; calls `body` with each complete line and its 1-based number.
    public mutating func feed(_ chunk: some Collection<UInt8>, _ body: (_ line: [UInt8], _ number: Int) -> Void) {
        // Scan contiguous memory directly: generic Collection indexing (Foundation's Data) costs far more per byte
        // than the whole rest of the pipeline.
        if let done: Void = chunk.withContiguousStorageIfAvailable({ feed(buffer: $0, body) }) { return done }
        let copy = Array(chunk)
        copy.withUnsafeBufferPointer { feed(buffer: $0, body) }
    }

    private mutating func feed(buffer: UnsafeBufferPointer<UInt8>, _ body: (_ line: [UInt8], _ number: Int) -> Void) {
        guard let base = buffer.baseAddress else { return }
        var start = 0
        while start < buffer.count, let found = memchr(base + start, 0x0A, buffer.count - start) {
            let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if pending.isEmpty {
                // The whole line is in this chunk: one copy, straight into the line.
                emit(Array(buffer[start..<newline]), body)
            } else {
                pending.append(contentsOf: buffer[start..<newline])
                let line = pending
                pending = []
                emit(line, body)
            }
            start = newline + 1
        }
        pending.append(contentsOf: buffer[start...])
    }

    /// Emits a last line without a trailing newline.
    public mutating func finish(_ body: (_ line: [UInt8], _ number: Int) -> Void) {
        if !pending.isEmpty {
            let line = pending
            pending = []
            emit(line, body)
        }
    }

    private mutating func emit(_ line: [UInt8], _ body: (_ line: [UInt8], _ number: Int) -> Void) {
        lineNumber += 1
        var line = line
        if line.last == 0x0D { line.removeLast() }
        // Blank lines are not records.
        if line.contains(where: { $0 != 0x20 && $0 != 0x09 }) { body(line, lineNumber) }
    }
}
