import CZlib

/// gzip (RFC 1952) of a request body, for `Content-Encoding: gzip` on OTLP/HTTP.
enum Gzip {
    struct Error: Swift.Error, CustomStringConvertible {
        var status: Int32
        var description: String { "zlib failed with status \(status)" }
    }

    static func compress(_ input: [UInt8], level: Int32 = 6) throws(Error) -> [UInt8] {
        var stream = z_stream()
        var status = tb_deflate_init_gzip(&stream, level)
        guard status == Z_OK else { throw Error(status: status) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        var input = input
        status = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = uInt(destination.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw Error(status: status) }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}
