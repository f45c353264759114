/// Generates a realistic SMI mesh of a given number of TrafficTargets, deterministically.
///
/// Shape (per seed, the same on every machine):
/// - about `targets / 20` namespaces (at least 2), each with its own services;
/// - each service is protected by 1–4 TrafficTargets with 1–3 sources each (callers of the same
///   namespace, now and then another namespace's, and `monitoring/prometheus` for metrics);
/// - HTTP services own one HTTPRouteGroup (3–6 matches: `/api/v[0-9]+/<resource>...`,
///   `/health`, `/metrics`, header matches such as `x-tenant: [a-z]+-[0-9]+`), shared by all the
///   service's TrafficTargets, which select different matches; some are gated by a TCPRoute on
///   their HTTP port, metrics TrafficTargets by a TCPRoute on 9090;
/// - databases and queues are L4 services (TCPRoute ports such as 5432), a few are UDP;
/// - access v1alpha3 mostly, some v1alpha2/v1alpha1 with `destination.port`;
/// - about `targets / 10` TrafficSplits (2–5 backends), some with matches.
///
/// ```swift
/// let mesh = MeshGenerator(targets: 1_000, seed: 1).generate()
/// let requests = mesh.requests(count: 10_000)
/// try mesh.write(to: "out", requests: requests)
/// ```
public struct MeshGenerator: Sendable {
    /// The number of TrafficTargets to generate.
    public var targets: Int
    /// The seed: the same seed and size always give the same mesh, byte for byte.
    public var seed: UInt64

    /// Creates a generator for `targets` TrafficTargets (at least 1).
    public init(targets: Int, seed: UInt64) {
        self.targets = max(1, targets)
        self.seed = seed
    }

    /// Builds the mesh.
    public func generate() -> Mesh {
        var builder = Builder(targetCount: targets, seed: seed)
        builder.build()
        return builder.mesh
    }
}

private let namespaceWords = [
    "checkout", "catalog", "identity", "billing", "search", "media", "shipping", "payments",
    "analytics", "support", "inventory", "marketing", "recommend", "notify", "accounts", "orders",
    "pricing", "fraud", "reviews", "loyalty", "ads", "content", "partner", "warehouse",
]

private let resourceWords = [
    "items", "orders", "users", "carts", "payments", "invoices", "products", "reviews", "shipments",
    "accounts", "sessions", "tokens", "reports", "events", "messages", "files", "coupons", "prices",
    "stocks", "tickets", "profiles", "refunds", "quotes", "labels",
]

private let l4Kinds: [(name: String, ports: [Int])] = [
    ("postgres", [5432]), ("redis", [6379]), ("kafka", [9092, 9093]), ("mysql", [3306]),
    ("memcached", [11211]), ("mongo", [27017]), ("rabbitmq", [5672]), ("etcd", [2379, 2380]),
]

private let udpKinds: [(name: String, ports: [Int])] = [("statsd", [8125]), ("dns-cache", [53]), ("syslog", [514])]

private let callerNames = ["frontend", "gateway", "worker", "cron", "batch"]

/// What a generated service is, as the request generator needs it.
struct Service {
    enum Kind { case http, tcp, udp }
    var namespace: String
    var name: String
    var kind: Kind
    /// HTTP: the port it serves on; L4/UDP: the ports of its route (empty: all).
    var ports: [Int]
    /// Give this HTTP service a header match and a TrafficTarget that selects it (the first
    /// namespace's first service, so that every request class exists even in a tiny mesh).
    var forceHeaders = false
    var id: String { namespace + "/" + name }
}

private struct Builder {
    var mesh: Mesh
    var rng: SplitMix64

    init(targetCount: Int, seed: UInt64) {
        mesh = Mesh(targetCount: targetCount, seed: seed)
        rng = SplitMix64(seed: seed)
    }

    mutating func build() {
        let n = mesh.targetCount
        let namespaceCount = max(2, n / 20)
        for i in 0..<namespaceCount {
            let word = namespaceWords[i % namespaceWords.count]
            mesh.namespaces.append(i < namespaceWords.count ? word : "\(word)-\(i / namespaceWords.count)")
        }
        var identities: [String] = ["monitoring/prometheus"]
        var callersOnly: [String] = ["monitoring/prometheus"]
        var httpServices: [Service] = []
        for (i, ns) in mesh.namespaces.enumerated() {
            let quota = n / namespaceCount + (i < n % namespaceCount ? 1 : 0)
            var nsRNG = rng.fork()
            let made = buildNamespace(ns, quota: quota, first: i == 0, rng: &nsRNG)
            identities += made.identities
            callersOnly += made.callersOnly
            httpServices += made.httpServices
        }
        buildSplits(httpServices)
        mesh.identities = identities
        mesh.callersOnly = callersOnly
        mesh.targets.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        mesh.index()
    }

