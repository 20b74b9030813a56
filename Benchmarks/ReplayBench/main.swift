// trace-bridge-bench: where the replay's time and allocations go, stage by stage, in one process.
//
//   trace-bridge-bench FILE [STAGE...]
//
// Each stage runs the whole file through the pipeline up to and including that stage, so the difference between
// two consecutive stages is what the later one costs. Stages (default: all, in this order):
//   read         read the file in 1 MiB chunks and split it into lines
//   parse        + decode each fixture line (BusMessage: JSON, base64 body, AMQP headers)
//   decode       + the bus event (firehose headers), a compressed body decompressed, and the oslo.messaging message
//                (envelope and inner JSON)
//   synthesize   + span synthesis (EventPipeline, what `trace-bridge replay` runs)
//   red          synthesize + the bus's RED metrics from every span (BusREDMetrics, what `run` adds for /metrics;
//                compare it with synthesize: encode does not include it)
//   live         red + the recent-traces view of every span (RecentTraces, what `run` keeps for /traces: compare it
//                with red)
//   encode       + OTLP protobuf requests of 1,024 spans each (OTLPProtobufEncoder), discarded
//   encode-swift-protobuf   the same requests through swift-protobuf instead (the generated types), for comparison
//
//   trace-bridge-bench FILE oslo [ROUNDS]
//
// times the oslo.messaging decoder alone, the largest piece of the live path's work per message: every body of the
// file (decompressed where it is) is read into memory first, untimed, then decoded ROUNDS times (default 5). One JSON
// line: bodies, their mean size, CPU µs and allocations per body. Steadier than the decode stage's difference from
// the parse stage, which carries the fixture line's cost and the file's reading.
//
//   trace-bridge-bench FILE synthesis [ROUNDS]
//
// times span synthesis alone (EventPipeline's reorder window and SpanSynthesizer): every message of the file is
// decoded into its bus event and oslo.messaging message first, untimed, then each of ROUNDS rounds (default 5) feeds
// them all to a fresh pipeline (`EventPipeline.process(event:message:location:)`). One JSON line: messages, spans,
// CPU µs and allocations per message and per span. The synthesize stage's difference from decode carries two whole
// decodes' noise; this does not.
//
//   trace-bridge-bench FILE memory [CAPACITY...]
//
// measures the correlation state instead: heap bytes per entry at each --correlation-capacity (measureMemory).
// One JSON line per stage on standard output: messages, spans, wall and CPU seconds, µs per message, heap
// allocations and bytes per message (counted by CMallocCounter), then the process's peak RSS.
// Benchmarks/replay_export.sh runs it; Benchmarks/RESULTS.md has the figures.

import CMallocCounter
import Foundation
import OTLPProto
import TraceCore

enum Stage: String, CaseIterable {
    case read, parse, decode, synthesize, red, live, encode
    case encodeSwiftProtobuf = "encode-swift-protobuf"
}

struct Measurement {
    var messages = 0
    var spans = 0
    var encodedBytes = 0
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func forEachLine(_ path: String, _ body: ([UInt8], Int) -> Void) {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        FileHandle.standardError.write(Data("trace-bridge-bench: cannot read \(path)\n".utf8))
        exit(66)
    }
    var splitter = LineSplitter()
    while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { splitter.feed(chunk, body) }
    splitter.finish(body)
    try? handle.close()
}

/// Every message of the file as a bus event and its decodable body (decompressed where it is); lines that are not
/// one are left out. For the modes that time a later stage on input decoded beforehand.
func forEachDecodableBody(_ path: String, interner: StringInterner? = nil, _ body: (BusEvent, [UInt8]) -> Void) {
    forEachLine(path) { line, number in
        guard let record = try? BusMessage(line: line, lineNumber: number),
            let event = try? BusEvent(record: record, interner: interner), let decodable = try? event.decodableBody()
        else { return }
        body(event, decodable)
    }
}

func printJSONLine(_ line: [String: Any]) {
    if let json = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) {
        print(String(decoding: json, as: UTF8.self))
    }
}

