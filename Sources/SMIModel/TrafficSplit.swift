/// One backend of a TrafficSplit.
public struct SplitBackend: Sendable, Hashable {
    /// The backend Service name, resolved in the split's namespace (DNS forms already reduced).
    public var service: String
    /// The weight in the split's units: milli-units for split v1alpha1 (`1` = 1000), else the integer.
    public var weight: UInt64
    /// Where the backend is written.
    public var location: SourceLocation

    /// Creates a backend.
    public init(service: String, weight: UInt64, location: SourceLocation) {
        self.service = service
        self.weight = weight
        self.location = location
    }
}

/// The kinds a TrafficSplit may list in `matches`.
public enum SplitMatchKind: String, Sendable, Hashable {
    case httpRouteGroup = "HTTPRouteGroup"
    case tcpRoute = "TCPRoute"
}

/// One entry of a TrafficSplit's `matches` (split v1alpha3+).
public struct SplitMatchRef: Sendable, Hashable {
    /// The kind of route.
    public var kind: SplitMatchKind
    /// The route's name, resolved in the split's namespace.
    public var name: String
    /// Where the reference is written.
    public var location: SourceLocation

    /// Creates a reference.
    public init(kind: SplitMatchKind, name: String, location: SourceLocation) {
        self.kind = kind
        self.name = name
        self.location = location
    }
}

/// A split.smi-spec.io TrafficSplit, every version lowered to one shape.
public struct TrafficSplit: Sendable, Hashable {
    /// Identity, version and location.
    public var origin: ResourceOrigin
    /// The root Service name, resolved in the split's namespace.
    public var service: Located<String>
    /// The backends, in the order written.
    public var backends: [SplitBackend]
    /// The route matches (nil when the split has none: it applies to every request).
    public var matches: [SplitMatchRef]?

    /// Creates a split.
    public init(origin: ResourceOrigin, service: Located<String>, backends: [SplitBackend], matches: [SplitMatchRef]?) {
        self.origin = origin
        self.service = service
        self.backends = backends
        self.matches = matches
    }
}