    /// One namespace: services until `quota` TrafficTargets exist.
    mutating func buildNamespace(_ ns: String, quota: Int, first: Bool, rng: inout SplitMix64)
        -> (identities: [String], callersOnly: [String], httpServices: [Service])
    {
        // First decide the services and how many TrafficTargets each gets, so that every
        // TrafficTarget can draw its sources from the whole namespace.
        var plan: [(service: Service, targets: Int)] = []
        var left = quota
        var used = Set<String>()
        var l4Used = 0
        while left > 0 {
            let roll = rng.below(100)
            var service: Service
            var count: Int
            if first && plan.count == 0 {
                // The first namespace starts with an HTTP service with a header match and an L4
                // service, so that every request class has requests even in a tiny mesh.
                let word = resourceWords[rng.below(resourceWords.count)]
                service = Service(namespace: ns, name: word, kind: .http, ports: [8080], forceHeaders: true)
                count = min(left, max(2, rng.int(1...4)))
            } else if first && plan.count == 1 {
                let k = l4Kinds[rng.below(l4Kinds.count)]
                service = Service(namespace: ns, name: k.name, kind: .tcp, ports: k.ports)
                count = 1
            } else if roll < 5 && plan.count > 0 {
                let k = udpKinds[rng.below(udpKinds.count)]
                service = Service(namespace: ns, name: k.name, kind: .udp, ports: k.ports)
                count = 1
            } else if roll < 22 && plan.count > 0 {
                let k = l4Kinds[(rng.below(l4Kinds.count) + l4Used) % l4Kinds.count]
                l4Used += 1
                // An empty port list (every port) for a few, as v1alpha4 allows.
                service = Service(namespace: ns, name: k.name, kind: .tcp, ports: rng.percent(10) ? [] : k.ports)
                count = rng.int(1...2)
            } else {
                let word = resourceWords[rng.below(resourceWords.count)]
                service = Service(
                    namespace: ns, name: word, kind: .http,
                    ports: [rng.pick([8080, 8080, 8080, 8080, 80, 3000, 9000])])
                count = rng.int(1...4)
            }
            // Unique names within the namespace.
            var name = service.name
            var suffix = 2
            while used.contains(name) {
                name = "\(service.name)-\(suffix)"
                suffix += 1
            }
            used.insert(name)
            service.name = name
            count = min(count, left)
            left -= count
            plan.append((service, count))
        }
        let callerCount = rng.int(1...3)
        let callers = callerNames.prefix(callerCount).map { ns + "/" + $0 }
        let serviceIDs = plan.map(\.service.id)
        let sourcePool = serviceIDs + callers
        let others = mesh.namespaces

        var httpServices: [Service] = []
        for (service, count) in plan {
            switch service.kind {
            case .http:
                httpServices.append(service)
                buildHTTPService(service, targets: count, sources: sourcePool, otherNamespaces: others, rng: &rng)
            case .tcp, .udp:
                buildPortService(service, targets: count, sources: sourcePool, rng: &rng)
            }
        }
        return (serviceIDs + callers, callers, httpServices)
    }

    /// 1–3 sources from the pool (never the destination itself), now and then one from another
    /// namespace.
    func drawSources(_ count: Int, pool: [String], excluding: String, otherNamespaces: [String], rng: inout SplitMix64)
        -> [String]
    {
        var out: [String] = []
        let candidates = pool.filter { $0 != excluding }
        var tries = 0
        while out.count < count && tries < 20 {
            tries += 1
            var s: String
            if rng.percent(10) || candidates.isEmpty {
                let ns = otherNamespaces[rng.below(otherNamespaces.count)]
                s = ns + "/" + rng.pick(callerNames)
            } else {
                s = candidates[rng.below(candidates.count)]
            }
            if s == excluding { continue }
            if !out.contains(s) { out.append(s) }
        }
        if out.isEmpty { out.append(excluding.split(separator: "/")[0] + "/frontend") }
        return out
    }

