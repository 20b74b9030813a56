import Agent
import ArgumentParser
import Foundation
import RabbitMQ
import TraceCore

struct CaptureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Record the broker's traffic to a fixture file that replay (and the tests) can read.",
        discussion: """
            Consumes exactly as `run` does (same queue, bindings and bounds) and writes each message in the fixture \
            format: AMQP headers with their type tags, the base64 body and captured_at, the receive time. `replay` \
            of a capture gives the spans `run` saw. A message is acknowledged once its line is written.

            Examples:
              trace-bridge capture --output boot.jsonl --duration 30
              trace-bridge capture --output sample.jsonl --count 1000 --queue trace-bridge.capture
            """
    )

    @OptionGroup(title: "Configuration")
    var configFile: ConfigFileFlag

    @OptionGroup(title: "Broker")
    var broker: BrokerFlags

    @OptionGroup(title: "Logging")
    var logging: LogFlags

    @Option(name: .shortAndLong, help: ArgumentHelp("Append the capture to this file ('-': standard output).", valueName: "path"))
    var output: String

    @Option(help: "Stop after this many messages.")
    var count: Int?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    func run() async throws {
        logging.bootstrap()
        let topology = try broker.topology()
        let settings = try broker.connectionSettings(purpose: "capture")
        let handle: FileHandle
        do {
            handle = try openOutput(output, append: true)
        } catch {
            throw ValidationError(error.description)
        }
        let source = BrokerSource(settings: settings, addresses: try broker.addresses(), topology: topology)
        let signals = SignalHandler { first in if first { source.stopConsuming() } else { Foundation.exit(130) } }
        defer { withExtendedLifetime(signals) {} }
        source.start()
        let started = WallClock.system.now()
        var written = 0
        var stopping = false
        log("capturing", ["url": "\(settings.url)", "queue": topology.queue.name, "output": output,
                          "bindings": topology.bindings.map(\.description).joined(separator: " ")])
        for await event in source.events {
            switch event {
            case .deliveries(let batch):
                for (record, tag) in batch {
                    // Past --count, leave messages unacknowledged: the broker keeps them for the next consumer.
                    guard count.map({ written < $0 }) ?? true else { break }
                    var record = record
                    record.seq = Int64(written + 1)
                    handle.write(Data(record.jsonLine() + [0x0A]))
                    written += 1
                    source.acknowledge(upTo: tag)
                    if let count, written >= count, !stopping {
                        stopping = true
                        source.stopConsuming()
                    }
                }
            case .tick(let now):
                if let duration, !stopping, Double(now - started) / 1e9 >= duration {
                    stopping = true
                    source.stopConsuming()
                }
            case .connected(_, _, let url):
                log("connected", ["url": "\(url)"])
            case .failed(let error):
                log(QueueRefusal(error: error, queue: topology.queue, vhost: settings.url.vhost).message, [:], level: .error)
                throw ExitCode(QueueRefusal.exitCode)
            case .disconnected(let error, let url, _, _):
                log("broker unavailable, retrying",
                    ["error": error.description, "url": "\(url)", "hint": error.clusterAdvice ?? ""].filter { !$0.value.isEmpty },
                    level: .warning)
            case .blocked, .unblocked:
                break
            case .stopped:
                source.close()
            }
        }
        log("capture done", ["messages": "\(written)", "output": output])
    }
}
