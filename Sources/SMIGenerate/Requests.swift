/// The benchmark classes of generated requests.
public enum RequestClass: String, Sendable, Hashable, CaseIterable {
    /// HTTP whose deciding match (or, when denied, the targeted match) has a path regex and no
    /// header condition.
    case httpPath = "http-path"
    /// HTTP whose deciding (or targeted) match has header conditions.
    case httpHeaders = "http-headers"
    /// TCP connections (L4 services, and TCP to HTTP-only services).
    case tcp
    /// Backend selection for a root service that has a TrafficSplit.
    case split
}

/// A generated request with its expected outcome.
public struct GeneratedRequest: Sendable, Hashable {
    public var requestClass: RequestClass
    /// Set for access requests.
    public var access: GeneratedAccess?
    /// Set for split requests.
    public var split: GeneratedSplit?
    /// `allow`, `deny:<reason>` or `backend` (expected.jsonl's `outcome`).
    public var outcome: String
    /// Allowed requests: the granting TrafficTarget and match (nil for an L4 grant).
    public var trafficTarget: String?
    public var match: String?
    /// Split requests: the backend `namespace/name` the engine's selection rule picks.
    public var backend: String?

    /// The request as one `smi eval` line.
    public var jsonLine: String {
        var o = JSONObject()
        if let a = access {
            o.add("type", "access")
            o.add("source", a.source)
            o.add("destination", a.destination)
            o.add("port", a.port)
            o.add("protocol", a.transport)
            if a.transport == "http" {
                o.add("method", a.method)
                o.add("path", a.path)
                o.add("headers", a.headers)
            }
        } else if let s = split {
            o.add("type", "split")
            o.add("service", s.service)
            o.add("entropy", s.entropy)
            if let m = s.method { o.add("method", m) }
            if let p = s.path { o.add("path", p) }
            if !s.headers.isEmpty { o.add("headers", s.headers) }
        }
        return o.text
    }

    /// The expectation as one expected.jsonl line.
    public var expectedLine: String {
        var o = JSONObject()
        o.add("class", requestClass.rawValue)
        o.add("outcome", outcome)
        if let t = trafficTarget { o.add("trafficTarget", t) }
        if let m = match { o.add("match", m) }
        if let b = backend { o.add("backend", b) }
        return o.text
    }
}

extension Mesh {
    /// `count` requests (deterministic for the mesh and `seed`): 35 % http-path, 20 %
    /// http-headers, 20 % tcp, 25 % split, interleaved. About half of the access requests are
    /// allowed; the denied ones cover every deny reason of their class. Each outcome is the
    /// reference's (``referenceDecide(_:)``), and the class is what the request was built to
    /// exercise.
    public func requests(count: Int = 10_000, seed: UInt64? = nil) -> [GeneratedRequest] {
        var rng = SplitMix64(seed: (seed ?? self.seed) ^ 0x5EED_0F_2E_9E57)
        var maker = RequestMaker(mesh: self)
        var out: [GeneratedRequest] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            // A fixed pattern of 20 slots keeps the mix exact at any count: 7 path, 4 headers,
            // 4 tcp, 5 split.
            let slot = i % 20
            let cls: RequestClass = slot < 7 ? .httpPath : slot < 11 ? .httpHeaders : slot < 15 ? .tcp : .split
            out.append(maker.make(cls, rng: &rng))
        }
        return out
    }
}

/// Builds requests by intent, checks each against the reference, and retries when another
/// TrafficTarget changes the outcome.
struct RequestMaker {
    let mesh: Mesh
    /// Indices of TrafficTargets by what they can be asked.
    let pathTargets: [Int]
    let headerTargets: [Int]
    let l4Targets: [Int]
    let boundHTTPTargets: [Int]
    let httpTargets: [Int]
    let splitIndices: [Int]

    init(mesh: Mesh) {
        self.mesh = mesh
        var path: [Int] = []
        var header: [Int] = []
        var l4: [Int] = []
        var bound: [Int] = []
        var http: [Int] = []
        for (i, t) in mesh.targets.enumerated() {
            let selected = Self.selectedMatches(t, mesh)
            if selected.contains(where: { $0.headers.isEmpty && $0.path != nil }) { path.append(i) }
            if selected.contains(where: { !$0.headers.isEmpty }) { header.append(i) }
            let hasHTTP = t.rules.contains { if case .http = $0 { return true } else { return false } }
            if hasHTTP { http.append(i) }
            if !hasHTTP && t.rules.contains(where: { if case .tcp = $0 { return true } else { return false } }) { l4.append(i) }
            if hasHTTP && (t.port != nil || t.rules.contains(where: { if case .tcp = $0 { return true } else { return false } }))
            {
                bound.append(i)
            }
        }
        pathTargets = path
        headerTargets = header
        l4Targets = l4
        boundHTTPTargets = bound
        httpTargets = http
        splitIndices = Array(mesh.splits.indices)
    }

