import Foundation
import Testing

import TestSupport

/// Every seed and every input the fuzzers ever crashed on (Fuzz/regressions/) goes through the same harnesses, built
/// normally, on every test run: a fixed finding stays fixed. tools/fuzz.sh does the fuzzing itself.
@Suite("Fuzz seeds and regressions")
struct FuzzRegressionTests {
    static let targets = ["FixtureLine", "FieldTable", "Oslo", "TraceParent", "Decompression"]

    @Test("each harness runs its seed corpus and regression inputs without a trap", arguments: targets)
    func replaysCorpusAndRegressions(target: String) throws {
        let executable = CLI.executable.deletingLastPathComponent().appendingPathComponent("FuzzDecoders")
        var directories = [Repository.root.appendingPathComponent("Fuzz/corpus/\(target)").path]
        let regressions = Repository.root.appendingPathComponent("Fuzz/regressions/\(target)").path
        if FileManager.default.fileExists(atPath: regressions) { directories.append(regressions) }
        let expected = try directories.reduce(0) { $0 + (try FileManager.default.contentsOfDirectory(atPath: $1)).count }
        #expect(expected > 10, "the seed corpus is there (tools/fuzz_seeds.py)")
        let result = try CLI.execute(executable, [target] + directories, stdin: nil)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("ran \(expected) inputs"), "\(result.stdout)")
    }
}
