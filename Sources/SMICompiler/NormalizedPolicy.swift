import SMIModel

/// Which ports a TCPRoute or UDPRoute rule covers.
public enum PortCoverage: Sendable, Hashable {
    /// Every port.
    case all
    /// These ports only; empty for a rule whose route does not exist (covers no port).
    case ports(Set<Int>)

    /// Whether `port` is covered; `nil` stands for a port no rule lists.
    public func covers(_ port: Int?) -> Bool {
        switch self {
        case .all: return true
        case .ports(let set): return port.map { set.contains($0) } ?? false
        }
    }
}

/// One HTTP match, lowered: absent conditions are nil or empty.
public struct NormalizedMatch: Sendable, Hashable {
    /// The match name.
    public var name: String
    /// The path pattern; nil matches every path (`""` is lowered to nil).
    public var pathRegex: String?
    /// Accepted methods; nil means any (`*`, an empty list or no list).
    public var methods: Set<String>?
    /// Header conditions: lowercase name and value pattern, in the order written.
    public var headers: [NormalizedHeader]
    /// Where the match is written.
    public var location: SourceLocation

    /// Whether the match holds for every request.
    public var isUnconditional: Bool { pathRegex == nil && methods == nil && headers.isEmpty }
}

/// A lowered header condition.
public struct NormalizedHeader: Sendable, Hashable {
    /// The lowercase name.
    public var name: String
    /// The value pattern (must match the whole value).
    public var pattern: String
}

/// One rule of a TrafficTarget, lowered and resolved.
public enum NormalizedRule: Sendable, Hashable {
    /// An HTTPRouteGroup rule and the matches it selects (none when the group is missing).
    case http(group: String, matches: [NormalizedMatch])
    /// A TCPRoute rule.
    case tcp(route: String, coverage: PortCoverage)
    /// A UDPRoute rule.
    case udp(route: String, coverage: PortCoverage)
}

/// A TrafficTarget, every version lowered to one shape with references resolved.
public struct NormalizedTarget: Sendable, Hashable {
    /// The TrafficTarget's identity.
    public var id: ResourceID
    /// Where it is defined.
    public var location: SourceLocation
    /// The destination identity `namespace/name`; nil for an IdentityBinding (matches nothing).
    public var destination: String?
    /// Source identities `namespace/name` (IdentityBinding sources left out: they match nothing).
    public var sources: [String]
    /// access v1alpha1/v1alpha2 `destination.port`.
    public var port: Int?
    /// Rules in the order written.
    public var rules: [NormalizedRule] {
        didSet { derived = DerivedRules(rules) }
    }
    /// What the accessors below read, computed once per change of `rules` (the tree builder
    /// asks for them for every leaf).
    private var derived: DerivedRules

    init(
        id: ResourceID, location: SourceLocation, destination: String?, sources: [String], port: Int?,
        rules: [NormalizedRule]
    ) {
        self.id = id
        self.location = location
        self.destination = destination
        self.sources = sources
        self.port = port
        self.rules = rules
        self.derived = DerivedRules(rules)
    }

    /// Whether the target has an HTTPRouteGroup rule (found or not).
    public var hasHTTPRules: Bool { derived.hasHTTPRules }
    /// Coverages of its TCPRoute rules.
    public var tcpCoverages: [PortCoverage] { derived.tcpCoverages }
    /// Coverages of its UDPRoute rules.
    public var udpCoverages: [PortCoverage] { derived.udpCoverages }
    /// The HTTP matches it selects, in rule order then group order, without repeats.
    public var httpMatches: [NormalizedMatch] { derived.httpMatches }
}

/// A TrafficTarget's rules sorted by use: whether any is HTTP, the TCP and UDP coverages, the
/// HTTP matches without repeats. A class, so that copying a target costs one retain for all four.
final class DerivedRules: Sendable, Hashable {
    let hasHTTPRules: Bool
    let tcpCoverages: [PortCoverage]
    let udpCoverages: [PortCoverage]
    let httpMatches: [NormalizedMatch]

    init(_ rules: [NormalizedRule]) {
        var hasHTTPRules = false
        var tcpCoverages: [PortCoverage] = []
        var udpCoverages: [PortCoverage] = []
        var httpMatches: [NormalizedMatch] = []
        var seen = Set<String>()
        for rule in rules {
            switch rule {
            case .http(let group, let matches):
                hasHTTPRules = true
                for m in matches where seen.insert(group + "\u{0}" + m.name).inserted { httpMatches.append(m) }
            case .tcp(_, let coverage):
                tcpCoverages.append(coverage)
            case .udp(_, let coverage):
                udpCoverages.append(coverage)
            }
        }
        self.hasHTTPRules = hasHTTPRules
        self.tcpCoverages = tcpCoverages
        self.udpCoverages = udpCoverages
        self.httpMatches = httpMatches
    }

    // Derived from the rules, which the target compares itself: equal rules give equal values.
    static func == (a: DerivedRules, b: DerivedRules) -> Bool {
        a.hasHTTPRules == b.hasHTTPRules && a.tcpCoverages == b.tcpCoverages && a.udpCoverages == b.udpCoverages
            && a.httpMatches == b.httpMatches
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hasHTTPRules) }
}

/// A TrafficSplit lowered: full names and the conditions of its matches.
public struct NormalizedSplit: Sendable, Hashable {
    /// The split's identity.
    public var id: ResourceID
    /// Where it is defined.
    public var location: SourceLocation
    /// The root service `namespace/name`.
    public var root: String
    /// Backends `namespace/name` with weights, in the order written.
    public var backends: [(service: String, weight: UInt64)]
    /// Whether the split has `matches` (then it applies only to matching requests).
    public var hasMatches: Bool
    /// HTTP matches of the listed HTTPRouteGroups.
    public var httpMatches: [NormalizedMatch]
    /// Coverages of the listed TCPRoutes.
    public var tcpCoverages: [PortCoverage]

    public static func == (a: NormalizedSplit, b: NormalizedSplit) -> Bool {
        a.id == b.id && a.root == b.root && a.backends.map(\.service) == b.backends.map(\.service)
            && a.backends.map(\.weight) == b.backends.map(\.weight) && a.hasMatches == b.hasMatches
            && a.httpMatches == b.httpMatches && a.tcpCoverages == b.tcpCoverages
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// The whole policy in normalized form: the compiler's middle stage, also used to explain
/// decisions TrafficTarget by TrafficTarget.
public struct NormalizedPolicy: Sendable, Hashable {
    /// TrafficTargets that take part in decisions, sorted by namespace/name.
    public var targets: [NormalizedTarget]
    /// TrafficSplits, sorted by namespace/name.
    public var splits: [NormalizedSplit]
}
