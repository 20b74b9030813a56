import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Cluster order (issue 13, item 5): every shipped capture, replayed as a three-node cluster would deliver it
/// (`ClusterSimulation`), must score exactly like the capture itself with the default reorder window.
@Suite("Reorder window: cluster order")
struct ReorderWindowTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]
    static let milliseconds: Int64 = 1_000_000

    /// Mismatches and lost-fidelity counts over every capture and seed, for one link drift and one window.
    struct Tally: CustomStringConvertible {
        var runs = 0, failedRuns = 0, failures = 0, serversLost = 0, wrongServices = 0, overtakes = 0
        var firstFailure: String?
        var description: String {
            "\(failedRuns)/\(runs) runs lose fidelity: \(failures) mismatches (SERVER spans lost \(serversLost), "
                + "wrong services \(wrongServices)); \(overtakes) messages overtaken"
                + (firstFailure.map { "; e.g. \($0)" } ?? "")
        }
    }

    static func tally(maxDelay: Int64, window: Int64, timestamps: Bool = false, seeds: [UInt64] = seeds) throws -> Tally {
        var tally = Tally()
        for fixture in GroundTruthTests.fixtures {
            let original = try ClusterSimulation.records(fixture: fixture)
            for seed in seeds {
                let records = ClusterSimulation.reorder(original, seed: seed, maxDelay: maxDelay, timestamps: timestamps)
                tally.overtakes += ClusterSimulation.overtakes(records, original: original)
                let outcome = try lostFidelity(fixture: fixture, records: records, window: window)
                tally.runs += 1
                if !outcome.failures.isEmpty {
                    tally.failedRuns += 1
                    tally.firstFailure = tally.firstFailure ?? "seed \(seed): \(outcome.failures[0])"
                }
                tally.failures += outcome.failures.count
                tally.serversLost += outcome.serversLost
                tally.wrongServices += outcome.wrongServices
            }
        }
        return tally
    }

    /// The checks `records` fail that the capture as shipped passes (GroundTruthTests reports the capture's own).
    static func lostFidelity(fixture: String, records: [FixtureRecord], window: Int64) throws -> GroundTruthTests.Outcome {
        let shipped = try GroundTruthTests.check(fixture: fixture, reorderWindow: 0, strict: false)
        var outcome = try GroundTruthTests.check(fixture: fixture, records: records, reorderWindow: window, strict: false)
        outcome.failures.removeAll { Set(shipped.failures).contains($0) }
        outcome.serversLost -= shipped.serversLost
        outcome.wrongServices -= shipped.wrongServices
        return outcome
    }

    @Test("without the window, nodes whose links drift by 3 or 10 ms lose fidelity")
    func baselineLosesFidelity() throws {
        for delay: Int64 in [3, 10] {
            let tally = try Self.tally(maxDelay: delay * Self.milliseconds, window: 0)
            report("no window, D = \(delay) ms: \(tally)")
            if delay == 10 { #expect(tally.failures > 0, "the simulation must be able to break the synthesis") }
        }
    }

    @Test("with the default window, every capture and seed keeps every check at D = 10 ms", arguments: GroundTruthTests.fixtures)
    func defaultWindowHolds(fixture: String) throws {
        let original = try ClusterSimulation.records(fixture: fixture)
        for seed in Self.seeds {
            let records = ClusterSimulation.reorder(original, seed: seed, maxDelay: 10 * Self.milliseconds)
            let outcome = try Self.lostFidelity(
                fixture: fixture, records: records, window: SynthesisOptions.defaultReorderWindow)
            for failure in outcome.failures { Issue.record("seed \(seed): \(failure)") }
        }
    }

    @Test("with timestamp_in_ms (RabbitMQ 3.12+), the default window holds at D = 10 ms too")
    func timestampsHold() throws {
        let tally = try Self.tally(
            maxDelay: 10 * Self.milliseconds, window: SynthesisOptions.defaultReorderWindow, timestamps: true)
        report("timestamp_in_ms, default window, D = 10 ms: \(tally)")
        #expect(tally.failures == 0, "\(tally)")
    }

    /// The measured basis of the default: fidelity per window length, per drift.
    @Test("the default window is the smallest that holds at D = 10 ms, with margin")
    func defaultIsMeasured() throws {
        var smallest: Int64?
        for window: Int64 in [0, 2, 5, 8, 10, 15, 20] {
            let tally = try Self.tally(maxDelay: 10 * Self.milliseconds, window: window * Self.milliseconds)
            report("D = 10 ms, W = \(window) ms: \(tally)")
            if tally.failures == 0, smallest == nil { smallest = window }
        }
        for delay: Int64 in [3, 20] {
            let tally = try Self.tally(maxDelay: delay * Self.milliseconds, window: SynthesisOptions.defaultReorderWindow)
            report("D = \(delay) ms, default W: \(tally)")
        }
        let found = try #require(smallest, "no window up to 20 ms holds at 10 ms")
        report("smallest window holding at D = 10 ms: \(found) ms; default \(SynthesisOptions.defaultReorderWindow / Self.milliseconds) ms")
        #expect(SynthesisOptions.defaultReorderWindow >= found * Self.milliseconds)
    }

    static func firstDifference(_ spans: [Span], _ expected: [Span]) -> String {
        for (index, (span, other)) in zip(spans, expected).enumerated() where span != other {
            return "span \(index): \(span.kind.name) \(span.name) \(span.resource) vs \(other.kind.name) \(other.name) \(other.resource)"
        }
        return "\(spans.count) spans vs \(expected.count)"
    }

    @Test("a single node's capture gives identical spans with the window on (and three nodes without delay too)",
          arguments: GroundTruthTests.fixtures)
    func inOrderIsUnchanged(fixture: String) throws {
        var off = GroundTruthTests.options(for: fixture)
        off.reorderWindow = 0
        var on = off
        on.reorderWindow = SynthesisOptions.defaultReorderWindow
        let records = try ClusterSimulation.records(fixture: fixture)
        let expected = Replay(records: records, options: off).spans
        let shipped = Replay(records: records, options: on)
        #expect(shipped.spans == expected, "\(Self.firstDifference(shipped.spans, expected))")
        #expect(shipped.pipeline.window.counters.reordered == 0 && shipped.pipeline.window.counters.timesAdjusted == 0)
        let threeNodes = ClusterSimulation.reorder(records, seed: 1, maxDelay: 0)
        let relabelled = Replay(records: threeNodes, options: on)
        #expect(relabelled.spans.count == expected.count && relabelled.spans == expected,
                "\(fixture): three nodes with no delay must change nothing; first difference: \(Self.firstDifference(relabelled.spans, expected))")
    }
}
