import ArgumentParser
import Foundation
import OTLPExport
import TraceCore

/// Flags that shape span synthesis, shared by every command that synthesizes (replay now, run later).
struct SynthesisFlags: ParsableArguments {
    @Option(
        name: .customLong("service-map"),
        help: ArgumentHelp(
            "Attribute an RPC topic or notification topic to a service, as TOPIC=SERVICE (repeatable).",
            discussion: "Example: --service-map notifications=ceilometer-agent-notification. Defaults cover nova, cinder, neutron, heat, manila and octavia; unknown topics are attributed to 'unknown'.",
            valueName: "topic=service"))
    var serviceMap: [String] = []

    @Option(
        name: .customLong("sender-traced"),
        help: ArgumentHelp(
            "When a message carries its sender's own traceparent: 'complement' emits only what the sender cannot see (queue wait, round trips, server time); 'full' also emits our PRODUCER span.",
            valueName: "policy"))
    var senderTraced: SynthesisOptions.SenderTracedPolicy = .complement

    @Option(
        name: .customLong("correlation-capacity"),
        help: ArgumentHelp(
            "Entries per correlation table (publishes, calls, requests; deliveries twice this): beyond it the oldest are evicted and counted, an evicted call ends as a timeout. About 1 KiB per entry.",
            valueName: "entries"))
    var correlationCapacity = 100_000

    @Option(
        name: .customLong("reorder-window"),
        help: ArgumentHelp(
            "Milliseconds an event may wait for a message of another RabbitMQ node that must come first (cluster order: every node publishes its own trace messages); 0 turns it off. Spans leave up to this much later, and about message rate × this many events are held.",
            valueName: "ms"))
    var reorderWindowMilliseconds = Int(SynthesisOptions.defaultReorderWindow / 1_000_000)

    @Option(
        name: .customLong("foreign-queue"),
        help: ArgumentHelp(
            "Deliveries to queues matching this topic pattern are another agent's (repeatable), e.g. --foreign-queue 'compute.*' on the control plane when hypervisor agents run: they still link the trace here, but their CONSUMER spans are left to that agent.",
            valueName: "pattern"))
    var foreignQueues: [String] = []

    @Option(
        name: .customLong("decompression-limit"),
        help: ArgumentHelp(
            "The most bytes a compressed message body (oslo.messaging's kombu_compression) may decompress to: a larger one, such as a decompression bomb, is skipped and counted as compression_too_large, never held in memory whole.",
            valueName: "bytes"))
    var decompressionLimit = BusEvent.defaultDecompressionLimit

    @Option(
        name: .customLong("resource-attribute"),
        help: ArgumentHelp(
            "Add a resource attribute to every span, as KEY=VALUE (repeatable), e.g. --resource-attribute cluster=region-1.",
            valueName: "key=value"))
    var resourceAttributes: [String] = []

    func options() throws -> SynthesisOptions {
        guard correlationCapacity > 0 else {
            throw ValidationError("--correlation-capacity \(correlationCapacity) must be at least 1")
        }
        guard (1...BusEvent.maximumDecompressionLimit).contains(decompressionLimit) else {
            throw ValidationError(
                "--decompression-limit \(decompressionLimit) must be between 1 and \(BusEvent.maximumDecompressionLimit) bytes")
        }
        var options = SynthesisOptions(senderTraced: senderTraced, correlationCapacity: correlationCapacity)
        options.foreignQueues = foreignQueues
        options.decompressionLimit = decompressionLimit
        guard (0...60_000).contains(reorderWindowMilliseconds) else {
            throw ValidationError(
                "--reorder-window \(reorderWindowMilliseconds) must be between 0 (off) and 60000 ms; the default is \(SynthesisOptions.defaultReorderWindow / 1_000_000)")
        }
        options.reorderWindow = Int64(reorderWindowMilliseconds) * 1_000_000
        for pair in serviceMap {
            let (topic, service) = try split(pair, flag: "--service-map", example: "conductor=nova-conductor")
            let existing = options.serviceMap.entry(ofTopic: topic)  // a family's API service stays
            options.serviceMap.topics[topic] = ServiceMap.Entry(
                service: service, apiService: existing?.apiService,
                isNotificationTopic: existing?.isNotificationTopic ?? false)
        }
        return options
    }

    /// `OTEL_RESOURCE_ATTRIBUTES` (the OpenTelemetry SDK variable), then `--resource-attribute` flags, which win.
    func extraResourceAttributes() throws -> [Attribute] {
        var attributes: [Attribute]
        do {
            attributes = try OTLPExporterConfiguration.keyValueList(
                ProcessInfo.processInfo.environment["OTEL_RESOURCE_ATTRIBUTES"], what: "OTEL_RESOURCE_ATTRIBUTES"
            ).map { Attribute($0.name, .string($0.value)) }
        } catch {
            throw ValidationError(error.description)
        }
        for pair in resourceAttributes {
            let (key, value) = try split(pair, flag: "--resource-attribute", example: "cluster=region-1")
            attributes.removeAll { $0.key == key }
            attributes.append(Attribute(key, .string(value)))
        }
        return attributes
    }

    private func split(_ pair: String, flag: String, example: String) throws -> (String, String) {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex, pair.index(after: equals) != pair.endIndex
        else {
            throw ValidationError("\(flag) \"\(pair)\" is not KEY=VALUE; for example \(flag) \(example)")
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }
}

extension SynthesisOptions.SenderTracedPolicy: ExpressibleByArgument {}
