// libbz2 (Debian libbz2-dev), for bodies kombu compressed with `bz2` (`compression: application/x-bz2`).
#ifndef TRACE_BRIDGE_CBZIP2_SHIM_H
#define TRACE_BRIDGE_CBZIP2_SHIM_H
#include <bzlib.h>
#endif
