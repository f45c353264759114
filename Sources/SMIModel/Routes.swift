/// A header condition of an HTTP match: the value must match `valueRegex` as a whole.
public struct HeaderCondition: Sendable, Hashable {
    /// The header name as written (compared case-insensitively).
    public var name: String
    /// The value pattern.
    public var valueRegex: Located<String>
    /// Where the name is written.
    public var location: SourceLocation

    /// Creates a header condition.
    public init(name: String, valueRegex: Located<String>, location: SourceLocation) {
        self.name = name
        self.valueRegex = valueRegex
        self.location = location
    }
}

/// One match of an HTTPRouteGroup. Absent conditions always hold.
public struct HTTPMatch: Sendable, Hashable {
    /// The match's name, unique in its group.
    public var name: String
    /// Where the match (its `name` value) is written.
    public var location: SourceLocation
    /// `pathRegex`, when given.
    public var pathRegex: Located<String>?
    /// `methods`, when given; an empty list means any method, as does `*` anywhere in it.
    public var methods: [Located<String>]?
    /// Header conditions, in the order written.
    public var headers: [HeaderCondition]

    /// Creates a match.
    public init(name: String, location: SourceLocation, pathRegex: Located<String>?, methods: [Located<String>]?, headers: [HeaderCondition]) {
        self.name = name
        self.location = location
        self.pathRegex = pathRegex
        self.methods = methods
        self.headers = headers
    }
}

/// A specs.smi-spec.io HTTPRouteGroup.
public struct HTTPRouteGroup: Sendable, Hashable {
    /// Identity, version and location.
    public var origin: ResourceOrigin
    /// The matches, in the order written.
    public var matches: [HTTPMatch]

    /// Creates a group.
    public init(origin: ResourceOrigin, matches: [HTTPMatch]) {
        self.origin = origin
        self.matches = matches
    }
}

/// A specs.smi-spec.io TCPRoute or UDPRoute: a set of ports.
public struct PortRoute: Sendable, Hashable {
    /// Identity (kind TCPRoute or UDPRoute), version and location.
    public var origin: ResourceOrigin
    /// `spec.matches.ports`; empty means every port (as does any version before v1alpha4).
    public var ports: [Located<Int>]

    /// Creates a route.
    public init(origin: ResourceOrigin, ports: [Located<Int>]) {
        self.origin = origin
        self.ports = ports
    }

    /// Whether the route covers every port.
    public var coversAllPorts: Bool { ports.isEmpty }
}

extension String {
    /// The string with ASCII `A`–`Z` lowered: header names are ASCII tokens and compare
    /// case-insensitively.
    public var asciiLowercased: String {
        String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
