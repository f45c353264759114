import SMIBytecode
import SMIModel

/// Pass 2: normalized policy -> decision DAG, and the program sections its leaves index
/// (names, methods, grants, route sets, split conditions).
///
/// Access: SWITCH_DEST -> SWITCH_SOURCE -> SWITCH_PROTO -> SWITCH_PORT -> SWITCH_METHOD ->
/// MATCH_ROUTES -> ALLOW/DENY. Each leaf is computed for one (destination, source, protocol,
/// port, method) class by scanning only the TrafficTargets of that destination and source, so a
/// decision never looks at rules that cannot apply. Ports that no rule names share one leaf.
struct TreeBuilder {
    var tree = DecisionTree()
    var program: Program
    private(set) var strings = StringInterner()
    private var nameIndex: [String: UInt32] = [:]
    private var methodIndex: [String: UInt32] = [:]
    private var grantIndex: [Grant: UInt32] = [:]
    private var routeSetIndex: [RouteSet: UInt32] = [:]
    private var conditionIndex: [SplitCondition: UInt32] = [:]
    var diagnostics: [Diagnostic] = []

    init(options: ProgramOptions) {
        program = Program(options: options)
        // Node 0 is terminal, so the last instruction laid out ends evaluation.
        _ = tree.intern(.deny(.noTrafficTarget))
    }

    mutating func finish() -> Program {
        program.strings = strings.strings
        return program
    }

    // MARK: Sections

    mutating func name(_ s: String) -> UInt32 {
        if let i = nameIndex[s] { return i }
        let i = UInt32(program.names.count)
        program.names.append(strings.intern(s))
        nameIndex[s] = i
        return i
    }

    mutating func method(_ s: String) -> UInt32 {
        if let i = methodIndex[s] { return i }
        let i = UInt32(program.methods.count)
        program.methods.append(strings.intern(s))
        methodIndex[s] = i
        return i
    }

    mutating func grant(_ target: NormalizedTarget, _ kind: GrantRuleKind, match: String?) -> UInt32 {
        let g = Grant(trafficTarget: strings.intern(target.id.qualifiedName), ruleKind: kind, match: match.map { strings.intern($0) } ?? noIndex)
        if let i = grantIndex[g] { return i }
        let i = UInt32(program.grants.count)
        program.grants.append(g)
        grantIndex[g] = i
        return i
    }

    mutating func routeSet(_ set: RouteSet) -> UInt32 {
        if let i = routeSetIndex[set] { return i }
        let i = UInt32(program.routeSets.count)
        program.routeSets.append(set)
        routeSetIndex[set] = i
        return i
    }

    mutating func candidate(_ m: NormalizedMatch, grant: UInt32, withMethods: Bool) -> RouteCandidate {
        RouteCandidate(
            grant: grant,
            path: m.pathRegex.map { strings.intern($0) } ?? noIndex,
            methods: withMethods ? (m.methods ?? []).sorted().map { method($0) } : [],
            headers: m.headers.map { HeaderTest(name: strings.intern($0.name), pattern: strings.intern($0.pattern)) })
    }

    // MARK: Access

    mutating func buildAccess(_ policy: NormalizedPolicy) -> Int {
        var byDestination: [String: [NormalizedTarget]] = [:]
        var order: [String] = []
        for t in policy.targets {
            guard let d = t.destination else { continue }
            if byDestination[d] == nil { order.append(d) }
            byDestination[d, default: []].append(t)
        }
        var cases: [SwitchCase] = []
        for destination in order {
            guard let targets = byDestination[destination] else { continue }
            cases.append(SwitchCase(key: name(destination), node: buildDestination(destination, targets)))
        }
        let none = tree.intern(.deny(.noTrafficTarget))
        return tree.switchOn(.switchDestination, cases, otherwise: none, note: "destinations of \(policy.targets.count) TrafficTargets")
    }

    private mutating func buildDestination(_ destination: String, _ targets: [NormalizedTarget]) -> Int {
        var sources: [String] = []
        var seen = Set<String>()
        for t in targets { for s in t.sources where seen.insert(s).inserted { sources.append(s) } }
        var cases: [SwitchCase] = []
        for source in sources {
            let mine = targets.filter { $0.sources.contains(source) }
            cases.append(SwitchCase(key: name(source), node: buildSource(mine)))
        }
        let deny = tree.intern(.deny(.sourceNotAllowed))
        if cases.isEmpty { return deny }
        return tree.intern(
            .switchOn(.switchSource, cases: cases.sorted { $0.key < $1.key }, otherwise: deny),
            note: "destination \(destination): "
                + targets.map { "TrafficTarget \($0.id.qualifiedName)" }.joined(separator: ", "))
    }