    mutating func buildHTTPService(
        _ service: Service, targets count: Int, sources pool: [String], otherNamespaces: [String],
        rng: inout SplitMix64
    ) {
        let ns = service.namespace
        let resource = resourceWords.contains(service.name) ? service.name : rng.pick(resourceWords)
        // The group: 1–3 API matches without headers, maybe one header match, health, metrics.
        var api: [RouteMatch] = []
        let apiCandidates = [
            RouteMatch(name: "list-\(resource)", path: .collection(resource), methods: ["GET"], headers: []),
            RouteMatch(name: "get-\(resource)", path: .item(resource), methods: ["GET", "HEAD"], headers: []),
            RouteMatch(name: "create-\(resource)", path: .collection(resource), methods: ["POST"], headers: []),
            RouteMatch(name: "update-\(resource)", path: .item(resource), methods: ["PUT", "DELETE"], headers: []),
            RouteMatch(name: "all-\(resource)", path: .item(resource), methods: ["*"], headers: []),
        ]
        api = Array(rng.shuffled(apiCandidates).prefix(rng.int(1...3)))
        var headerMatches: [RouteMatch] = []
        if rng.percent(45) || service.forceHeaders {
            switch rng.below(3) {
            case 0:
                headerMatches.append(
                    RouteMatch(
                        name: "tenant-\(resource)", path: .item(resource), methods: ["*"],
                        headers: [HeaderCondition(name: "x-tenant", pattern: .tenant)]))
            case 1:
                headerMatches.append(
                    RouteMatch(
                        name: "firefox-ui", path: .ui, methods: ["GET"],
                        headers: [HeaderCondition(name: "user-agent", pattern: .firefox)]))
            default:
                headerMatches.append(
                    RouteMatch(
                        name: "admin", path: .admin, methods: ["*"],
                        headers: [HeaderCondition(name: "x-role", pattern: .role)]))
            }
        }
        var matches = api + headerMatches
        let health = rng.percent(70) || matches.count < 2
        if health { matches.append(RouteMatch(name: "health", path: .health, methods: ["GET"], headers: [])) }
        let metrics = rng.percent(70) || matches.count < 3
        if metrics { matches.append(RouteMatch(name: "metrics", path: .metrics, methods: ["GET"], headers: [])) }
        let groupName = "\(service.name)-routes"
        mesh.groups.append(
            RouteGroup(namespace: ns, name: groupName, matches: Array(matches.prefix(6)), headerListForm: rng.percent(50)))

        // Gate the HTTP port with a TCPRoute for some services.
        let httpPort = service.ports[0]
        let gated = rng.percent(30)
        let gateName = "\(service.name)-http"
        if gated { mesh.portRoutes.append(PortRoute(kind: .tcp, namespace: ns, name: gateName, ports: [httpPort])) }
        var metricsPortRoute = false

        // Roles, clients first.
        enum Role { case clients, headers, metrics, health, writers }
        var roles: [Role] = [.clients]
        var optional: [Role] = []
        if !headerMatches.isEmpty { optional.append(.headers) }
        if metrics { optional.append(.metrics) }
        if health { optional.append(.health) }
        if api.count > 1 { optional.append(.writers) }
        roles += rng.shuffled(optional)
        if service.forceHeaders, let at = roles.firstIndex(of: .headers) {
            roles.remove(at: at)
            roles.insert(.headers, at: 1)
        }
        // Fill up to `count` with extra client TrafficTargets when the service has few roles.
        while roles.count < count { roles.append(.clients) }
        var clientIndex = 0
        for role in roles.prefix(count) {
            var name: String
            var selected: [String]?
            var sources: [String]
            var rules: [Rule] = []
            var gate = gated
            switch role {
            case .clients:
                clientIndex += 1
                name = clientIndex == 1 ? "\(service.name)-clients" : "\(service.name)-clients-\(clientIndex)"
                let apiNames = api.map(\.name)
                selected =
                    rng.percent(20) && headerMatches.isEmpty
                    ? nil : Array(rng.shuffled(apiNames).prefix(rng.int(1...apiNames.count)))
                sources = drawSources(
                    rng.int(1...3), pool: pool, excluding: service.id, otherNamespaces: otherNamespaces, rng: &rng)
            case .headers:
                name = "\(service.name)-\(headerMatches[0].name)"
                selected = headerMatches.map(\.name)
                sources = drawSources(
                    rng.int(1...2), pool: pool, excluding: service.id, otherNamespaces: otherNamespaces, rng: &rng)
            case .metrics:
                name = "\(service.name)-metrics"
                selected = ["metrics"]
                sources = ["monitoring/prometheus"]
                // Prometheus scrapes a separate port: a TCPRoute on 9090 gates it.
                if rng.percent(60) {
                    if !metricsPortRoute {
                        mesh.portRoutes.append(
                            PortRoute(kind: .tcp, namespace: ns, name: "\(service.name)-metrics-port", ports: [9090]))
                        metricsPortRoute = true
                    }
                    rules.append(.tcp("\(service.name)-metrics-port"))
                    gate = false
                }
            case .health:
                name = "\(service.name)-health"
                selected = ["health"]
                sources = [ns + "/" + callerNames[0]] + (rng.percent(30) ? ["monitoring/prometheus"] : [])
            case .writers:
                name = "\(service.name)-writers"
                let writes = api.filter { !$0.methods.contains("GET") }.map(\.name)
                selected = writes.isEmpty ? [api[api.count - 1].name] : writes
                sources = drawSources(
                    rng.int(1...2), pool: pool, excluding: service.id, otherNamespaces: otherNamespaces, rng: &rng)
            }
            if gate { rules.append(.tcp(gateName)) }
            rules.append(.http(group: groupName, matches: selected))
            // Older access versions express the port in `destination.port` instead of a TCPRoute.
            var version = 3
            var port: Int?
            if rules.count == 1 {
                let v = rng.below(100)
                if v < 5 { version = 1 } else if v < 15 { version = 2 }
                if version < 3 && rng.percent(70) { port = httpPort }
            }
            mesh.targets.append(
                Target(
                    namespace: ns, name: name, version: version, destination: service.id, port: port,
                    sources: sources, rules: rules))
        }
    }

