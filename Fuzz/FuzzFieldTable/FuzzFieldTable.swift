import FuzzSupport

#if FUZZING
import CLibFuzzer

// tools/fuzz.sh builds with -sanitize=fuzzer -DFUZZING: SwiftPM's entry point for this executable starts libFuzzer.
@_cdecl("FuzzFieldTable_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        Harness.fieldTable(UnsafeBufferPointer(start: data, count: size))
        return 0
    }
}
#else
/// A normal build runs the harness over files and directories (the seed corpus, Fuzz/regressions).
@main
enum FuzzFieldTableMain {
    static func main() { CorpusRunner.main(Harness.fieldTable) }
}
#endif
