import Agent
import ArgumentParser
import Foundation
import OTLPExport
import RabbitMQ
import TraceCore

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay captured bus traffic (fixture JSONL) into traces.",
        discussion: """
            Reads captures in the fixture format (one JSON object per line: firehose or tap messages with their \
            AMQP headers and base64 bodies; see fixtures/README.md), runs them through the same decoding and \
            synthesis as the live agent, using each line's captured_at as the event time, and writes the spans. \
            Several captures (one per bus, as for nova cells: the API's bus and each cell's) are merged by \
            captured_at into one synthesis, as `run --bus ... --bus ...` reads them live.

            Examples:
              trace-bridge replay fixtures/a_boot.jsonl
              trace-bridge replay fixtures/e_otel.jsonl --format otlp-json --output e_otel.otlp.jsonl
              trace-bridge replay fixtures/a_boot.jsonl --format otlp --otlp-endpoint http://localhost:4317
              trace-bridge replay fixtures/a_boot.jsonl --mode publish-only     (what that mode would keep)
              trace-bridge replay api-bus.jsonl cell1-bus.jsonl                 (two buses, one synthesis)
              trace-bridge replay fixtures/d_notify.jsonl --service-map notifications=nova-notify-listener \\
                  --service-map versioned_notifications=nova-notify-listener

            A line that is not valid JSON or lacks routing_key, captured_at or body_b64 is reported with its line \
            number and skipped (--strict stops instead). Messages that are not oslo.messaging are counted and \
            skipped. A summary goes to standard error.
            """
    )

    @Argument(help: ArgumentHelp("Capture files in the fixture format; '-' reads standard input.", valueName: "file"))
    var files: [String]

    @Option(name: .shortAndLong, help: "Output format: tree (for people), otlp-json (one OTLP request per line), otlp-proto (binary OTLP), otlp (export to a collector; exit code 69 if not every span was accepted).")
    var format: OutputFormat = .tree

    @Option(name: .shortAndLong, help: ArgumentHelp("Write spans here instead of standard output.", valueName: "path"))
    var output: String?

    @Flag(help: "Stop at the first bad line (exit code 65) instead of skipping it.")
    var strict = false

    @Option(help: "Colour the tree: auto (on a terminal, unless NO_COLOR is set), always, never.")
    var color: ColourChoice = .auto

    @Flag(name: .shortAndLong, help: "Print only the spans, no summary on standard error.")
    var quiet = false

    @OptionGroup(title: "Synthesis")
    var synthesis: SynthesisFlags

    @OptionGroup(title: "Source mode (replay a full capture as a cheaper mode would have seen it)")
    var source: SourceModeFlags

    @OptionGroup(title: "OTLP export (--format otlp)")
    var export: ExporterFlags

    @Option(name: .customLong("export-grace"), help: "--format otlp: seconds to wait for the collector at the end.")
    var exportGraceSeconds = 30.0

    @OptionGroup(title: "Logging")
    var logging: LogFlags

    func run() async throws {
        logging.bootstrap()
        var options = try synthesis.options()
        let reduce = source.mode != nil || !source.tapExchanges.isEmpty || !source.bindings.isEmpty
        if reduce { options.visibility = try source.visibility(role: .controlPlane) }
        var pipeline = EventPipeline(options: options, reducesToVisibility: reduce)
        let resourceAttributes = try synthesis.extraResourceAttributes()
        let exporter: BatchingExporter<Int>? = format == .otlp
            ? BatchingExporter(transport: try makeTransport(try export.configuration()), policy: export.policy(prefetch: 2000),
                               resourceAttributes: resourceAttributes, notice: ExportSink.report)
            : nil
        let writer = format == .otlp
            ? nil : try SpanWriter(format: format, path: output, colour: color, extraResourceAttributes: resourceAttributes)
        var traceIDs = Set<TraceID>()
        var spanCount = 0
        func emit(_ spans: [Span]) {
            spanCount += spans.count
            for span in spans { traceIDs.insert(span.traceID) }
            writer?.write(spans)
            exporter?.accept(spans, from: nil)
        }
        var failure: ExitCode?
        /// A bad line: counted and skipped (its number in the first-example report), or the end with --strict.
        func handleLine(_ line: [UInt8], _ number: Int, of file: String) -> [Span] {
            let before = pipeline.stats.skipped
            let spans = pipeline.process(line: line, number: number)
            if strict, pipeline.stats.skipped != before {
                let reason = pipeline.stats.skipped.first { before[$0.key] != $0.value }!.key
                printError("trace-bridge: \(file): \(pipeline.stats.firstExample[reason] ?? reason.rawValue) (--strict)")
                failure = ExitCode(65)
            }
            return spans
        }
        if files.count == 1 {
            // One capture: lines straight into the pipeline, in file order.
            let file = files[0]
            let reader = try ChunkedFileReader(path: file)
            var splitter = LineSplitter()
            let handle: ([UInt8], Int) -> Void = { line, number in
                guard failure == nil else { return }
                emit(handleLine(line, number, of: file))
            }
            while let chunk = try reader.next() {
                splitter.feed(chunk, handle)
                if let failure { throw failure }
            }
            splitter.finish(handle)
            if let failure { throw failure }
        } else {
            // Several captures (one per bus): merged by event time into the one pipeline.
            let cursors = try files.map { try CaptureCursor(path: $0) }
            var merger = CaptureMerger(cursors.map { cursor in
                {
                    while let (line, number) = try cursor.nextLine() {
                        guard failure == nil else { return nil }
                        if let message = try? BusMessage(line: line, lineNumber: number) {
                            return message
                        }
                        emit(handleLine(line, number, of: cursor.path))  // counts the bad line, yields no spans
                    }
                    return nil
                }
            })
            while let (message, source) = try merger.next() {
                if let failure { throw failure }
                emit(pipeline.process(decodedLine: message, location: "\(files[source]) seq \(message.seq)"))
            }
            if let failure { throw failure }
        }
        emit(pipeline.finish())
        try writer?.finish()
        if !quiet { printSummary(pipeline, spans: spanCount, traces: traceIDs.count) }
        if let exporter {
            await exporter.shutdown(within: .milliseconds(Int64(exportGraceSeconds * 1000)))
            let counters = exporter.counters
            if !quiet {
                printError("  exported \(counters.spansExported) spans in \(counters.batchesExported) requests, \(counters.retries) retries, \(counters.spansRejected) rejected, \(counters.spansDropped) dropped")
            }
            if counters.spansExported != spanCount { throw ExitCode(69) }
        }
    }

    private func printSummary(_ pipeline: EventPipeline, spans: Int, traces: Int) {
        let stats = pipeline.stats
        let counters = pipeline.synthesizer.counters
        let events = stats.events.sorted { $0.key > $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        printError("replay: \(stats.messages) messages (\(events)), \(spans) spans in \(traces) traces")
        if stats.notVisible > 0 {
            printError("  left out \(stats.notVisible) messages the source mode would not have received")
        }
        let kinds = counters.spansByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        if !kinds.isEmpty { printError("  spans by kind: \(kinds)") }
        if counters.timeouts > 0 { printError("  calls timed out: \(counters.timeouts)") }
        let reorder = pipeline.window.counters
        if reorder.reordered + reorder.releasedAtDeadline + reorder.releasedEarly > 0 {
            printError("  reorder window (\(pipeline.window.nodeCount) nodes): \(reorder.reordered) events put back in causal order, \(reorder.releasedAtDeadline) released after waiting the whole window, \(reorder.releasedEarly) early (capacity), at most \(reorder.heldMaximum) held")
        }
        for (reason, count) in stats.skipped.sorted(by: { $0.key < $1.key }) {
            printError("  skipped \(count) × \(reason) (first: \(stats.firstExample[reason] ?? "-"))")
        }
        for (reason, count) in counters.skipped.sorted(by: { $0.key < $1.key }) {
            printError("  ignored \(count) × \(reason)")
        }
        for (header, count) in stats.missingFirehoseHeaders.missing {
            printError("  firehose header \(header.name) missing from \(count) trace messages: \(header.degradation)")
        }
        for (field, count) in counters.rejectedContextFields.sorted(by: { $0.key < $1.key }) {
            printError("  dropped \(count) × \(field) (message kept)")
        }
        for (table, count) in counters.evictions.sorted(by: { $0.key < $1.key }) {
            printError("  evicted \(count) × \(table) correlation entries")
        }
    }
}

