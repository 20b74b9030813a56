// zlib (Debian zlib1g-dev), for gzip-compressed OTLP/HTTP request bodies and kombu's zlib-compressed message bodies.
#ifndef TRACE_BRIDGE_CZLIB_SHIM_H
#define TRACE_BRIDGE_CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 is a macro (it passes the zlib version and the stream size), which Swift cannot call.
static inline int tb_deflate_init_gzip(z_stream *stream, int level) {
    // windowBits 15 + 16: a gzip wrapper, as `Content-Encoding: gzip` requires.
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/// inflateInit2 is a macro too. windowBits 15 + 32: zlib (RFC 1950, what kombu's `gzip` codec writes: Python's
/// zlib.compress) or gzip (RFC 1952), told apart by the header, so a producer that sends a real gzip file under
/// `application/x-gzip` decodes as well.
static inline int tb_inflate_init_zlib_or_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
#endif
