/// Splits a byte stream into lines (LF, optional CR before it) fed in arbitrary chunks, so a fixture of any size is
/// read with bounded memory.
public struct LineSplitter {
    private var pending: [UInt8] = []
    public private(set) var lineNumber = 0

    public init() {}

    /// Feeds a chunk; calls `body` with each complete line and its 1-based number.
    public mutating func feed(_ chunk: some Collection<UInt8>, _ body: (_ line: [UInt8], _ number: Int) -> Void) {
        var start = chunk.startIndex
        var index = start
        while index != chunk.endIndex {
            if chunk[index] == 0x0A {
                pending.append(contentsOf: chunk[start..<index])
                emit(body)
                start = chunk.index(after: index)
            }
            index = chunk.index(after: index)
        }
        pending.append(contentsOf: chunk[start..<chunk.endIndex])
    }

    /// Emits a last line without a trailing newline.
    public mutating func finish(_ body: (_ line: [UInt8], _ number: Int) -> Void) {
        if !pending.isEmpty { emit(body) }
    }

    private mutating func emit(_ body: (_ line: [UInt8], _ number: Int) -> Void) {
        lineNumber += 1
        if pending.last == 0x0D { pending.removeLast() }
        let line = pending
        pending.removeAll(keepingCapacity: true)
        // Blank lines are not records.
        if line.contains(where: { $0 != 0x20 && $0 != 0x09 }) { body(line, lineNumber) }
    }
}