/// One capture's lines, one at a time, for merging several captures (`CaptureMerger`).
final class CaptureCursor {
    let path: String
    private let reader: ChunkedFileReader
    private var splitter = LineSplitter()
    private var lines: [([UInt8], Int)] = []
    private var next = 0
    private var finished = false

    init(path: String) throws {
        self.path = path
        reader = try ChunkedFileReader(path: path)
    }

    func nextLine() throws -> ([UInt8], Int)? {
        while next == lines.count {
            if finished { return nil }
            lines.removeAll(keepingCapacity: true)
            next = 0
            if let chunk = try reader.next() {
                splitter.feed(chunk) { lines.append(($0, $1)) }
            } else {
                splitter.finish { lines.append(($0, $1)) }
                finished = true
            }
        }
        defer { next += 1 }
        return lines[next]
    }
}

/// Reads a file (or standard input for "-") in 1 MiB chunks, so captures of any size replay in bounded memory.
final class ChunkedFileReader {
    private let handle: FileHandle

    init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardInput
            return
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no such capture file: \(path) (try fixtures/a_boot.jsonl)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ValidationError("cannot read \(path): check its permissions")
        }
        self.handle = handle
    }

    func next() throws -> Data? {
        let data = try handle.read(upToCount: 1 << 20)
        guard let data, !data.isEmpty else { return nil }
        return data
    }
}