    private mutating func buildSource(_ targets: [NormalizedTarget]) -> Int {
        let protocols: [(ProtocolCode, Int)] = ProtocolCode.allCases.map { ($0, buildProtocol($0, targets)) }
        let cases = protocols.map { SwitchCase(key: $0.0.rawValue, node: $0.1) }
        // Every protocol has a case; the fall-through is unreachable for valid requests.
        let fallback = tree.intern(.deny(.noRouteMatched))
        if Set(protocols.map(\.1)).count == 1, let only = protocols.first { return only.1 }
        return tree.intern(.switchOn(.switchProtocol, cases: cases, otherwise: fallback))
    }

    private mutating func buildProtocol(_ proto: ProtocolCode, _ targets: [NormalizedTarget]) -> Int {
        var ports = Set<Int>()
        for t in targets {
            if let p = t.port { ports.insert(p) }
            for c in (proto == .udp ? t.udpCoverages : t.tcpCoverages) {
                if case .ports(let set) = c { ports.formUnion(set) }
            }
        }
        let other = buildLeaf(proto, port: nil, targets)
        var cases: [SwitchCase] = []
        for port in ports.sorted() where (0...65535).contains(port) {
            cases.append(SwitchCase(key: UInt32(port), node: buildLeaf(proto, port: port, targets)))
        }
        return tree.switchOn(.switchPort, cases, otherwise: other)
    }

    /// One (protocol, port) class; `port == nil` stands for every port no rule names.
    private mutating func buildLeaf(_ proto: ProtocolCode, port: Int?, _ targets: [NormalizedTarget]) -> Int {
        var reachedRoute = false
        // Candidates in priority order: TrafficTarget order, then rule order, then group order.
        var candidates: [(target: NormalizedTarget, match: NormalizedMatch?, kind: GrantRuleKind)] = []
        scan: for t in targets {
            // Stage 2: port.
            if let p = t.port, p != port { continue }
            let binding = proto == .udp ? t.udpCoverages : t.tcpCoverages
            if !binding.isEmpty && !binding.contains(where: { $0.covers(port) }) { continue }
            reachedRoute = true
            // Stage 3: route.
            switch proto {
            case .tcp, .udp:
                let covering = proto == .udp ? t.udpCoverages : t.tcpCoverages
                if !t.hasHTTPRules && covering.contains(where: { $0.covers(port) }) {
                    candidates.append((t, nil, proto == .udp ? .udpRoute : .tcpRoute))
                    break scan
                }
            case .http:
                if t.hasHTTPRules {
                    for m in t.httpMatches {
                        candidates.append((t, m, .httpRouteGroup))
                        if m.isUnconditional { break scan }
                    }
                } else if t.tcpCoverages.contains(where: { $0.covers(port) }) {
                    candidates.append((t, nil, .tcpRoute))
                    break scan
                }
            }
        }
        let failure = tree.intern(.deny(reachedRoute ? .noRouteMatched : .portNotAllowed))
        if proto != .http {
            guard let first = candidates.first else { return failure }
            return allowNode(first.target, first.kind, match: nil)
        }
        // HTTP: dispatch on method, then one route set per method class.
        var methods = Set<String>()
        for c in candidates { if let ms = c.match?.methods { methods.formUnion(ms) } }
        let anyMethod = buildRoutes(candidates.filter { $0.match?.methods == nil }, failure: failure)
        var cases: [SwitchCase] = []
        for m in methods.sorted() {
            let accepted = candidates.filter { $0.match?.methods.map { $0.contains(m) } ?? true }
            cases.append(SwitchCase(key: method(m), node: buildRoutes(accepted, failure: failure)))
        }
        return tree.switchOn(.switchMethod, cases, otherwise: anyMethod)
    }

    private mutating func allowNode(_ t: NormalizedTarget, _ kind: GrantRuleKind, match: String?) -> Int {
        let g = grant(t, kind, match: match)
        return tree.intern(.allow(grant: g), note: "TrafficTarget \(t.id.qualifiedName) (\(t.location))")
    }

