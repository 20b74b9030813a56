import CRabbitMQ
import TraceCore

extension AMQPTable {
    /// Decodes an AMQP field table from its wire form (a 4-byte length, then entries) with librabbitmq's own
    /// decoder, then converts it exactly as a live delivery's headers are converted (through `interner` as a
    /// connection's own). Nil when librabbitmq refuses the bytes. The fuzzer drives the live header path through this.
    public static func decode(wire bytes: [UInt8], interner: StringInterner? = nil) -> AMQPTable? {
        var pool = amqp_pool_t()
        init_amqp_pool(&pool, 4096)
        defer { empty_amqp_pool(&pool) }
        var table = amqp_table_t()
        var offset = 0
        var copy = bytes  // librabbitmq takes a mutable pointer; it does not write through it
        let status = copy.withUnsafeMutableBytes { raw in
            amqp_decode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &pool, &table, &offset)
        }
        guard status == 0 else { return nil }
        return AMQPTable(table, depth: 0, interner: interner)
    }
}
