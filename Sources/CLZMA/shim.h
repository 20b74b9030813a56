// liblzma (Debian liblzma-dev), for bodies kombu compressed with `lzma`/`xz` (`compression: application/x-lzma`).
#ifndef TRACE_BRIDGE_CLZMA_SHIM_H
#define TRACE_BRIDGE_CLZMA_SHIM_H
#include <lzma.h>
#endif