func run(_ stage: Stage, _ path: String) -> Measurement {
    var result = Measurement()
    var pipeline = EventPipeline()
    var pending: [Span] = []
    var encoder = OTLPProtobufEncoder()
    var red = BusREDMetrics()
    var recent = RecentTraces()
    func emit(_ spans: [Span], final: Bool = false) {
        result.spans += spans.count
        if stage == .red || stage == .live { red.record(spans) }
        if stage == .live { recent.add(spans, now: Int64(result.messages)) }
        guard stage == .encode || stage == .encodeSwiftProtobuf else { return }
        pending.append(contentsOf: spans)
        guard pending.count >= 1024 || (final && !pending.isEmpty) else { return }
        if stage == .encode {
            result.encodedBytes += encoder.encode(ResourceGroup.group(pending)).count
        } else {
            let bytes: [UInt8] = (try? ExportTraceServiceRequest(spans: pending).serializedBytes()) ?? []
            result.encodedBytes += bytes.count
        }
        pending.removeAll(keepingCapacity: true)
    }
    forEachLine(path) { line, number in
        result.messages += 1
        switch stage {
        case .read:
            result.encodedBytes += line.count
        case .parse:
            if let record = try? BusMessage(line: line, lineNumber: number) { result.encodedBytes += record.body.count }
        case .decode:
            guard let record = try? BusMessage(line: line, lineNumber: number),
                let event = try? BusEvent(record: record), let body = try? event.decodableBody(),
                let message = try? OsloDecoder.decode(body)
            else { return }
            result.encodedBytes += message.method?.utf8.count ?? 0
        case .synthesize, .red, .live, .encode, .encodeSwiftProtobuf:
            emit(pipeline.process(line: line, number: number))
        }
    }
    if stage.rawValue.hasPrefix("encode") || [.synthesize, .red, .live].contains(stage) {
        emit(pipeline.finish(), final: true)
    }
    if stage == .red || stage == .live { result.encodedBytes += red.exposition().utf8.count }
    if stage == .live { result.encodedBytes += recent.snapshot.reduce(0) { $0 + $1.layout.rows.count } }
    return result
}

/// `memory` mode: what the correlation state costs. For each capacity, replays the file through the pipeline (the
/// reorder window and synthesis, spans discarded) and samples, every 500 messages, the entries held
/// (`SpanSynthesizer.correlationEntries`: publishes, calls, requests, deliveries) and the heap in use
/// (`tb_heap_in_use`: glibc's `mallinfo2().uordblks`, which frees lower, unlike RSS). Bytes per entry = (heap at the
/// most entries − heap before the run) / those entries: everything the tables hold, keys, records and the tables' own
/// storage, and the little a message in flight holds. One JSON line per capacity.
func measureMemory(_ path: String, capacities: [Int]) {
    for capacity in capacities {
        let heapBefore = Int(tb_heap_in_use())
        var pipeline = EventPipeline(options: SynthesisOptions(correlationCapacity: capacity))
        var messages = 0, peakEntries = 0, heapAtPeak = heapBefore, peakHeap = heapBefore
        forEachLine(path) { line, number in
            _ = pipeline.process(line: line, number: number)
            messages += 1
            guard messages % 500 == 0 else { return }
            let entries = pipeline.synthesizer.correlationEntries
            let heap = Int(tb_heap_in_use())
            if entries >= peakEntries { (peakEntries, heapAtPeak) = (entries, heap) }
            peakHeap = max(peakHeap, heap)
        }
        let atPeak: Int = heapAtPeak - heapBefore, highest: Int = peakHeap - heapBefore
        let line: [String: Any] = [
            "capacity": capacity, "messages": messages, "peak_entries": peakEntries,
            "heap_at_peak_mib": (Double(atPeak) / 104_857.6).rounded() / 10,
            "peak_heap_mib": (Double(highest) / 104_857.6).rounded() / 10,
            "bytes_per_entry": peakEntries > 0 ? atPeak / peakEntries : 0,
        ]
        printJSONLine(line)
    }
}

/// `oslo` mode: OsloDecoder.decode over bodies held in memory (see the header).
func measureOslo(_ path: String, rounds: Int) {
    var bodies: [[UInt8]] = []
    forEachDecodableBody(path) { _, body in bodies.append(body) }
    var decoded = 0, methodBytes = 0
    let calls = tb_malloc_calls()
    let cpu = cpuSeconds()
    for _ in 0..<rounds {
        for body in bodies {
            guard let message = try? OsloDecoder.decode(body) else { continue }
            decoded += 1
            methodBytes += message.method?.utf8.count ?? 0
        }
    }
    let cpuUsed = cpuSeconds() - cpu
    let runs = Double(max(bodies.count * rounds, 1))
    let line: [String: Any] = [
        "stage": "oslo", "bodies": bodies.count, "rounds": rounds, "decoded": decoded, "method_bytes": methodBytes,
        "mean_body_bytes": bodies.isEmpty ? 0 : bodies.reduce(0) { $0 + $1.count } / bodies.count,
        "cpu_s": (cpuUsed * 1000).rounded() / 1000,
        "cpu_us_per_body": (cpuUsed / runs * 1e7).rounded() / 10,
        "allocations_per_body": (Double(tb_malloc_calls() - calls) / runs * 10).rounded() / 10,
    ]
    printJSONLine(line)
}

