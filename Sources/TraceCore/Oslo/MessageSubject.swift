/// Reads the one thing of `args` and of a notification's `payload` the agent keeps: the UUID of the instance a
/// message is about (its *subject*), so that cause inference can tell apart the concurrent handlers of one request
/// (nova's multi-create: one request, N `build_and_run_instance` running at once, each publishing about its own
/// instance). Everything else of `args` and `payload` is skipped without being built (the secrets rule: admin
/// passwords, user data, key data and the rest sit right beside the UUID).
///
/// The allow-list, from nova's own RPC APIs (nova/compute/rpcapi.py, nova/conductor/rpcapi.py,
/// nova/scheduler/rpcapi.py) and notifications:
/// - RPC `args.instance` (compute's 47 instance methods, conductor's `migrate_server`, `rebuild_instance`, ...),
///   `args.objinst` (conductor's `object_action`, `object_backport_versions`), `args.instance_info` (scheduler's
///   `update_instance_info`): a versioned object named `Instance`, its `nova_object.data.uuid`;
/// - RPC `args.instance_uuid` (scheduler's `delete_instance_info`): a string;
/// - legacy notification `payload.instance_id` or `payload.instance_uuid` (`compute.instance.*`);
/// - versioned notification payload `nova_object.data.uuid` of an `Instance…Payload` (`InstanceActionPayload`,
///   `InstanceCreatePayload`, `InstanceUpdatePayload`, ...).
///
/// A value is kept only when it has the shape of a UUID, so nothing else can slip out through it; two different
/// UUIDs in one message (never seen from nova) give no subject rather than a guess.
struct MessageSubject {
    private(set) var value: String?
    private var conflicting = false

    /// The subject, nil when none was found or when the message named two different instances.
    var subject: String? { conflicting ? nil : value }

    mutating func found(_ uuid: String?) {
        guard let uuid else { return }
        if let value, value != uuid { conflicting = true }
        if value == nil { value = uuid }
    }

    /// `args` of an RPC request: the allow-listed members, every other one skipped. `interner`: the decoder's
    /// (`OsloDecoder.decode(_:interner:)`), since an instance's UUID comes again on each message about it.
    mutating func readArgs(_ scanner: inout JSONScanner, interner: StringInterner? = nil) throws(JSONError) {
        guard scanner.peek() == UInt8(ascii: "{") else { return try scanner.skipValue() }
        var subject = self
        try scanner.readObject { (key, scanner) throws(JSONError) in
            switch key {
            case "instance", "objinst", "instance_info":
                subject.found(try Self.novaObjectUUID(&scanner, isInstance: Self.isInstanceObject, interner: interner))
            case "instance_uuid": subject.found(try Self.uuid(&scanner, interner: interner))
            default: try scanner.skipValue()
            }
        }
        self = subject
    }

    /// A notification's `payload`: a legacy dictionary (`instance_id`, `instance_uuid`) or a versioned object.
    mutating func readPayload(_ scanner: inout JSONScanner, interner: StringInterner? = nil) throws(JSONError) {
        guard scanner.peek() == UInt8(ascii: "{") else { return try scanner.skipValue() }
        var subject = self
        var isInstancePayload = false
        var dataUUID: String?
        try scanner.readObject { (key, scanner) throws(JSONError) in
            switch key {
            case "instance_id", "instance_uuid": subject.found(try Self.uuid(&scanner, interner: interner))
            case "nova_object.name": isInstancePayload = try Self.name(&scanner, Self.isInstancePayload)
            case "nova_object.data": dataUUID = try Self.dataUUID(&scanner, interner: interner)
            default: try scanner.skipValue()
            }
        }
        if isInstancePayload { subject.found(dataUUID) }
        self = subject
    }

    /// `{"nova_object.name": N, "nova_object.data": {"uuid": U, ...}, ...}`: U when `isInstance(N)`, in either
    /// member order. Anything but an object is skipped.
    static func novaObjectUUID(
        _ scanner: inout JSONScanner, isInstance: (UnsafeBufferPointer<UInt8>) -> Bool, interner: StringInterner? = nil
    ) throws(JSONError) -> String? {
        guard scanner.peek() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return nil
        }
        var named = false
        var uuid: String?
        try scanner.readObject { (key, scanner) throws(JSONError) in
            switch key {
            case "nova_object.name": named = try Self.name(&scanner, isInstance)
            case "nova_object.data": uuid = try Self.dataUUID(&scanner, interner: interner)
            default: try scanner.skipValue()
            }
        }
        return named ? uuid : nil
    }

    /// `nova_object.data`: its `uuid` member only.
    static func dataUUID(_ scanner: inout JSONScanner, interner: StringInterner? = nil) throws(JSONError) -> String? {
        guard scanner.peek() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return nil
        }
        var uuid: String?
        try scanner.readObject { (key, scanner) throws(JSONError) in
            if key == "uuid" { uuid = try Self.uuid(&scanner, interner: interner) } else { try scanner.skipValue() }
        }
        return uuid
    }

    /// A string member tested without building it.
    static func name(
        _ scanner: inout JSONScanner, _ test: (UnsafeBufferPointer<UInt8>) -> Bool
    ) throws(JSONError) -> Bool {
        guard scanner.peek() == UInt8(ascii: "\"") else {
            try scanner.skipValue()
            return false
        }
        return try scanner.withStringBytes(test)
    }

    /// A string in the canonical 8-4-4-4-12 hexadecimal UUID form, else nil (the value is skipped).
    static func uuid(_ scanner: inout JSONScanner, interner: StringInterner? = nil) throws(JSONError) -> String? {
        guard scanner.peek() == UInt8(ascii: "\"") else {
            try scanner.skipValue()
            return nil
        }
        return try scanner.withStringBytes { bytes in
            guard isUUID(bytes) else { return nil }
            return interner?.string(bytes) ?? String(decoding: bytes, as: UTF8.self)
        }
    }

    static func isUUID(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if hexValue(byte) == nil {
                return false
            }
        }
        return true
    }

    static func isInstanceObject(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.elementsEqual("Instance".utf8)
    }

    /// `Instance…Payload`: nova's versioned payloads whose `uuid` is the instance's (`InstanceActionPayload`,
    /// `InstanceCreatePayload`, `InstanceUpdatePayload`, `InstanceActionVolumePayload`, ...).
    static func isInstancePayload(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.starts(with: "Instance".utf8) && name.reversed().starts(with: "Payload".utf8.reversed())
    }
}
