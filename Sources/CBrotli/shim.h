// libbrotlidec (Debian libbrotli-dev), for bodies kombu compressed with `brotli` (`compression: application/x-brotli`).
#ifndef TRACE_BRIDGE_CBROTLI_SHIM_H
#define TRACE_BRIDGE_CBROTLI_SHIM_H
#include <brotli/decode.h>
#endif
