import SMIEngine

// Random requests aimed at a policy: mostly at the identities, ports and routes it names, mixed
// with unknown identities, ports outside the universe, odd methods, hostile paths (§5) and
// headers in several cases and duplicated (§2, §4).

extension Differential {
    package struct RequestGenerator {
        package var rng: SplitMix64
        package let universe: Universe
        package let policy: PolicyDescription
        /// The route matches the current request is aimed at (paths, methods, headers are drawn
        /// near them); every match of the policy when empty.
        private var focus: [HTTPMatch] = []

        package init(rng: SplitMix64, universe: Universe, policy: PolicyDescription) {
            self.rng = rng
            self.universe = universe
            self.policy = policy
        }

        private var focusMatches: [HTTPMatch] { focus.isEmpty ? policy.groups.flatMap(\.matches) : focus }

        package static let methods = ["GET", "GET", "GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "PROPFIND", "get"]

        /// Whole request targets, many of them hostile (§5).
        package static let fixedPaths = [
            "/", "", "*", "api", "/api", "/api/v1/items/42", "/api/v12/items/x/y", "/metrics", "/metrics/x",
            "/v1/metrics", "/a", "/b", "/xz", "/yz", "/admin", "/Admin", "/ADMIN/x", "/health", "/healthz", "/items/1",
            "/api/%2e%2e/metrics", "/%2e%2e/admin", "/public/%2E%2e/admin", "/a%2Fb", "/a%2fb", "/a%5cb", "/a%5Cb",
            "/a\\b", "//api", "/./api", "/../api", "/api/../metrics", "/a//../b", "/%41dmin", "/%61pi/v1/items/1",
            "/%zz", "/%4", "/%", "/a b", "/api?x=1", "/api#frag", "/metrics?a=%zz", "/x?../admin", "/a%00", "/a%20b",
            "/a%09", "/a%0A", "/a%7F", "/x\u{7F}", "/x\ty", "/caf\u{E9}", "/x\u{85}y", "/api/v1/items/%2e",
            "/api/v1/items/..", "/%252e", "/%2e", "/.", "/..", "/api/.", "/a/./b/../../metrics", "/api/v1//items//1",
            "/%7Eu", "/%2D%5F", "?q", "#f",
        ]
        package static let segments = [
            "api", "v1", "v2", "v10", "items", "42", "x", "metrics", "admin", "Admin", "ADMIN", "a", "b", "xz", "yz",
            "health", "public",
        ]
        package static let hostileSegments = [
            ".", "..", "%2e", "%2E%2e", "%41dmin", "%61pi", "", "%7Eu", "caf\u{E9}", "%2F", "%2f", "%5c", "%5C",
            "%00", "%zz", "%4", "a b", "%20", "%09", "%0A", "x\\y", "\u{7F}", "%252e", "%25", "%2e%2e%2f",
        ]
        package static let suffixes = ["?q=1", "?x=%zz", "#frag", "?a#b", "?/../admin", "?a b", "#x\\y"]

        package static let headerNames = [
            "user-agent", "User-Agent", "USER-AGENT", "x-debug", "X-Debug", "authorized", "Authorized", "cookie",
            "accept",
        ]
        package static let headerValues = [
            "Mozilla/5.0 Firefox/120.0", "Firefox", "Mozilla/5.0 Chrome/120.0", "curl/8.4", "t", "True", "true",
            "TRUE", "abc", "abcd", "ABC", "", "42", "Firefox\r\nx-debug: abc", "a\u{0}b", "line\nbreak", "Firefox\r",
            String(repeating: "a", count: 30) + "b", "aaaa",
        ]

        // MARK: Access

        package mutating func accessRequest() -> AccessRequest {
            // Mostly aimed at one TrafficTarget: its destination, one of its sources, its ports;
            // more often one that has sources and an HTTPRouteGroup rule, where most can happen.
            let routed = policy.targets.filter {
                !$0.sources.isEmpty && $0.rules.contains { $0.kind == .httpRouteGroup }
            }
            var target: TrafficTarget? = rng.chance(0.9) ? policy.targets.randomElement(using: &rng) : nil
            if rng.chance(0.5), let choice = routed.randomElement(using: &rng) { target = choice }
            var destination = rng.chance(0.8) ? rng.pick(universe.identities) : rng.pick(universe.strangers)
            var source = rng.chance(0.85) ? rng.pick(universe.identities) : rng.pick(universe.strangers)
            var ports = universe.ports
            focus = []
            if let target {
                let namespace = target.metadata.id.namespace
                for rule in target.rules where rule.kind == .httpRouteGroup {
                    let id = ObjectID(namespace: namespace, name: rule.name)
                    focus += policy.groups.first { $0.metadata.id == id }?.matches ?? []
                }
                if rng.chance(0.9) {
                    destination = ObjectID(
                        namespace: target.destination.namespace ?? namespace,
                        name: target.destination.name
                    )
                }
                if rng.chance(0.85), let subject = target.sources.randomElement(using: &rng) {
                    source = ObjectID(namespace: subject.namespace ?? namespace, name: subject.name)
                }
                var named: [Int] = target.port.map { [$0.value] } ?? []
                for rule in target.rules {
                    let id = ObjectID(namespace: namespace, name: rule.name)
                    if let route = policy.portRoutes.first(where: { $0.metadata.id == id && $0.kind == rule.kind }) {
                        named += route.listedPorts ?? []
                    }
                }
                if !named.isEmpty && rng.chance(0.7) { ports = named }
            }
            if rng.chance(0.05) { ports = [0, 1, 443, 8443, 65535] }

            var transport: TransportProtocol
            switch rng.int(0...19) {
            case 0...12: transport = .http
            case 13...17: transport = .tcp
            default: transport = .udp
            }
            if target?.rules.contains(where: { $0.kind == .udpRoute }) == true, rng.chance(0.3) { transport = .udp }
            return AccessRequest(
                source: identityText(source),
                destination: identityText(destination),
                port: rng.pick(ports),
                transport: transport,
                method: method(),
                path: path(hostile: true),
                headers: headers()
            )
        }

        /// `namespace/name` or a SPIFFE id (§2), in various trust domains.
        private mutating func identityText(_ id: ObjectID) -> String {
            switch rng.int(0...9) {
            case 0...6: return id.description
            case 7...8: return "spiffe://cluster.local/ns/\(id.namespace)/sa/\(id.name)"
            default: return "spiffe://example.org/ns/\(id.namespace)/sa/\(id.name)"
            }
        }

        /// Paths that match, or nearly match, each path regex of the generator's pool.
        package static let samplePaths: [String: [String]] = [
            "/api": ["/api", "/api/x", "/apis", "/v1/api", "/API"],
            "/api/v[0-9]+/items/[^/]+": [
                "/api/v1/items/42", "/api/v12/items/x/y", "/api/vX/items/1", "/api/v1/items/", "/api/v2/items/a",
            ],
            "/metrics": ["/metrics", "/metrics/x", "/v1/metrics", "/metric"],
            ".*": ["/", "/anything/at/all"],
            "": ["/", "/x"],
            "/a|/b": ["/a", "/b", "/ab", "/c", "/x/b", "/b/a"],
            "/(x|y)z": ["/xz", "/yz", "/zz", "/xz/1", "/xyz"],
            "(?i)/Admin": ["/admin", "/ADMIN/x", "/Admin", "/adm"],
            "/health$": ["/health", "/health/", "/healthz"],
            "/items/.*": ["/items/", "/items/1", "/items", "/items/a/b"],
            Universe.slowRegex: [
                "/" + String(repeating: "a", count: 30) + "b", "/aaaa", "/b", "/" + String(repeating: "a", count: 30),
            ],
        ]

        /// A request target: mostly near the policy's path regexes, sometimes random segments,
        /// sometimes hostile (§5) when `hostile`.
        private mutating func path(hostile: Bool) -> String {
            let regexes = focusMatches.compactMap(\.pathRegex)
            var path: String
            switch rng.int(0...19) {
            case 0...9:
                let regex = regexes.randomElement(using: &rng) ?? rng.pick(Universe.pathRegexes)
                path = rng.pick(Self.samplePaths[regex] ?? ["/"])
            case 10...14:
                path = "/" + (0..<rng.int(1...4)).map { _ in rng.pick(Self.segments) }.joined(separator: "/")
                if rng.chance(0.1) { path += "/" }
            default:
                path = rng.pick(Self.samplePaths[rng.pick(Universe.pathRegexes)] ?? ["/"])
            }
            guard hostile else { return path }
            switch rng.int(0...19) {
            case 0...1: return rng.pick(Self.fixedPaths)
            case 2...5: path = mutate(path)
            default: break
            }
            if rng.chance(0.1) { path += rng.pick(Self.suffixes) }
            return path
        }

        /// One §5 trick applied to a path: extra slashes, dot segments, escapes, bad bytes.
        private mutating func mutate(_ path: String) -> String {
            var characters = Array(path)
            let slashes = characters.indices.filter { characters[$0] == "/" }
            let at = slashes.randomElement(using: &rng) ?? 0
            switch rng.int(0...9) {
            case 0: characters.insert("/", at: at)
            case 1: characters.insert(contentsOf: rng.pick(["/.", "/x/..", "/%2e", "/x/%2E%2e", "/.."]), at: at)
            case 2, 3:
                // Percent-encode one character (unreserved ones are decoded again by §5 step 3).
                if let index = characters.indices.filter({ characters[$0] != "/" }).randomElement(using: &rng),
                    let byte = characters[index].asciiValue
                {
                    let hex = String(byte, radix: 16, uppercase: rng.chance(0.5))
                    characters.replaceSubrange(index...index, with: "%" + (hex.count == 1 ? "0" + hex : hex))
                }
            default:
                characters.insert(contentsOf: rng.pick(Self.hostileSegments) + "/", at: min(at + 1, characters.count))
            }
            return String(characters)
        }

        private mutating func headers() -> [HTTPHeader] {
            let named = focusMatches.flatMap { $0.headers ?? [] }.map(\.name)
            var headers: [HTTPHeader] = []
            for _ in 0..<rng.pick([0, 1, 1, 2, 2, 3]) {
                var name = rng.pick(Self.headerNames)
                if let policyName = named.randomElement(using: &rng), rng.chance(0.6) {
                    name = rng.pick([policyName, policyName.uppercased(), policyName.lowercased()])
                }
                headers.append(HTTPHeader(name, rng.pick(Self.headerValues)))
            }
            return headers
        }

        private mutating func method() -> String {
            let named = focusMatches.flatMap { $0.methods ?? [] }.filter { $0 != "*" }
            if let method = named.randomElement(using: &rng), rng.chance(0.5) { return method }
            return rng.pick(Self.methods)
        }

        // MARK: Split

        package mutating func splitRequest() -> SplitRequest {
            focus = []
            var service = ObjectID(namespace: rng.pick(universe.namespaces), name: rng.pick(Universe.rootServices))
            if let split = policy.splits.randomElement(using: &rng), rng.chance(0.85) {
                service = ObjectID(
                    namespace: split.metadata.id.namespace,
                    name: Differential.serviceName(split.service)
                )
            }
            let entropy: UInt64
            switch rng.int(0...19) {
            case 0: entropy = 0
            case 1: entropy = .max
            default: entropy = rng.next()
            }
            // §6 does not say what a rejected path does to a split's route match, so split requests
            // carry paths that normalization accepts (they may still need normalizing).
            var path = path(hostile: false)
            if rng.chance(0.2) {
                path = rng.pick(["/api//v1/items/1", "/%61pi/v1/items/x", "/x/../metrics", "/metrics?x=1", "/%41dmin"])
            }
            return SplitRequest(
                service: service.description,
                entropy: entropy,
                method: method(),
                path: path,
                headers: headers(),
                port: rng.chance(0.3) ? nil : rng.pick(universe.ports + [443])
            )
        }
    }
}