    /// MATCH_ROUTES over the candidates (methods already dispatched), cut at the first one
    /// that always holds, which becomes the fall-through ALLOW.
    private mutating func buildRoutes(
        _ candidates: [(target: NormalizedTarget, match: NormalizedMatch?, kind: GrantRuleKind)], failure: Int
    ) -> Int {
        var conditional: [RouteCandidate] = []
        var notes: [String] = []
        var otherwise = failure
        for c in candidates {
            guard let m = c.match else {
                otherwise = allowNode(c.target, c.kind, match: nil)
                break
            }
            let g = grant(c.target, .httpRouteGroup, match: m.name)
            if m.pathRegex == nil && m.headers.isEmpty {
                otherwise = tree.intern(.allow(grant: g), note: "TrafficTarget \(c.target.id.qualifiedName) match \(m.name)")
                break
            }
            conditional.append(candidate(m, grant: g, withMethods: false))
            notes.append("\(c.target.id.qualifiedName)/\(m.name)")
        }
        if conditional.isEmpty { return otherwise }
        let set = routeSet(RouteSet(candidates: conditional))
        return tree.intern(.routes(set: set, otherwise: otherwise), note: "routes of " + notes.joined(separator: ", "))
    }

    // MARK: Split

    mutating func buildSplit(_ policy: NormalizedPolicy) -> Int {
        var byRoot: [String: [NormalizedSplit]] = [:]
        var order: [String] = []
        for s in policy.splits {
            if byRoot[s.root] == nil { order.append(s.root) }
            byRoot[s.root, default: []].append(s)
        }
        let root = tree.intern(.root)
        var cases: [SwitchCase] = []
        for service in order {
            guard let splits = byRoot[service] else { continue }
            let withMatches = splits.filter(\.hasMatches)
            let plain = splits.filter { !$0.hasMatches }
            var chain = root
            if let first = plain.first {
                chain = pickNode(first)
                for shadowed in plain.dropFirst() {
                    diagnostics.append(Diagnostic(
                        .warning, .shadowedSplit,
                        "TrafficSplit `\(first.id.qualifiedName)` already splits `\(service)`; this split never applies",
                        at: shadowed.location, resource: shadowed.id))
                }
            }
            for split in withMatches.reversed() {
                let condition = splitCondition(split)
                chain = tree.intern(
                    .splitWhen(condition: condition, then: pickNode(split), otherwise: chain),
                    note: "TrafficSplit \(split.id.qualifiedName) matches")
            }
            cases.append(SwitchCase(key: name(service), node: chain))
        }
        return tree.switchOn(.switchService, cases, otherwise: root, note: "roots of \(policy.splits.count) TrafficSplits")
    }

    private mutating func pickNode(_ split: NormalizedSplit) -> Int {
        var rows: [UInt64] = []
        var total: UInt64 = 0
        for b in split.backends where b.weight > 0 {
            let (sum, overflow) = total.addingReportingOverflow(b.weight)
            if overflow {
                diagnostics.append(Diagnostic(
                    .error, .invalidValue, "the sum of the weights does not fit in 64 bits",
                    at: split.location, resource: split.id, field: "spec.backends"))
                return tree.intern(.root)
            }
            total = sum
            rows += [UInt64(name(b.service)), b.weight]
        }
        if rows.isEmpty { return tree.intern(.root) }
        return tree.intern(.pick(weights: rows, split: name(split.id.qualifiedName)), note: "TrafficSplit \(split.id.qualifiedName) (\(split.location))")
    }

    private mutating func splitCondition(_ split: NormalizedSplit) -> UInt32 {
        var set = noIndex
        if !split.httpMatches.isEmpty {
            set = routeSet(RouteSet(candidates: split.httpMatches.map { candidate($0, grant: noIndex, withMethods: true) }))
        }
        var anyPort = false
        var ports = Set<UInt32>()
        for c in split.tcpCoverages {
            switch c {
            case .all: anyPort = true
            case .ports(let p): ports.formUnion(p.filter { (0...65535).contains($0) }.map { UInt32($0) })
            }
        }
        let condition = SplitCondition(routeSet: set, anyPort: anyPort, ports: ports.sorted())
        if let i = conditionIndex[condition] { return i }
        let i = UInt32(program.splitConditions.count)
        program.splitConditions.append(condition)
        conditionIndex[condition] = i
        return i
    }
}
