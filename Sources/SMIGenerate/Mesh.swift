/// A generated mesh: the SMI resources of every namespace, as plain values.
///
/// Produced by ``MeshGenerator``; rendered as YAML by ``Mesh/policyFiles()``, flattened for
/// baselines by ``Mesh/rulesJSONL()``, and asked for requests by ``Mesh/requests(count:seed:)``.
public struct Mesh: Sendable {
    /// The generator's parameters.
    public let targetCount: Int
    public let seed: UInt64
    /// Namespaces that hold resources, in generation order.
    public internal(set) var namespaces: [String] = []
    /// HTTPRouteGroups (specs v1alpha4).
    public internal(set) var groups: [RouteGroup] = []
    /// TCPRoutes and UDPRoutes (specs v1alpha4).
    public internal(set) var portRoutes: [PortRoute] = []
    /// TrafficTargets, in `namespace/name` order.
    public internal(set) var targets: [Target] = []
    /// TrafficSplits (split v1alpha4).
    public internal(set) var splits: [Split] = []
    /// Every service account of the mesh (destinations and callers), `namespace/name`.
    public internal(set) var identities: [String] = []
    /// Service accounts that call others but that no TrafficTarget protects.
    public internal(set) var callersOnly: [String] = []

    // Lookups, built by `index()`.
    var groupIndex: [String: Int] = [:]
    var portRouteIndex: [String: Int] = [:]
    var targetsByDestination: [String: [Int]] = [:]
    var splitsByService: [String: Split] = [:]

    init(targetCount: Int, seed: UInt64) {
        self.targetCount = targetCount
        self.seed = seed
    }

    mutating func index() {
        groupIndex = [:]
        for (i, g) in groups.enumerated() { groupIndex[g.id] = i }
        portRouteIndex = [:]
        for (i, r) in portRoutes.enumerated() { portRouteIndex[r.kind.rawValue + " " + r.id] = i }
        targetsByDestination = [:]
        for (i, t) in targets.enumerated() { targetsByDestination[t.destination, default: []].append(i) }
        splitsByService = [:]
        for s in splits { splitsByService[s.namespace + "/" + s.service] = s }
    }

    func group(namespace: String, name: String) -> RouteGroup? {
        groupIndex[namespace + "/" + name].map { groups[$0] }
    }

    func portRoute(_ kind: PortRoute.Kind, namespace: String, name: String) -> PortRoute? {
        portRouteIndex[kind.rawValue + " " + namespace + "/" + name].map { portRoutes[$0] }
    }
}

/// An HTTP method list: empty or containing `*` means any method.
public typealias Methods = [String]

/// A header condition: the value must match `pattern` as a whole (SEMANTICS.md §4).
public struct HeaderCondition: Sendable, Hashable {
    /// The header name as written in the policy (lowercase).
    public var name: String
    /// The value pattern.
    public var pattern: HeaderPattern
}

/// The value patterns the generator writes, each with an exact matcher so that expected
/// outcomes need no regex engine.
public enum HeaderPattern: String, Sendable, Hashable, CaseIterable {
    case tenant = "[a-z]+-[0-9]+"
    case firefox = ".*Firefox.*"
    case role = "admin|operator"
    case canary = "true|always"

    /// The header name this pattern is written under.
    public var headerName: String {
        switch self {
        case .tenant: return "x-tenant"
        case .firefox: return "user-agent"
        case .role: return "x-role"
        case .canary: return "x-canary"
        }
    }

    /// Whether `value` matches the whole pattern (PCRE2, UTF-8, `.` not matching `\n`).
    public func matches(_ value: String) -> Bool {
        let b = Array(value.utf8)
        switch self {
        case .tenant:
            var i = 0
            while i < b.count, b[i] >= 0x61, b[i] <= 0x7A { i += 1 }
            guard i > 0, i < b.count, b[i] == 0x2D else { return false }
            i += 1
            let digits = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            return i > digits && i == b.count
        case .firefox:
            return !b.contains(0x0A) && contains(b, Array("Firefox".utf8))
        case .role:
            return value == "admin" || value == "operator"
        case .canary:
            return value == "true" || value == "always"
        }
    }
}

/// The path patterns the generator writes; each is anchored at the start and open at the end,
/// as SEMANTICS.md §4 reads `pathRegex`.
public enum PathPattern: Sendable, Hashable {
    /// `/api/v[0-9]+/<resource>`
    case collection(String)
    /// `/api/v[0-9]+/<resource>/[^/]+`
    case item(String)
    /// `/health`
    case health
    /// `/metrics`
    case metrics
    /// `/admin/[a-z]+`
    case admin
    /// `/ui/`
    case ui

    /// The `pathRegex` text.
    public var regex: String {
        switch self {
        case .collection(let r): return "/api/v[0-9]+/" + r
        case .item(let r): return "/api/v[0-9]+/" + r + "/[^/]+"
        case .health: return "/health"
        case .metrics: return "/metrics"
        case .admin: return "/admin/[a-z]+"
        case .ui: return "/ui/"
        }
    }