    mutating func buildPortService(_ service: Service, targets count: Int, sources pool: [String], rng: inout SplitMix64) {
        let ns = service.namespace
        let kind: PortRoute.Kind = service.kind == .udp ? .udp : .tcp
        let routeName = "\(service.name)-\(kind == .udp ? "udp" : "tcp")"
        mesh.portRoutes.append(PortRoute(kind: kind, namespace: ns, name: routeName, ports: service.ports))
        for i in 0..<count {
            let name = i == 0 ? "\(service.name)-clients" : "\(service.name)-backup"
            let sources =
                i == 0
                ? drawSources(rng.int(1...3), pool: pool, excluding: service.id, otherNamespaces: [ns], rng: &rng)
                : [ns + "/" + "backup-agent"]
            mesh.targets.append(
                Target(
                    namespace: ns, name: name, version: 3, destination: service.id, port: nil,
                    sources: sources, rules: [kind == .udp ? .udp(routeName) : .tcp(routeName)]))
        }
    }

    /// About `targets / 10` splits over HTTP services; some with matches (the service's own group,
    /// or a canary group with a header match).
    mutating func buildSplits(_ services: [Service]) {
        var srng = rng.fork()
        let wanted = min(services.count, max(1, mesh.targetCount / 10))
        let chosen = srng.shuffled(services).prefix(wanted).sorted { $0.id < $1.id }
        let weightChoices = [0, 5, 10, 20, 25, 50, 75, 90, 100, 1, 3]
        for service in chosen {
            let count = srng.int(2...5)
            var backends: [(String, Int)] = []
            for i in 1...count { backends.append(("\(service.name)-v\(i)", weightChoices[srng.below(weightChoices.count)])) }
            if backends.allSatisfy({ $0.1 == 0 }) { backends[0].1 = 100 }
            var matches: [String] = []
            let roll = srng.below(100)
            if roll < 15 {
                matches = ["\(service.name)-routes"]
            } else if roll < 30 {
                let canary = "\(service.name)-canary"
                mesh.groups.append(
                    RouteGroup(
                        namespace: service.namespace, name: canary,
                        matches: [
                            RouteMatch(
                                name: "canary", path: nil, methods: [],
                                headers: [HeaderCondition(name: "x-canary", pattern: .canary)])
                        ],
                        headerListForm: srng.percent(50)))
                matches = [canary]
            }
            mesh.splits.append(
                Split(
                    namespace: service.namespace, name: "\(service.name)-rollout", service: service.name,
                    backends: backends, matches: matches))
        }
    }
}
