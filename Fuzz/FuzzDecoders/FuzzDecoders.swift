import FuzzSupport

#if FUZZING
import CLibFuzzer
import Foundation

/// tools/fuzz.sh builds with -sanitize=fuzzer -DFUZZING and names the decoder in TB_FUZZ_TARGET (libFuzzer owns the
/// command line); SwiftPM's entry point for this executable starts libFuzzer's driver on that harness.
@_cdecl("FuzzDecoders_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let name = ProcessInfo.processInfo.environment["TB_FUZZ_TARGET"] ?? ""
    guard let harness = Harness.named(name) else {
        print("FuzzDecoders: set TB_FUZZ_TARGET to one of \(Harness.names.joined(separator: ", "))")
        return 64
    }
    selected = harness
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        selected(UnsafeBufferPointer(start: data, count: size))
        return 0
    }
}

/// The harness libFuzzer's C callback calls: set once, before the driver starts, and only read afterwards.
nonisolated(unsafe) private var selected: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }
#else
/// A normal build runs a harness over files and directories: `FuzzDecoders TARGET FILE_OR_DIR...` (the seed corpus,
/// Fuzz/regressions; FuzzRegressionTests does it in make test).
@main
enum FuzzDecodersMain {
    static func main() { CorpusRunner.main() }
}
#endif