    /// Whether the regex matches a prefix of the normalized path `path`.
    public func matches(_ path: String) -> Bool {
        let b = Array(path.utf8)
        switch self {
        case .collection(let r):
            return apiVersionPrefix(b).map { hasPrefix(b, Array(r.utf8), at: $0) } ?? false
        case .item(let r):
            guard let at = apiVersionPrefix(b) else { return false }
            let res = Array(r.utf8) + [0x2F]
            guard hasPrefix(b, res, at: at) else { return false }
            let next = at + res.count
            return next < b.count && b[next] != 0x2F
        case .health: return hasPrefix(b, Array("/health".utf8), at: 0)
        case .metrics: return hasPrefix(b, Array("/metrics".utf8), at: 0)
        case .admin:
            let p = Array("/admin/".utf8)
            return hasPrefix(b, p, at: 0) && b.count > p.count && b[p.count] >= 0x61 && b[p.count] <= 0x7A
        case .ui: return hasPrefix(b, Array("/ui/".utf8), at: 0)
        }
    }

    /// A path the pattern matches (normalized: only `[a-z0-9/-]`).
    func sample(_ rng: inout SplitMix64) -> String {
        switch self {
        case .collection(let r): return "/api/v\(rng.int(1...3))/\(r)"
        case .item(let r):
            return "/api/v\(rng.int(1...3))/\(r)/\(itemID(&rng))"
                + (rng.percent(20) ? "/\(rng.pick(["history", "lines", "status"]))" : "")
        case .health: return rng.pick(["/health", "/healthz", "/health/ready", "/health/live"])
        case .metrics: return "/metrics"
        case .admin: return "/admin/" + rng.pick(["users", "flags", "cache", "jobs"])
        case .ui: return "/ui/" + rng.pick(["index", "app", "settings/profile", "assets/main"])
        }
    }
}

/// `/api/v` + one or more digits + `/`: the index after the slash, or nil.
private func apiVersionPrefix(_ b: [UInt8]) -> Int? {
    let p = Array("/api/v".utf8)
    guard hasPrefix(b, p, at: 0) else { return nil }
    var i = p.count
    while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
    guard i > p.count, i < b.count, b[i] == 0x2F else { return nil }
    return i + 1
}

private func hasPrefix(_ b: [UInt8], _ p: [UInt8], at: Int) -> Bool {
    guard b.count - at >= p.count else { return false }
    for i in 0..<p.count where b[at + i] != p[i] { return false }
    return true
}

private func contains(_ b: [UInt8], _ p: [UInt8]) -> Bool {
    guard b.count >= p.count else { return false }
    for start in 0...(b.count - p.count) where hasPrefix(b, p, at: start) { return true }
    return false
}

func itemID(_ rng: inout SplitMix64) -> String {
    rng.percent(50) ? String(rng.int(1...99_999)) : String(rng.next() & 0xFFFF_FFFF, radix: 16)
}

/// One match of an HTTPRouteGroup.
public struct RouteMatch: Sendable, Hashable {
    public var name: String
    /// nil: any path.
    public var path: PathPattern?
    /// Empty or containing `*`: any method.
    public var methods: Methods
    public var headers: [HeaderCondition]

    /// Whether every method is accepted.
    public var anyMethod: Bool { methods.isEmpty || methods.contains("*") }

    /// SEMANTICS.md §4 on a request that is already normalized; `headers` has lowercase names.
    func matches(method: String, path: String, headers: [String: String]) -> Bool {
        if !anyMethod && !methods.contains(method) { return false }
        if let p = self.path, !p.matches(path) { return false }
        for h in self.headers {
            guard let value = headers[h.name], h.pattern.matches(value) else { return false }
        }
        return true
    }
}

/// An HTTPRouteGroup.
public struct RouteGroup: Sendable, Hashable {
    public var namespace: String
    public var name: String
    public var matches: [RouteMatch]
    /// Headers written as a list of single-key maps (the CRD form) rather than a map.
    public var headerListForm: Bool
    public var id: String { namespace + "/" + name }
}

/// A TCPRoute or UDPRoute (v1alpha4): the ports it covers, empty meaning all.
public struct PortRoute: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case tcp = "TCPRoute"
        case udp = "UDPRoute"
    }
    public var kind: Kind
    public var namespace: String
    public var name: String
    public var ports: [Int]
    public var id: String { namespace + "/" + name }

    func covers(_ port: Int) -> Bool { ports.isEmpty || ports.contains(port) }
}

/// A TrafficTarget rule.
public enum Rule: Sendable, Hashable {
    /// An HTTPRouteGroup with the match names it selects (nil: every match).
    case http(group: String, matches: [String]?)
    case tcp(String)
    case udp(String)
}

/// A TrafficTarget.
public struct Target: Sendable, Hashable {
    public var namespace: String
    public var name: String
    /// access.smi-spec.io/v1alpha`version` (1, 2 or 3).
    public var version: Int
    /// The destination service account, `namespace/name` (always in the TT's namespace).
    public var destination: String
    /// `destination.port` (v1alpha1/v1alpha2 only).
    public var port: Int?
    /// Sources, `namespace/name`.
    public var sources: [String]
    public var rules: [Rule]
    public var id: String { namespace + "/" + name }
}

/// A TrafficSplit (v1alpha4).
public struct Split: Sendable, Hashable {
    public var namespace: String
    public var name: String
    /// The root service's name (in the split's namespace).
    public var service: String
    public var backends: [(service: String, weight: Int)]
    /// HTTPRouteGroup names; empty: the split applies to every request.
    public var matches: [String]
    public var id: String { namespace + "/" + name }

    public static func == (a: Split, b: Split) -> Bool {
        a.id == b.id && a.service == b.service && a.matches == b.matches
            && a.backends.map(\.service) == b.backends.map(\.service) && a.backends.map(\.weight) == b.backends.map(\.weight)
    }

    public func hash(into h: inout Hasher) { h.combine(id) }
}
