/// The kind of a TrafficTarget subject (destination or source).
public enum SubjectKind: Sendable, Hashable {
    /// A Kubernetes ServiceAccount: the identity `namespace/name`.
    case serviceAccount
    /// An access v1alpha4 IdentityBinding (validated, matches no identity yet).
    case identityBinding
}

/// A TrafficTarget destination or source.
public struct Subject: Sendable, Hashable {
    /// ServiceAccount or IdentityBinding.
    public var kind: SubjectKind
    /// The name.
    public var name: String
    /// The namespace; the TrafficTarget's own when the manifest leaves it out.
    public var namespace: String
    /// Whether the manifest wrote the namespace (false when it was defaulted).
    public var namespaceWritten: Bool
    /// Where the subject is written.
    public var location: SourceLocation
    /// Where the `namespace` value is written, when it is.
    public var namespaceLocation: SourceLocation?

    /// Creates a subject.
    public init(
        kind: SubjectKind, name: String, namespace: String, namespaceWritten: Bool, location: SourceLocation,
        namespaceLocation: SourceLocation? = nil
    ) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.namespaceWritten = namespaceWritten
        self.location = location
        self.namespaceLocation = namespaceLocation
    }

    /// `namespace/name`.
    public var qualifiedName: String { "\(namespace)/\(name)" }
}

/// The kinds a TrafficTarget rule may name.
public enum RuleKind: String, Sendable, Hashable, CaseIterable {
    case httpRouteGroup = "HTTPRouteGroup"
    case tcpRoute = "TCPRoute"
    case udpRoute = "UDPRoute"

    /// The resource kind the rule refers to.
    public var resourceKind: ResourceKind {
        switch self {
        case .httpRouteGroup: return .httpRouteGroup
        case .tcpRoute: return .tcpRoute
        case .udpRoute: return .udpRoute
        }
    }
}

/// One entry of a TrafficTarget's `rules` (or v1alpha1 `specs`).
public struct TrafficTargetRule: Sendable, Hashable {
    /// The kind of route the rule names.
    public var kind: RuleKind
    /// The route's name, resolved in the TrafficTarget's namespace.
    public var name: String
    /// Match names selected; nil when omitted (every match of the group).
    public var matches: [Located<String>]?
    /// Where the rule is written.
    public var location: SourceLocation

    /// Creates a rule.
    public init(kind: RuleKind, name: String, matches: [Located<String>]?, location: SourceLocation) {
        self.kind = kind
        self.name = name
        self.matches = matches
        self.location = location
    }
}

/// An access.smi-spec.io TrafficTarget, every version lowered to one shape.
public struct TrafficTarget: Sendable, Hashable {
    /// Identity, version and location.
    public var origin: ResourceOrigin
    /// The destination subject.
    public var destination: Subject
    /// The sources, in the order written.
    public var sources: [Subject]
    /// The rules, in the order written.
    public var rules: [TrafficTargetRule]
    /// `destination.port` (access v1alpha1/v1alpha2 only).
    public var port: Located<Int>?

    /// Creates a TrafficTarget.
    public init(origin: ResourceOrigin, destination: Subject, sources: [Subject], rules: [TrafficTargetRule], port: Located<Int>?) {
        self.origin = origin
        self.destination = destination
        self.sources = sources
        self.rules = rules
        self.port = port
    }
}

/// An access v1alpha4 IdentityBinding (draft): validated, not used for decisions.
public struct IdentityBinding: Sendable, Hashable {
    /// Identity, version and location.
    public var origin: ResourceOrigin
    /// `spec.schemes.serviceAccount`, when given.
    public var serviceAccount: String?
    /// `spec.schemes.spiffeIdentities`.
    public var spiffeIdentities: [String]
    /// `spec.schemes.podLabelSelector.matchLabels`, in the order written.
    public var matchLabels: [(key: String, value: String)]

    /// Creates an IdentityBinding.
    public init(origin: ResourceOrigin, serviceAccount: String?, spiffeIdentities: [String], matchLabels: [(key: String, value: String)]) {
        self.origin = origin
        self.serviceAccount = serviceAccount
        self.spiffeIdentities = spiffeIdentities
        self.matchLabels = matchLabels
    }

    public static func == (a: IdentityBinding, b: IdentityBinding) -> Bool {
        a.origin == b.origin && a.serviceAccount == b.serviceAccount && a.spiffeIdentities == b.spiffeIdentities
            && a.matchLabels.map(\.key) == b.matchLabels.map(\.key)
            && a.matchLabels.map(\.value) == b.matchLabels.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(origin)
    }
}
