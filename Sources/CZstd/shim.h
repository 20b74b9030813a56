// libzstd (Debian libzstd-dev), for bodies kombu compressed with `zstd` (`compression: application/zstd`).
#ifndef TRACE_BRIDGE_CZSTD_SHIM_H
#define TRACE_BRIDGE_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