    static func selectedMatches(_ t: Target, _ mesh: Mesh) -> [RouteMatch] {
        var out: [RouteMatch] = []
        for case .http(let name, let selected) in t.rules {
            guard let g = mesh.group(namespace: t.namespace, name: name) else { continue }
            out += g.matches.filter { selected?.contains($0.name) ?? true }
        }
        return out
    }

    enum Intent: CaseIterable {
        case allow, pathRejected, noTrafficTarget, sourceNotAllowed, portNotAllowed, noRouteMatched
        var outcome: String {
            switch self {
            case .allow: return "allow"
            case .pathRejected: return "deny:path-rejected"
            case .noTrafficTarget: return "deny:no-traffic-target"
            case .sourceNotAllowed: return "deny:source-not-allowed"
            case .portNotAllowed: return "deny:port-not-allowed"
            case .noRouteMatched: return "deny:no-route-matched"
            }
        }
    }

    /// Per class, 20 slots of intents: half allow, the rest over the class's deny stages.
    static func intent(_ cls: RequestClass, _ roll: Int) -> Intent {
        switch cls {
        case .httpPath:
            let denies: [Intent] = [.pathRejected, .noTrafficTarget, .sourceNotAllowed, .portNotAllowed, .noRouteMatched]
            return roll < 10 ? .allow : denies[(roll - 10) / 2]
        case .httpHeaders:
            let denies: [Intent] = [
                .noRouteMatched, .noRouteMatched, .noRouteMatched, .noRouteMatched, .noRouteMatched,
                .noRouteMatched, .sourceNotAllowed, .sourceNotAllowed, .portNotAllowed, .noTrafficTarget,
            ]
            return roll < 10 ? .allow : denies[roll - 10]
        case .tcp:
            let denies: [Intent] = [
                .noTrafficTarget, .noTrafficTarget, .sourceNotAllowed, .sourceNotAllowed, .sourceNotAllowed,
                .portNotAllowed, .portNotAllowed, .portNotAllowed, .noRouteMatched, .noRouteMatched,
            ]
            return roll < 10 ? .allow : denies[roll - 10]
        case .split:
            return .allow
        }
    }

    mutating func make(_ cls: RequestClass, rng: inout SplitMix64) -> GeneratedRequest {
        if cls == .split { return makeSplit(&rng) }
        let intent = Self.intent(cls, rng.below(20))
        for _ in 0..<64 {
            if let r = attempt(cls, intent, &rng) { return r }
        }
        // The mesh cannot produce this intent (a tiny mesh): any other intent of the class.
        for other in Intent.allCases {
            for _ in 0..<64 {
                if let r = attempt(cls, other, &rng) { return r }
            }
        }
        // No request of this class exists in the mesh at all: an unknown destination.
        return unknownDestination(cls, &rng)
    }

    func unknownDestination(_ cls: RequestClass, _ rng: inout SplitMix64) -> GeneratedRequest {
        let a = GeneratedAccess(
            source: mesh.identities[rng.below(mesh.identities.count)],
            destination: mesh.namespaces[0] + "/legacy-\(rng.below(1000))",
            port: 8080, transport: cls == .tcp ? "tcp" : "http", method: "GET", path: "/", headers: [])
        return finish(cls, a, expected: .noTrafficTarget, headerDeciding: nil)
            ?? GeneratedRequest(
                requestClass: cls, access: a, split: nil, outcome: "deny:no-traffic-target")
    }

    /// The reference's verdict, if it is what `expected` wants; nil to retry.
    func finish(_ cls: RequestClass, _ a: GeneratedAccess, expected: Intent, headerDeciding: Bool?) -> GeneratedRequest? {
        let r = mesh.referenceDecide(a)
        let outcome = r.allowed ? "allow" : "deny:" + (r.reason ?? "")
        guard outcome == expected.outcome else { return nil }
        if r.allowed, let want = headerDeciding, r.matchHasHeaders != want { return nil }
        if r.allowed, cls == .tcp, r.match != nil { return nil }
        return GeneratedRequest(
            requestClass: cls, access: a, split: nil, outcome: outcome,
            trafficTarget: r.trafficTarget, match: r.allowed ? r.match : nil, backend: nil)
    }

