// zlib (Debian zlib1g-dev), for gzip-compressed OTLP/HTTP request bodies.
#ifndef TRACE_BRIDGE_CZLIB_SHIM_H
#define TRACE_BRIDGE_CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 is a macro (it passes the zlib version and the stream size), which Swift cannot call.
static inline int tb_deflate_init_gzip(z_stream *stream, int level) {
    // windowBits 15 + 16: a gzip wrapper, as `Content-Encoding: gzip` requires.
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
