/// The transport protocol of an access request.
public enum TransportProtocol: String, Sendable, Hashable, CaseIterable {
    case http
    case tcp
    case udp
}

/// Why a request was denied (SEMANTICS.md §7). The spellings never change.
public enum DenyReason: String, Sendable, Hashable, CaseIterable {
    /// The path was rejected by normalization before any other check.
    case pathRejected = "path-rejected"
    /// No TrafficTarget names the destination.
    case noTrafficTarget = "no-traffic-target"
    /// TrafficTargets name the destination, but none lists the source.
    case sourceNotAllowed = "source-not-allowed"
    /// The source is listed, but no TrafficTarget opens the port.
    case portNotAllowed = "port-not-allowed"
    /// The port is open, but no route matches.
    case noRouteMatched = "no-route-matched"
    /// A regex hit its match budget and the request was then denied.
    case regexBudgetExceeded = "regex-budget-exceeded"
    /// The request has more headers or a longer target than the policy's options accept
    /// (``PolicyOptions/maxHeaders``, ``PolicyOptions/maxTargetLength``); it is refused before
    /// any other check. The C ABI returns SMI_ERROR_LIMIT instead of a decision.
    case requestTooLarge = "request-too-large"
}

/// A header as a proxy holds it. Names compare case-insensitively; a name given twice is
/// read as one value joined with `, `.
public struct HTTPHeader: Sendable, Hashable {
    /// The name.
    public var name: String
    /// The value.
    public var value: String

    /// Creates a header.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// "May this request pass?": one request as the destination's proxy sees it.
public struct AccessRequest: Sendable, Hashable {
    /// The caller's identity: `namespace/name` or a SPIFFE id.
    public var source: String
    /// The protected workload's identity: `namespace/name` or a SPIFFE id.
    public var destination: String
    /// The port the connection arrived on (the pod/target port), 0–65535.
    public var port: Int
    /// `http`, `tcp` or `udp`.
    public var transport: TransportProtocol
    /// The HTTP method (case-sensitive); only read for `http`.
    public var method: String
    /// The request target, a path with an optional `?query`; only read for `http`.
    public var path: String
    /// The headers; only read for `http`.
    public var headers: [HTTPHeader]

    /// Creates a request.
    public init(
        source: String, destination: String, port: Int, transport: TransportProtocol,
        method: String = "GET", path: String = "/", headers: [HTTPHeader] = []
    ) {
        self.source = source
        self.destination = destination
        self.port = port
        self.transport = transport
        self.method = method
        self.path = path
        self.headers = headers
    }
}

/// An access decision and why (SEMANTICS.md §7).
public struct AccessDecision: Sendable, Hashable {
    /// Whether the request may pass.
    public var allowed: Bool
    /// The reason of a deny; nil when allowed.
    public var reason: DenyReason?
    /// The granting TrafficTarget `namespace/name` (the first by name where several grant).
    public var trafficTarget: String?
    /// The kind of the granting rule: `HTTPRouteGroup`, `TCPRoute` or `UDPRoute`.
    public var ruleKind: String?
    /// The granting match's name; nil for an L4 grant.
    public var match: String?

    /// Creates a decision.
    public init(allowed: Bool, reason: DenyReason?, trafficTarget: String?, ruleKind: String?, match: String?) {
        self.allowed = allowed
        self.reason = reason
        self.trafficTarget = trafficTarget
        self.ruleKind = ruleKind
        self.match = match
    }
}

/// "Which backend?": a client-side request to a root service.
public struct SplitRequest: Sendable, Hashable {
    /// The root service the client addressed, `namespace/name`.
    public var service: String
    /// 64 bits of entropy: random, or a hash for stickiness.
    public var entropy: UInt64
    /// The HTTP method, for splits with matches.
    public var method: String?
    /// The request target, for splits with matches. Without one (or with one that path
    /// normalization rejects) only HTTPRouteGroup matches without a `pathRegex` can hold.
    public var path: String?
    /// The headers, for splits with matches.
    public var headers: [HTTPHeader]
    /// The port, for splits matching TCPRoutes.
    public var port: Int?

    /// Creates a request.
    public init(
        service: String, entropy: UInt64, method: String? = nil, path: String? = nil,
        headers: [HTTPHeader] = [], port: Int? = nil
    ) {
        self.service = service
        self.entropy = entropy
        self.method = method
        self.path = path
        self.headers = headers
        self.port = port
    }
}

/// The backend chosen for a split request.
public struct SplitDecision: Sendable, Hashable {
    /// The backend Service `namespace/name`; the root service itself when no split applies.
    public var backend: String
    /// The TrafficSplit `namespace/name` that decided, or nil.
    public var trafficSplit: String?

    /// Creates a decision.
    public init(backend: String, trafficSplit: String?) {
        self.backend = backend
        self.trafficSplit = trafficSplit
    }
}