    /// The port a request to `t` arrives on when it should pass the port stage.
    func openPort(_ t: Target, _ rng: inout SplitMix64) -> Int {
        if let p = t.port { return p }
        for case .tcp(let name) in t.rules {
            if let r = mesh.portRoute(.tcp, namespace: t.namespace, name: name) {
                return r.ports.isEmpty ? rng.pick([5432, 8080, 7000]) : rng.pick(r.ports)
            }
        }
        for case .udp(let name) in t.rules {
            if let r = mesh.portRoute(.udp, namespace: t.namespace, name: name) {
                return r.ports.isEmpty ? 53 : rng.pick(r.ports)
            }
        }
        return rng.pick([8080, 8080, 80, 3000, 9000])
    }

    func commonHeaders(_ rng: inout SplitMix64) -> [(name: String, value: String)] {
        var h: [(name: String, value: String)] = []
        if rng.percent(70) { h.append(("accept", rng.pick(["application/json", "*/*", "text/html"]))) }
        if rng.percent(60) {
            h.append(("user-agent", rng.pick(["curl/8.5.0", "okhttp/4.12.0", "Go-http-client/1.1", "python-requests/2.31"])))
        }
        if rng.percent(40) { h.append(("x-request-id", String(rng.next(), radix: 16))) }
        return h
    }

    func notASource(_ t: Target, _ rng: inout SplitMix64) -> String {
        for _ in 0..<8 {
            let s = mesh.identities[rng.below(mesh.identities.count)]
            if !t.sources.contains(s) { return s }
        }
        return t.namespace + "/intruder-\(rng.below(100))"
    }

    func method(for m: RouteMatch, _ rng: inout SplitMix64) -> String {
        m.anyMethod ? rng.pick(["GET", "POST", "PUT", "DELETE", "PATCH"]) : rng.pick(m.methods)
    }

    func withQuery(_ path: String, _ rng: inout SplitMix64) -> String {
        rng.percent(25) ? path + "?" + rng.pick(["page=2", "limit=50&offset=100", "q=shoes", "v=1"]) : path
    }

    mutating func attempt(_ cls: RequestClass, _ intent: Intent, _ rng: inout SplitMix64) -> GeneratedRequest? {
        switch cls {
        case .httpPath, .httpHeaders:
            let headerClass = cls == .httpHeaders
            let pool = intent == .portNotAllowed ? boundHTTPTargets : (headerClass ? headerTargets : pathTargets)
            guard !pool.isEmpty else { return nil }
            let t = mesh.targets[pool[rng.below(pool.count)]]
            let candidates = Self.selectedMatches(t, mesh).filter {
                headerClass ? !$0.headers.isEmpty : ($0.headers.isEmpty && $0.path != nil)
            }
            guard !candidates.isEmpty else { return nil }
            let m = rng.pick(candidates)
            var a = GeneratedAccess(
                source: rng.pick(t.sources), destination: t.destination, port: openPort(t, &rng), transport: "http",
                method: method(for: m, &rng), path: withQuery(m.path?.sample(&rng) ?? "/", &rng),
                headers: commonHeaders(&rng))
            if headerClass {
                a.headers.removeAll { h in m.headers.contains { $0.name == asciiLowercased(h.name) } }
                for c in m.headers {
                    let name = rng.percent(30) ? headerSpelling(c.name) : c.name
                    if intent == .noRouteMatched {
                        // Wrong value, or the header left out.
                        if rng.percent(60) { a.headers.append((name, wrongValue(c.pattern, &rng))) }
                    } else {
                        a.headers.append((name, rightValue(c.pattern, &rng)))
                    }
                }
            }
            switch intent {
            case .allow:
                return finish(cls, a, expected: .allow, headerDeciding: headerClass)
            case .pathRejected:
                a.path = rejectedPath(a.path, &rng)
            case .noTrafficTarget:
                a.destination = rng.percent(50) ? rng.pick(mesh.callersOnly) : t.namespace + "/legacy-\(rng.below(1000))"
            case .sourceNotAllowed:
                a.source = notASource(t, &rng)
            case .portNotAllowed:
                a.port = rng.pick([8081, 9999, 8443, 15000])
            case .noRouteMatched:
                if !headerClass {
                    if !m.anyMethod && rng.percent(50) {
                        a.method = rng.pick(["PATCH", "OPTIONS", "TRACE"])
                    } else {
                        a.path = withQuery(rng.pick(["/internal/debug", "/api/beta/", "/v2/graphql", "/api/v1", "/"]), &rng)
                    }
                }
            }
            return finish(cls, a, expected: intent, headerDeciding: nil)
        case .tcp:
            var a: GeneratedAccess
            switch intent {
            case .noRouteMatched:
                // TCP to a service guarded by an HTTPRouteGroup: an opaque connection cannot be
                // checked against routes.
                guard !httpTargets.isEmpty else { return nil }
                let t = mesh.targets[httpTargets[rng.below(httpTargets.count)]]
                a = GeneratedAccess(
                    source: rng.pick(t.sources), destination: t.destination, port: openPort(t, &rng), transport: "tcp",
                    method: "", path: "", headers: [])
            default:
                guard !l4Targets.isEmpty else { return nil }
                let t = mesh.targets[l4Targets[rng.below(l4Targets.count)]]
                a = GeneratedAccess(
                    source: rng.pick(t.sources), destination: t.destination, port: openPort(t, &rng), transport: "tcp",
                    method: "", path: "", headers: [])
                switch intent {
                case .noTrafficTarget:
                    a.destination = t.namespace + "/" + rng.pick(["legacy-db", "cache-\(rng.below(100))", "frontend"])
                case .sourceNotAllowed:
                    a.source = notASource(t, &rng)
                case .portNotAllowed:
                    a.port = rng.pick([22, 8080, 6380, 5433])
                case .pathRejected:
                    return nil
                default:
                    break
                }
            }
            return finish(cls, a, expected: intent, headerDeciding: nil)
        case .split:
            return nil
        }
    }

