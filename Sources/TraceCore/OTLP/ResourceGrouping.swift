/// The instrumentation scope of every span the agent synthesizes.
public enum TraceBridgeScope {
    public static let name = "trace-bridge"
    public static let version = "0.1.0"
    /// The semantic-conventions version our span names and attributes follow (docs/synthesis.md "Semantic
    /// conventions"), on every ResourceSpans and ScopeSpans: a backend or collector can translate by it.
    public static let schemaURL = "https://opentelemetry.io/schemas/1.44.0"
}

/// Spans grouped the way OTLP carries them: one ResourceSpans per (service, host).
public struct ResourceGroup: Sendable {
    public var resource: ServiceIdentity
    public var attributes: [Attribute]
    public var spans: [Span]
}

extension ResourceGroup {
    /// Groups spans per resource, in a stable order (by service, then host), keeping span order inside a group.
    /// `extraResourceAttributes` (e.g. a cluster label) go on every resource after the standard ones.
    public static func group(_ spans: [Span], extraResourceAttributes: [Attribute] = []) -> [ResourceGroup] {
        var order: [ServiceIdentity] = []
        var byResource: [ServiceIdentity: [Span]] = [:]
        for span in spans {
            if byResource[span.resource] == nil { order.append(span.resource) }
            byResource[span.resource, default: []].append(span)
        }
        return order.sorted().map { resource in
            ResourceGroup(
                resource: resource,
                attributes: resourceAttributes(resource, extra: extraResourceAttributes),
                spans: byResource[resource]!)
        }
    }

    /// `service.name`, `service.namespace=openstack`, `host.name` when known, then the configured extras (which
    /// cannot override the first three).
    static func resourceAttributes(_ resource: ServiceIdentity, extra: [Attribute]) -> [Attribute] {
        var attributes = [
            Attribute(AttributeKey.serviceName, .string(resource.service)),
            Attribute(AttributeKey.serviceNamespace, .string("openstack")),
        ]
        if let host = resource.host { attributes.append(Attribute(AttributeKey.hostName, .string(host))) }
        let reserved = Set(attributes.map(\.key))
        attributes.append(contentsOf: extra.filter { !reserved.contains($0.key) })
        return attributes
    }
}

extension Span {
    /// OTLP `Span.flags`: the W3C trace flags (sampled) in the low byte, and whether the parent is remote.
    public var otlpFlags: UInt32 {
        var flags: UInt32 = 0x01
        if parentSpanID != nil {
            flags |= 0x100
            if parentIsRemote { flags |= 0x200 }
        }
        return flags
    }
}