/// `synthesis` mode: the reorder window and the synthesizer over events held in memory (see the header).
func measureSynthesis(_ path: String, rounds: Int) {
    var events: [BusEvent] = []
    var messages: [OsloMessage] = []
    let interner = StringInterner()
    forEachDecodableBody(path, interner: interner) { event, body in
        guard let message = try? OsloDecoder.decode(body, interner: interner) else { return }
        events.append(event)
        messages.append(message)
    }
    var spans = 0
    var cpuUsed = 0.0
    var allocations = 0.0
    for _ in 0..<rounds {
        // Each event and message is taken out of a copy made before the timer starts (popLast, hence reversed) and
        // dies once the pipeline has seen it, as the decoder's output does: the timed part neither copies them nor
        // leaves their release out. The pipeline's teardown at the end of a round is not timed.
        var pendingEvents = Array(events.reversed())
        var pendingMessages = Array(messages.reversed())
        let calls = tb_malloc_calls()
        let cpu = cpuSeconds()
        var pipeline = EventPipeline()
        while let event = pendingEvents.popLast(), let message = pendingMessages.popLast() {
            spans += pipeline.process(event: event, message: message, location: "").count
        }
        spans += pipeline.finish().count
        cpuUsed += cpuSeconds() - cpu
        allocations += Double(tb_malloc_calls() - calls)
    }
    let runs = Double(max(events.count * rounds, 1))
    let line: [String: Any] = [
        "stage": "synthesis", "messages": events.count, "rounds": rounds, "spans": spans / max(rounds, 1),
        "cpu_s": (cpuUsed * 1000).rounded() / 1000,
        "cpu_us_per_message": (cpuUsed / runs * 1e7).rounded() / 10,
        "cpu_us_per_span": (cpuUsed / Double(max(spans, 1)) * 1e7).rounded() / 10,
        "allocations_per_message": (allocations / runs * 10).rounded() / 10,
    ]
    printJSONLine(line)
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.count >= 2, arguments.dropFirst().first == "synthesis", let path = arguments.first {
    measureSynthesis(path, rounds: arguments.dropFirst(2).first.flatMap { Int($0) } ?? 5)
    exit(0)
}
if arguments.count >= 2, arguments.dropFirst().first == "oslo", let path = arguments.first {
    measureOslo(path, rounds: arguments.dropFirst(2).first.flatMap { Int($0) } ?? 5)
    exit(0)
}
if arguments.count >= 2, arguments.dropFirst().first == "memory", let path = arguments.first {
    let capacities = arguments.dropFirst(2).compactMap { Int($0) }
    measureMemory(path, capacities: capacities.isEmpty ? [10_000, 25_000, 50_000, 100_000] : capacities)
    exit(0)
}
guard let path = arguments.first, !path.hasPrefix("-") else {
    print("usage: trace-bridge-bench FILE [\(Stage.allCases.map(\.rawValue).joined(separator: "|"))...]")
    exit(64)
}
var stages: [Stage] = []
for name in arguments.dropFirst() {
    guard let stage = Stage(rawValue: name) else {
        FileHandle.standardError.write(Data("trace-bridge-bench: unknown stage \(name)\n".utf8))
        exit(64)
    }
    stages.append(stage)
}
if stages.isEmpty { stages = Stage.allCases }
if tb_malloc_counting() == 0 {
    FileHandle.standardError.write(Data("trace-bridge-bench: malloc is not interposed; allocation counts are 0\n".utf8))
}
for stage in stages {
    let calls = tb_malloc_calls(), bytes = tb_malloc_bytes()
    let cpu = cpuSeconds()
    let start = ContinuousClock.now
    let measured = run(stage, path)
    let wall = start.duration(to: .now)
    let cpuUsed = cpuSeconds() - cpu
    let allocations = Double(tb_malloc_calls() - calls) / Double(max(measured.messages, 1))
    let allocatedBytes = Double(tb_malloc_bytes() - bytes) / Double(max(measured.messages, 1))
    let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
    let line: [String: Any] = [
        "stage": stage.rawValue, "messages": measured.messages, "spans": measured.spans,
        "wall_s": (wallSeconds * 1000).rounded() / 1000, "cpu_s": (cpuUsed * 1000).rounded() / 1000,
        "messages_per_s": (Double(measured.messages) / wallSeconds).rounded(),
        "cpu_us_per_message": (cpuUsed / Double(max(measured.messages, 1)) * 1e7).rounded() / 10,
        "allocations_per_message": (allocations * 10).rounded() / 10,
        "allocated_bytes_per_message": allocatedBytes.rounded(),
        "output_bytes": measured.encodedBytes,
    ]
    let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print(#"{"peak_rss_kib": \#(usage.ru_maxrss)}"#)
