// The generator's own reading of SEMANTICS.md §3–§7, on the mesh it generated. It needs no
// regex engine: every pattern the generator writes has an exact matcher (Mesh.swift). Tests run
// the real engine on the same requests and compare.

/// An access request as the generator writes it (the `smi eval` fields).
public struct GeneratedAccess: Sendable, Hashable {
    public var source: String
    public var destination: String
    public var port: Int
    /// `http`, `tcp` or `udp`.
    public var transport: String
    /// HTTP only.
    public var method: String
    /// HTTP only: the request target (path with an optional `?query`).
    public var path: String
    /// HTTP only, in the order written.
    public var headers: [(name: String, value: String)]

    public static func == (a: Self, b: Self) -> Bool {
        a.source == b.source && a.destination == b.destination && a.port == b.port && a.transport == b.transport
            && a.method == b.method && a.path == b.path && a.headers.map(\.name) == b.headers.map(\.name)
            && a.headers.map(\.value) == b.headers.map(\.value)
    }

    public func hash(into h: inout Hasher) {
        h.combine(source)
        h.combine(destination)
        h.combine(path)
    }
}

/// A split request as the generator writes it.
public struct GeneratedSplit: Sendable, Hashable {
    /// The root service, `namespace/name`.
    public var service: String
    public var entropy: UInt64
    /// Set only for splits with matches.
    public var method: String?
    public var path: String?
    public var headers: [(name: String, value: String)]

    public static func == (a: Self, b: Self) -> Bool {
        a.service == b.service && a.entropy == b.entropy && a.method == b.method && a.path == b.path
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    public func hash(into h: inout Hasher) {
        h.combine(service)
        h.combine(entropy)
    }
}

/// What the reference decides for an access request.
public struct ReferenceAccess: Sendable, Hashable {
    public var allowed: Bool
    /// A SEMANTICS.md §7 deny reason spelling; nil when allowed.
    public var reason: String?
    /// The granting TrafficTarget `namespace/name`.
    public var trafficTarget: String?
    /// The granting match; nil for an L4 grant.
    public var match: String?
    /// Whether the granting match has header conditions.
    public var matchHasHeaders: Bool
}

extension Mesh {
    /// SEMANTICS.md §3, §5 and §7 for `request`.
    public func referenceDecide(_ request: GeneratedAccess) -> ReferenceAccess {
        var path = ""
        var headers: [String: String] = [:]
        if request.transport == "http" {
            guard let normalized = referenceNormalize(request.path) else {
                return ReferenceAccess(allowed: false, reason: "path-rejected", matchHasHeaders: false)
            }
            path = normalized
            for h in request.headers {
                let name = asciiLowercased(h.name)
                headers[name] = headers[name].map { $0 + ", " + h.value } ?? h.value
            }
        }
        let stages = ["no-traffic-target", "source-not-allowed", "port-not-allowed", "no-route-matched"]
        var furthest = 0
        for index in targetsByDestination[request.destination] ?? [] {
            let t = targets[index]
            guard t.sources.contains(request.source) else {
                furthest = max(furthest, 1)
                continue
            }
            var portOK = true
            if let p = t.port, p != request.port { portOK = false }
            let binding: [PortRoute] = t.rules.compactMap { rule in
                switch (rule, request.transport) {
                case (.tcp(let name), "tcp"), (.tcp(let name), "http"):
                    return portRoute(.tcp, namespace: t.namespace, name: name)
                case (.udp(let name), "udp"):
                    return portRoute(.udp, namespace: t.namespace, name: name)
                default: return nil
                }
            }
            let bindsPorts = t.rules.contains { rule in
                switch (rule, request.transport) {
                case (.tcp, "tcp"), (.tcp, "http"), (.udp, "udp"): return true
                default: return false
                }
            }
            if bindsPorts && !binding.contains(where: { $0.covers(request.port) }) { portOK = false }
            guard portOK else {
                furthest = max(furthest, 2)
                continue
            }
            furthest = max(furthest, 3)
            let hasHTTPRules = t.rules.contains { if case .http = $0 { return true } else { return false } }
            switch request.transport {
            case "tcp", "udp":
                if !hasHTTPRules && binding.contains(where: { $0.covers(request.port) }) {
                    return ReferenceAccess(allowed: true, trafficTarget: t.id, match: nil, matchHasHeaders: false)
                }
            default:
                if hasHTTPRules {
                    for case .http(let groupName, let selected) in t.rules {
                        guard let group = group(namespace: t.namespace, name: groupName) else { continue }
                        for m in group.matches where selected?.contains(m.name) ?? true {
                            if m.matches(method: request.method, path: path, headers: headers) {
                                return ReferenceAccess(
                                    allowed: true, trafficTarget: t.id, match: m.name, matchHasHeaders: !m.headers.isEmpty)
                            }
                        }
                    }
                } else if binding.contains(where: { $0.covers(request.port) }) {
                    return ReferenceAccess(allowed: true, trafficTarget: t.id, match: nil, matchHasHeaders: false)
                }
            }
        }
        return ReferenceAccess(allowed: false, reason: stages[furthest], matchHasHeaders: false)
    }

    /// SEMANTICS.md §6 for `request`: the backend `namespace/name`, and the deciding split.
    public func referenceBackend(_ request: GeneratedSplit) -> (backend: String, split: String?) {
        guard let split = splitsByService[request.service] else { return (request.service, nil) }
        if !split.matches.isEmpty {
            guard let method = request.method, let target = request.path, let path = referenceNormalize(target) else {
                return (request.service, nil)
            }
            var headers: [String: String] = [:]
            for h in request.headers {
                let name = asciiLowercased(h.name)
                headers[name] = headers[name].map { $0 + ", " + h.value } ?? h.value
            }
            let applies = split.matches.contains { name in
                group(namespace: split.namespace, name: name)?.matches.contains {
                    $0.matches(method: method, path: path, headers: headers)
                } ?? false
            }
            if !applies { return (request.service, nil) }
        }
        return (split.namespace + "/" + Self.pick(split.backends, entropy: request.entropy), split.id)
    }

    /// The engine's documented selection: r = high 64 bits of entropy × total weight; the first
    /// backend (listed order, zero weights skipped) whose cumulative weight exceeds r.
    static func pick(_ backends: [(service: String, weight: Int)], entropy: UInt64) -> String {
        let total = backends.reduce(0) { $0 + $1.weight }
        let r = entropy.multipliedFullWidth(by: UInt64(total)).high
        var cumulative: UInt64 = 0
        for b in backends where b.weight > 0 {
            cumulative += UInt64(b.weight)
            if cumulative > r { return b.service }
        }
        return backends[backends.count - 1].service
    }
}

/// §5 for the paths the generator writes: nil when rejected. Normal generated paths hold only
/// `[a-z0-9/-]` (no escapes, dots or double slashes), so cutting the query is all that is left.
func referenceNormalize(_ target: String) -> String? {
    var bytes: [UInt8] = []
    for b in target.utf8 {
        if b == 0x3F || b == 0x23 { break }
        bytes.append(b)
    }
    guard bytes.first == 0x2F else { return nil }
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        if b < 0x20 || b == 0x7F || b == 0x20 || b == 0x5C { return nil }
        if b == 0x25 {
            guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else { return nil }
            let v = hi << 4 | lo
            if v == 0x2F || v == 0x5C || v == 0x00 { return nil }
        }
        i += 1
    }
    return String(decoding: bytes, as: UTF8.self)
}

private func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
}

func asciiLowercased(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
}