    func makeSplit(_ rng: inout SplitMix64) -> GeneratedRequest {
        guard !splitIndices.isEmpty else {
            let s = GeneratedSplit(service: mesh.namespaces[0] + "/nothing", entropy: rng.next(), headers: [])
            return GeneratedRequest(requestClass: .split, access: nil, split: s, outcome: "backend", backend: s.service)
        }
        let split = mesh.splits[splitIndices[rng.below(splitIndices.count)]]
        var s = GeneratedSplit(service: split.namespace + "/" + split.service, entropy: rng.next(), headers: [])
        if !split.matches.isEmpty, let g = mesh.group(namespace: split.namespace, name: split.matches[0]) {
            // A request the split applies to: one that some match of the group matches.
            let m = rng.pick(g.matches)
            s.method = method(for: m, &rng)
            s.path = withQuery(m.path?.sample(&rng) ?? rng.pick(["/", "/api/v1/items", "/checkout"]), &rng)
            s.headers = m.headers.map { ($0.name, rightValue($0.pattern, &rng)) }
        }
        let picked = mesh.referenceBackend(s)
        return GeneratedRequest(
            requestClass: .split, access: nil, split: s, outcome: "backend", trafficTarget: nil, match: nil,
            backend: picked.backend)
    }

    func headerSpelling(_ name: String) -> String {
        // `x-tenant` → `X-Tenant`: names compare case-insensitively.
        var out = ""
        var upper = true
        for c in name {
            out += upper ? c.uppercased() : String(c)
            upper = c == "-"
        }
        return out
    }

    func rightValue(_ p: HeaderPattern, _ rng: inout SplitMix64) -> String {
        switch p {
        case .tenant: return rng.pick(["acme", "globex", "initech", "umbrella"]) + "-\(rng.int(1...999))"
        case .firefox:
            return "Mozilla/5.0 (X11; Linux x86_64; rv:\(rng.int(110...130)).0) Gecko/20100101 Firefox/\(rng.int(110...130)).0"
        case .role: return rng.pick(["admin", "operator"])
        case .canary: return rng.pick(["true", "always"])
        }
    }

    func wrongValue(_ p: HeaderPattern, _ rng: inout SplitMix64) -> String {
        switch p {
        case .tenant: return rng.pick(["ACME-1", "acme", "acme-", "acme-12x", "-42"])
        case .firefox: return rng.pick(["curl/8.5.0", "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0", "firefox/1.0"])
        case .role: return rng.pick(["viewer", "administrator", "admin,operator", "Admin"])
        case .canary: return rng.pick(["false", "TRUE", "yes"])
        }
    }

    func rejectedPath(_ path: String, _ rng: inout SplitMix64) -> String {
        switch rng.below(5) {
        case 0: return "/api/v1/..%2Fadmin%2Fusers"
        case 1: return path + "%2f..%2fsecret"
        case 2: return "/api/v1\\admin"
        case 3: return path + "%00.json"
        default: return "/api/v1/%zz"
        }
    }
}
