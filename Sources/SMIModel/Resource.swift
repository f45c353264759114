/// The SMI kinds the engine reads.
public enum ResourceKind: String, Sendable, Hashable, Comparable, CaseIterable {
    case trafficTarget = "TrafficTarget"
    case identityBinding = "IdentityBinding"
    case httpRouteGroup = "HTTPRouteGroup"
    case tcpRoute = "TCPRoute"
    case udpRoute = "UDPRoute"
    case trafficSplit = "TrafficSplit"

    public static func < (a: ResourceKind, b: ResourceKind) -> Bool { a.rawValue < b.rawValue }
}

/// The SMI API groups.
public enum APIGroup: String, Sendable, Hashable, CaseIterable {
    case access = "access.smi-spec.io"
    case specs = "specs.smi-spec.io"
    case split = "split.smi-spec.io"
}

/// An SMI API version such as `access.smi-spec.io/v1alpha3`.
public struct APIVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The group.
    public var group: APIGroup
    /// The `N` of `v1alphaN`.
    public var alpha: Int

    /// Creates a version.
    public init(_ group: APIGroup, _ alpha: Int) {
        self.group = group
        self.alpha = alpha
    }

    /// Parses `group/v1alphaN`; nil for anything else.
    public init?(parsing text: String) {
        // Most versions are short ASCII: read them as bytes (the same answer as below, without
        // Character-based prefix checks and a substring integer parse, once per object).
        if let parsed = text.utf8.withContiguousStorageIfAvailable({ Self.parseASCII($0) }), let parsed {
            self = parsed
            return
        }
        // Exactly one `/`. This runs once per object: ASCII text (every byte one Character) is
        // searched byte by byte, anything else by Characters, without splitting into an array.
        let isASCII = text.utf8.withContiguousStorageIfAvailable { !$0.contains { $0 >= 0x80 } } ?? false
        let slash: String.Index
        if isASCII {
            guard let found = text.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
            slash = found
        } else {
            guard let found = text.firstIndex(of: "/") else { return nil }
            slash = found
        }
        let version = text[text.index(after: slash)...]
        let another = isASCII ? version.utf8.contains(UInt8(ascii: "/")) : version.contains("/")
        guard !another, let group = APIGroup(rawValue: String(text[..<slash])),
            version.hasPrefix("v1alpha"), let n = Int(version.dropFirst("v1alpha".count)), n >= 1
        else { return nil }
        self.group = group
        self.alpha = n
    }

    /// `group/v1alphaN` from ASCII bytes with the rules of ``init(parsing:)``; nil when the bytes
    /// are not ASCII or not a version (the caller then parses the `String`, which gives nil too).
    private static func parseASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> APIVersion? {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let groupBytes = UnsafeBufferPointer(rebasing: bytes[..<slash])
        let group: APIGroup
        if groupBytes.elementsEqual(APIGroup.access.rawValue.utf8) {
            group = .access
        } else if groupBytes.elementsEqual(APIGroup.specs.rawValue.utf8) {
            group = .specs
        } else if groupBytes.elementsEqual(APIGroup.split.rawValue.utf8) {
            group = .split
        } else {
            return nil
        }
        var i = slash + 1
        for byte in "v1alpha".utf8 {
            guard i < bytes.count, bytes[i] == byte else { return nil }
            i += 1
        }
        // As `Int(_: String)` reads: an optional sign, then at least one digit, no overflow.
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < bytes.count else { return nil }
        var n = 0
        while i < bytes.count {
            let byte = bytes[i]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (product, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = product.addingReportingOverflow(Int(byte - 0x30))
            guard !o1 && !o2 else { return nil }
            n = sum
            i += 1
        }
        guard !negative, n >= 1 else { return nil }
        return APIVersion(group, n)
    }

    /// `v1alphaN`.
    public var versionName: String { "v1alpha\(alpha)" }
    /// `group/v1alphaN`.
    public var description: String { "\(group.rawValue)/\(versionName)" }

    public static func < (a: APIVersion, b: APIVersion) -> Bool {
        (a.group.rawValue, a.alpha) < (b.group.rawValue, b.alpha)
    }

    /// Whether SEMANTICS.md §1 accepts this kind at this version.
    public func supports(_ kind: ResourceKind) -> Bool {
        switch (group, kind) {
        case (.access, .trafficTarget): return (1...4).contains(alpha)
        case (.access, .identityBinding): return alpha == 4
        case (.specs, .httpRouteGroup), (.specs, .tcpRoute): return (1...4).contains(alpha)
        case (.specs, .udpRoute): return alpha == 4
        case (.split, .trafficSplit): return (1...4).contains(alpha)
        default: return false
        }
    }
}

/// A resource's identity: kind, namespace and name. Orders by namespace, then name, then kind.
public struct ResourceID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The kind.
    public var kind: ResourceKind
    /// The namespace (`default` when the manifest has none).
    public var namespace: String
    /// The name.
    public var name: String

    /// Creates an identity.
    public init(_ kind: ResourceKind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// `namespace/name`.
    public var qualifiedName: String { "\(namespace)/\(name)" }
    /// `Kind namespace/name`.
    public var description: String { "\(kind.rawValue) \(namespace)/\(name)" }

    public static func < (a: ResourceID, b: ResourceID) -> Bool {
        (a.namespace, a.name, a.kind) < (b.namespace, b.name, b.kind)
    }
}

/// Where a resource came from: its declared version and where its object starts.
public struct ResourceOrigin: Sendable, Hashable {
    /// The resource's identity.
    public var id: ResourceID
    /// The declared `apiVersion`.
    public var version: APIVersion
    /// Where the object (its first key) starts.
    public var location: SourceLocation

    /// Creates an origin.
    public init(id: ResourceID, version: APIVersion, location: SourceLocation) {
        self.id = id
        self.version = version
        self.location = location
    }
}
