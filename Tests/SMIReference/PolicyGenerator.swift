import SMIEngine

// Random policies over a small universe (2–3 namespaces, ~6 identities, 4 ports, a handful of
// route and service names), so that random requests often hit something. Every generated policy
// is meant to be valid: the test is about decisions, so anything SEMANTICS.md makes an error
// (duplicate match names, a header named twice, a UDPRoute rule before access v1alpha3, ...) is
// avoided, while everything it makes a warning (missing references, dropped TrafficTargets,
// unknown match names, redefinitions, the root as its own backend, ...) is produced on purpose.

extension Differential {
    /// The names a policy and its requests draw from.
    package struct Universe {
        package var namespaces: [String]
        package var identities: [ObjectID]
        package var ports: [Int]

        package static let allNamespaces = ["default", "shop", "mesh"]  // none a prefix of another
        package static let identityNames = ["web", "api", "db", "prometheus", "gateway", "worker"]
        package static let allPorts = [80, 8080, 9090, 5432]
        package static let groupNames = ["routes-a", "routes-b", "routes-c"]
        package static let tcpRouteNames = ["tcp-a", "tcp-b", "tcp-all"]
        package static let udpRouteNames = ["udp-a", "udp-b"]
        package static let matchNames = ["api", "items", "metrics", "admin", "health", "everything", "firefox", "ab"]
        package static let targetNames = [
            "a-first", "allow", "api-access", "metrics", "mixed", "l4", "tt-1", "tt-2", "zz-last",
        ]
        package static let splitNames = ["ab-test", "canary", "rollout", "split-a", "split-b"]
        package static let rootServices = ["website", "checkout", "search"]

        /// Path regexes (SEMANTICS.md §4): anchored at the start, open at the end by default.
        package static let pathRegexes = [
            "/api", "/api/v[0-9]+/items/[^/]+", "/metrics", ".*", "", "/a|/b", "/(x|y)z", "(?i)/Admin", "/health$",
            "/items/.*",
        ]
        /// Header value regexes; they must match the whole value.
        package static let headerRegexes = [".*Firefox.*", "t|True", "abc", ".*", "curl/.*", "(?i)true", "[0-9]+"]
        package static let headerNames = ["user-agent", "x-debug", "authorized", "cookie"]
        /// Backtrack exponentially on `aaa…ab`; only used with a tight match limit.
        package static let slowRegex = "/(a|aa)+$"
        package static let slowHeaderRegex = "(a|aa)+$"
        package static let methods = ["GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "*", "PROPFIND"]

        package static func random(using rng: inout SplitMix64) -> Universe {
            let namespaces =
                rng.chance(0.5) ? allNamespaces : ["default", rng.pick(["shop", "mesh"])]
            var identities: [ObjectID] = []
            for name in identityNames {
                identities.append(ObjectID(namespace: rng.pick(namespaces), name: name))
            }
            return Universe(namespaces: namespaces, identities: identities, ports: allPorts)
        }

        /// Identities no policy grants anything to.
        package var strangers: [ObjectID] {
            [ObjectID(namespace: namespaces[0], name: "stranger"), ObjectID(namespace: "elsewhere", name: "web")]
        }
    }

    /// Builds one random ``PolicyDescription``.
    package struct PolicyGenerator {
        package var rng: SplitMix64
        package let universe: Universe
        private var policy = PolicyDescription()

        package init(seed: UInt64) {
            rng = SplitMix64(seed: seed)
            universe = Universe.random(using: &rng)
        }

        package mutating func make() -> PolicyDescription {
            policy = PolicyDescription()
            policy.options = makeOptions()
            for namespace in universe.namespaces {
                for name in rng.distinct(rng.int(0...3), of: Universe.groupNames) {
                    policy.groups.append(makeGroup(Metadata(name: name, namespace: writtenNamespace(namespace))))
                }
                for name in rng.distinct(rng.int(0...3), of: Universe.tcpRouteNames) {
                    policy.portRoutes.append(
                        makePortRoute(.tcpRoute, Metadata(name: name, namespace: writtenNamespace(namespace)))
                    )
                }
                for name in rng.distinct(rng.int(0...2), of: Universe.udpRouteNames) {
                    policy.portRoutes.append(
                        makePortRoute(.udpRoute, Metadata(name: name, namespace: writtenNamespace(namespace)))
                    )
                }
            }
            var targetIDs: Set<ObjectID> = []
            for _ in 0..<rng.int(2...8) {
                let target = makeTrafficTarget()
                if targetIDs.insert(target.metadata.id).inserted { policy.targets.append(target) }
            }
            var splitIDs: Set<ObjectID> = []
            for _ in 0..<rng.int(0...5) {
                let split = makeSplit()
                if splitIDs.insert(split.metadata.id).inserted { policy.splits.append(split) }
            }
            if rng.chance(0.2) {
                let namespace = rng.pick(universe.namespaces)
                policy.bindings.append(
                    IdentityBinding(
                        metadata: Metadata(name: "binding", namespace: namespace),
                        serviceAccount: rng.pick(Universe.identityNames),
                        spiffeIdentities: [
                            "spiffe://cluster.local/ns/\(namespace)/sa/\(rng.pick(Universe.identityNames))"
                        ]
                    )
                )
            }
            addOverriddenDefinitions()
            if rng.chance(0.3) { policy.foreign.append(.foreign(kind: "Service", name: "website")) }
            if rng.chance(0.2) { policy.foreign.append(.foreign(kind: "Deployment", name: "web")) }
            // Written without apiVersion: skipped too.
            if rng.chance(0.1) { policy.foreign.append(.foreign(kind: "TrafficSplit", name: "website")) }
            return policy
        }

        /// Default options most of the time; otherwise some compile options.
        private mutating func makeOptions() -> PolicyOptions {
            var options = PolicyOptions()
            if rng.chance(0.12) { options.fullPathMatch = true }
            if rng.chance(0.08) { options.allowCrossNamespaceDestinations = true }
            if rng.chance(0.08) { options.trustDomain = "cluster.local" }
            if rng.chance(0.1) {
                // A tight regex budget, with catastrophic patterns in the pools (§7).
                options.matchLimit = 500
            }
            if rng.chance(0.08) {
                let steps: [PathNormalization] = [
                    .stripQuery, .rejectUnsafe, .decodeUnreserved, .mergeSlashes, .removeDotSegments,
                ]
                options.normalization = []
                for step in steps where rng.chance(0.6) { options.normalization.insert(step) }
            }
            return options
        }

        /// The namespace as written in `metadata`: `default` is sometimes left out.
        private mutating func writtenNamespace(_ namespace: String) -> String? {
            namespace == "default" && rng.chance(0.5) ? nil : namespace
        }

        // MARK: specs.smi-spec.io

        private mutating func makeGroup(_ metadata: Metadata) -> HTTPRouteGroup {
            let names = rng.distinct(rng.int(1...4), of: Universe.matchNames)
            var matches: [HTTPMatch] = []
            for name in names {
                var match = HTTPMatch(
                    name: name,
                    pathRegex: nil,
                    methods: nil,
                    headers: nil,
                    headerForm: rng.chance(0.5) ? .map : .list
                )
                let tightBudget = policy.options.matchLimit < PolicyOptions().matchLimit
                if rng.chance(0.8) {
                    match.pathRegex = rng.pick(
                        Universe.pathRegexes + (tightBudget ? [Universe.slowRegex, Universe.slowRegex] : [])
                    )
                }
                switch rng.int(0...9) {
                case 0...2: match.methods = nil
                case 3: match.methods = []
                default: match.methods = rng.distinct(rng.int(1...3), of: Universe.methods)
                }
                if rng.chance(0.35) {
                    var headers: [HeaderCondition] = []
                    for name in rng.distinct(rng.int(1...2), of: Universe.headerNames) {
                        headers.append(
                            HeaderCondition(name: randomCase(name), valueRegex: rng.pick(Universe.headerRegexes))
                        )
                    }
                    match.headers = headers
                }
                matches.append(match)
            }
            return HTTPRouteGroup(alpha: rng.int(1...4), metadata: metadata, matches: matches)
        }

        private mutating func makePortRoute(_ kind: RouteKind, _ metadata: Metadata) -> PortRoute {
            // UDPRoute exists from specs v1alpha4 (SMI digest §2.1).
            let alpha = kind == .udpRoute ? 4 : rng.int(1...4)
            let layout: PortListLayout
            switch rng.int(0...9) {
            case 0...1: layout = .ports([])
            case 2: layout = .matchesWithoutPorts
            case 3: layout = .emptySpec
            default:
                var ports: [PortText] = []
                for port in rng.distinct(rng.int(1...2), of: universe.ports) {
                    // §1: "ports may be numeric strings"; rare here, since one refused policy
                    // hides all its decisions.
                    ports.append(rng.chance(0.03) ? .string(port) : .number(port))
                }
                layout = .ports(ports)
            }
            return PortRoute(kind: kind, alpha: alpha, metadata: metadata, layout: layout)
        }

        // MARK: access.smi-spec.io

        private mutating func makeTrafficTarget() -> TrafficTarget {
            let alpha = rng.int(1...4)
            let destination = rng.pick(universe.identities)
            var namespace = destination.namespace
            var destinationNamespace: String? = rng.chance(0.6) ? destination.namespace : nil
            if rng.chance(0.1), let other = universe.namespaces.first(where: { $0 != destination.namespace }) {
                // Destination in another namespace: dropped unless the option allows it (§3).
                namespace = other
                destinationNamespace = destination.namespace
            }
            var destinationSubject = Subject(
                kind: .serviceAccount,
                name: destination.name,
                namespace: destinationNamespace
            )
            if alpha == 4 {
                destinationSubject.writesGroup = rng.chance(0.3)
                if rng.chance(0.05) { destinationSubject.kind = .identityBinding }
            }
            var target = TrafficTarget(
                alpha: alpha,
                metadata: Metadata(name: rng.pick(Universe.targetNames), namespace: writtenNamespace(namespace)),
                destination: destinationSubject,
                port: nil,
                sources: [],
                rules: []
            )
            if alpha <= 2, rng.chance(0.5) { target.port = randomPortText(rng.pick(universe.ports)) }

            // Sources; none at all now and then (dropped, §3).
            if !rng.chance(0.05) {
                for _ in 0..<rng.int(1...3) {
                    let identity = rng.chance(0.9) ? rng.pick(universe.identities) : rng.pick(universe.strangers)
                    let omitNamespace = identity.namespace == namespace && rng.chance(0.5)
                    var source = Subject(
                        kind: .serviceAccount,
                        name: identity.name,
                        namespace: omitNamespace ? nil : identity.namespace
                    )
                    if alpha == 4 { source.writesGroup = rng.chance(0.3) }
                    target.sources.append(source)
                }
                // An IdentityBinding source matches no identity; always next to a ServiceAccount
                // so the target is not one that "can grant nothing".
                if alpha == 4, rng.chance(0.15) {
                    target.sources.insert(
                        Subject(kind: .identityBinding, name: "binding", namespace: nil),
                        at: rng.int(0...target.sources.count)
                    )
                }
            }

            // Rules; none at all now and then (dropped, §3).
            if !rng.chance(0.05) {
                for _ in 0..<rng.int(1...3) {
                    target.rules.append(makeRule(alpha: alpha, namespace: namespace))
                }
            }
            return target
        }

        private mutating func makeRule(alpha: Int, namespace: String) -> Rule {
            // UDPRoute rules exist from access v1alpha3.
            let roll = rng.int(0...19)
            if roll < 10 {
                var rule = Rule(
                    kind: .httpRouteGroup,
                    name: routeName(.httpRouteGroup, namespace, Universe.groupNames + ["ghost-routes"]),
                    matches: nil
                )
                let group = policy.groups.first { $0.metadata.id == ObjectID(namespace: namespace, name: rule.name) }
                switch rng.int(0...9) {
                case 0...3: rule.matches = nil
                case 4: rule.matches = []
                default:
                    let names = group?.matches.map(\.name) ?? Universe.matchNames
                    var selected = rng.distinct(rng.int(1...max(1, names.count)), of: names)
                    if rng.chance(0.15) { selected.insert("no-such-match", at: rng.int(0...selected.count)) }
                    rule.matches = selected
                }
                return rule
            }
            if roll < 16 || alpha <= 2 {
                return Rule(
                    kind: .tcpRoute,
                    name: routeName(.tcpRoute, namespace, Universe.tcpRouteNames),
                    matches: nil
                )
            }
            return Rule(kind: .udpRoute, name: routeName(.udpRoute, namespace, Universe.udpRouteNames), matches: nil)
        }

        /// Mostly a route that exists in `namespace`; otherwise any name of the pool, which may
        /// not exist (a missing reference, §3).
        private mutating func routeName(_ kind: RouteKind, _ namespace: String, _ pool: [String]) -> String {
            let existing: [String]
            switch kind {
            case .httpRouteGroup:
                existing = policy.groups.filter { $0.metadata.id.namespace == namespace }.map(\.metadata.name)
            default:
                existing = policy.portRoutes.filter { $0.kind == kind && $0.metadata.id.namespace == namespace }.map(
                    \.metadata.name
                )
            }
            if let name = existing.randomElement(using: &rng), rng.chance(0.75) { return name }
            return rng.pick(pool)
        }

        // MARK: split.smi-spec.io

        /// A split in `namespace` (random when nil).
        private mutating func makeSplit(in fixedNamespace: String? = nil) -> TrafficSplit {
            let alpha = rng.int(1...4)
            // Several splits for one root now and then (§6).
            var namespace = fixedNamespace ?? rng.pick(universe.namespaces)
            var root = rng.pick(Universe.rootServices)
            if fixedNamespace == nil, let earlier = policy.splits.last, rng.chance(0.4) {
                namespace = earlier.metadata.id.namespace
                root = Differential.serviceName(earlier.service)
            }
            var names = rng.distinct(rng.int(1...3), of: ["\(root)-v1", "\(root)-v2", "\(root)-v3"])
            if rng.chance(0.15) { names.insert(root, at: rng.int(0...names.count)) }  // root as its own backend
            if rng.chance(0.1), let other = Universe.rootServices.first(where: { $0 != root }) {
                names.append(other)  // a backend that is another split's root: not followed
            }
            var backends: [Backend] = []
            for name in names {
                let weight: Weight
                if alpha == 1 {
                    weight = .quantity(
                        rng.pick(["1", "500m", "250m", "0", "2", "1500m", "10m", "100m", "0m", "1.5", "0.5"])
                    )
                } else {
                    weight = .integer(rng.pick([0, 1, 1, 2, 3, 10, 25, 50, 75, 90, 100, 0]))
                }
                backends.append(Backend(written: dnsForm(name, namespace), weight: weight))
            }
            var split = TrafficSplit(
                alpha: alpha,
                metadata: Metadata(name: rng.pick(Universe.splitNames), namespace: writtenNamespace(namespace)),
                service: dnsForm(root, namespace),
                backends: backends,
                matches: nil
            )
            if alpha >= 3, rng.chance(0.5) {
                var refs: [SplitMatchRef] = []
                for _ in 0..<rng.int(1...2) {
                    let isGroup = rng.chance(0.75)
                    refs.append(
                        SplitMatchRef(
                            kind: isGroup ? .httpRouteGroup : .tcpRoute,
                            name: rng.pick(isGroup ? Universe.groupNames : Universe.tcpRouteNames),
                            writesAPIGroup: rng.chance(0.3)
                        )
                    )
                }
                split.matches = refs
            }
            return split
        }

        /// A Service name, sometimes in a DNS form (§6).
        private mutating func dnsForm(_ name: String, _ namespace: String) -> String {
            switch rng.int(0...9) {
            case 0: return "\(name).\(namespace)"
            case 1: return "\(name).\(namespace).svc"
            case 2: return "\(name).\(namespace).svc.cluster.local"
            default: return name
            }
        }

        // MARK: Redefinitions

        /// Sometimes writes an earlier, different definition of an object with the same kind,
        /// namespace and name; the later one (the final object) is used (§1).
        private mutating func addOverriddenDefinitions() {
            if let target = policy.targets.randomElement(using: &rng), rng.chance(0.25) {
                var earlier = makeTrafficTarget()
                earlier.metadata = target.metadata
                policy.overridden.append(.trafficTarget(earlier))
            }
            if let group = policy.groups.randomElement(using: &rng), rng.chance(0.25) {
                policy.overridden.append(.httpRouteGroup(makeGroup(group.metadata)))
            }
            if let route = policy.portRoutes.randomElement(using: &rng), rng.chance(0.2) {
                policy.overridden.append(.portRoute(makePortRoute(route.kind, route.metadata)))
            }
            if let split = policy.splits.randomElement(using: &rng), rng.chance(0.2) {
                var earlier = makeSplit(in: split.metadata.id.namespace)
                earlier.metadata = split.metadata
                policy.overridden.append(.trafficSplit(earlier))
            }
        }

        // MARK: Helpers

        private mutating func randomPortText(_ port: Int) -> PortText {
            rng.chance(0.15) ? .string(port) : .number(port)
        }

        private mutating func randomCase(_ name: String) -> String {
            switch rng.int(0...3) {
            case 0: return name.uppercased()
            case 1:
                return name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(
                    separator: "-"
                )
            default: return name
            }
        }
    }

    /// The Service name a written name or DNS form stands for (§6: `name.namespace[.svc[...]]`).
    package static func serviceName(_ written: String) -> String {
        String(written.split(separator: ".", omittingEmptySubsequences: false)[0])
    }
}
