// libFuzzer's driver entry point (compiler-rt, linked by -sanitize=fuzzer). SwiftPM names an executable's entry
// point `<Module>_main` and aliases `main` to it, so the fuzz executables start libFuzzer through this call instead
// of libFuzzer's own main. Only referenced when built with -DFUZZING (tools/fuzz.sh).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
