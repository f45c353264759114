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
    var tree: DecisionTree
    var program: Program
    private(set) var strings = StringInterner()
    private var nameIndex: [String: UInt32] = [:]
    private var methodIndex: [String: UInt32] = [:]
    private var grantIndex: [Grant: UInt32] = [:]
    private var routeSetIndex: [RouteSet: UInt32] = [:]
    private var conditionIndex: [SplitCondition: UInt32] = [:]
    var diagnostics: [Diagnostic] = []

    init(options: ProgramOptions, annotations: Bool) {
        program = Program(options: options)
        tree = DecisionTree(keepsNotes: annotations)
        // Node 0 is terminal, so the last instruction laid out ends evaluation.
        _ = tree.deny(.noTrafficTarget)
    }

    mutating func finish() -> Program {
        program.strings = strings.strings
        return program
    }

    // MARK: Sections

    mutating func name(_ s: String) -> UInt32 {
        let i = lookUpOrAdd(&nameIndex, s, next: UInt32(program.names.count))
        if i == program.names.count { program.names.append(strings.intern(s)) }
        return i
    }

    mutating func method(_ s: String) -> UInt32 {
        let i = lookUpOrAdd(&methodIndex, s, next: UInt32(program.methods.count))
        if i == program.methods.count { program.methods.append(strings.intern(s)) }
        return i
    }

    mutating func grant(_ g: Grant) -> UInt32 {
        let i = lookUpOrAdd(&grantIndex, g, next: UInt32(program.grants.count))
        if i == program.grants.count { program.grants.append(g) }
        return i
    }

    mutating func routeSet(_ set: RouteSet) -> UInt32 {
        let i = lookUpOrAdd(&routeSetIndex, set, next: UInt32(program.routeSets.count))
        if i == program.routeSets.count { program.routeSets.append(set) }
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

    /// A leaf candidate by number: the target (index into `targets`), the HTTP match (index into
    /// `matches`, -1 for an L4 grant) and the rule kind. Numbers instead of copies of the target
    /// and match: leaves are built hundreds of thousands of times.
    private struct LeafCandidate {
        var target: Int32
        var match: Int32
        var kind: GrantRuleKind
    }

    /// A TrafficTarget as leaves read it; a class so that reading one costs a single retain.
    private final class TargetEntry {
        let target: NormalizedTarget
        let port: Int?
        let hasHTTPRules: Bool
        let tcpCoverages: [PortCoverage]
        let udpCoverages: [PortCoverage]
        /// Index in `matches` of its first HTTP match; its matches follow in order.
        let firstMatch: Int
        let matchCount: Int

        init(_ target: NormalizedTarget, firstMatch: Int) {
            self.target = target
            port = target.port
            hasHTTPRules = target.hasHTTPRules
            tcpCoverages = target.tcpCoverages
            udpCoverages = target.udpCoverages
            self.firstMatch = firstMatch
            matchCount = target.httpMatches.count
        }
    }

    private var targets: [TargetEntry] = []
    /// Every target's HTTP matches, target after target; `matchTarget` names the owner.
    private var matches: [NormalizedMatch] = []
    private var matchTarget: [Int32] = []
    /// Filled on first use, so strings, grants and route sets are numbered in first-use order
    /// exactly as when they were computed on every use.
    private var targetNames: [UInt32?] = []
    private var matchGrants: [UInt32?] = []
    private var matchCandidates: [RouteCandidate?] = []
    /// The node built for a set of targets (indices into `targets`) of one destination: sources
    /// granted by the same targets get the same subtree, so it is built once.
    private var sourceNodes: [[Int32]: Int] = [:]

    mutating func buildAccess(_ policy: NormalizedPolicy) -> Int {
        targets.reserveCapacity(policy.targets.count)
        for t in policy.targets {
            let entry = TargetEntry(t, firstMatch: matches.count)
            matches += t.httpMatches
            matchTarget += repeatElement(Int32(targets.count), count: entry.matchCount)
            targets.append(entry)
        }
        targetNames = Array(repeating: nil, count: targets.count)
        matchGrants = Array(repeating: nil, count: matches.count)
        matchCandidates = Array(repeating: nil, count: matches.count)

        var byDestination: [String: [Int32]] = [:]
        var order: [String] = []
        for (i, t) in policy.targets.enumerated() {
            guard let d = t.destination else { continue }
            if byDestination[d] == nil { order.append(d) }
            byDestination[d, default: []].append(Int32(i))
        }
        var cases: [SwitchCase] = []
        for destination in order {
            guard let members = byDestination[destination] else { continue }
            cases.append(SwitchCase(key: name(destination), node: buildDestination(destination, members)))
        }
        let none = tree.deny(.noTrafficTarget)
        return tree.switchOn(.switchDestination, cases, otherwise: none, note: "destinations of \(policy.targets.count) TrafficTargets")
    }

    /// String index of target `i`'s `namespace/name`.
    private mutating func targetName(_ i: Int) -> UInt32 {
        if let known = targetNames[i] { return known }
        let index = strings.intern(targets[i].target.id.qualifiedName)
        targetNames[i] = index
        return index
    }

    private mutating func buildDestination(_ destination: String, _ members: [Int32]) -> Int {
        var sources: [String] = []
        var seen = Set<String>()
        for i in members { for s in targets[Int(i)].target.sources where seen.insert(s).inserted { sources.append(s) } }
        var cases: [SwitchCase] = []
        for source in sources {
            let mine = members.filter { targets[Int($0)].target.sources.contains(source) }
            let node: Int
            if let known = sourceNodes[mine] {
                node = known
            } else {
                node = buildSource(mine)
                sourceNodes[mine] = node
            }
            cases.append(SwitchCase(key: name(source), node: node))
        }
        let deny = tree.deny(.sourceNotAllowed)
        if cases.isEmpty { return deny }
        return tree.intern(
            .switchOn(.switchSource, cases: cases.sorted { $0.key < $1.key }, otherwise: deny),
            note: "destination \(destination): "
                + members.map { "TrafficTarget \(targets[Int($0)].target.id.qualifiedName)" }.joined(separator: ", "))
    }

    private mutating func buildSource(_ members: [Int32]) -> Int {
        let protocols: [(ProtocolCode, Int)] = ProtocolCode.allCases.map { ($0, buildProtocol($0, members)) }
        let cases = protocols.map { SwitchCase(key: $0.0.rawValue, node: $0.1) }
        // Every protocol has a case (SWITCH_PROTO is a direct table of three targets); the
        // default is never used.
        let fallback = tree.deny(.noRouteMatched)
        if let only = protocols.first, protocols.allSatisfy({ $0.1 == only.1 }) { return only.1 }
        return tree.intern(.switchOn(.switchProtocol, cases: cases, otherwise: fallback))
    }

    private mutating func buildProtocol(_ proto: ProtocolCode, _ members: [Int32]) -> Int {
        var ports = Set<Int>()
        for i in members {
            let t = targets[Int(i)]
            if let p = t.port { ports.insert(p) }
            for c in (proto == .udp ? t.udpCoverages : t.tcpCoverages) {
                if case .ports(let set) = c { ports.formUnion(set) }
            }
        }
        let other = buildLeaf(proto, port: nil, members)
        var cases: [SwitchCase] = []
        for port in ports.sorted() where (0...65535).contains(port) {
            cases.append(SwitchCase(key: UInt32(port), node: buildLeaf(proto, port: port, members)))
        }
        return tree.switchOn(.switchPort, cases, otherwise: other)
    }

    /// One (protocol, port) class; `port == nil` stands for every port no rule names.
    private mutating func buildLeaf(_ proto: ProtocolCode, port: Int?, _ members: [Int32]) -> Int {
        var reachedRoute = false
        // Candidates in priority order: TrafficTarget order, then rule order, then group order.
        var candidates: [LeafCandidate] = []
        scan: for i in members {
            let t = targets[Int(i)]
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
                    candidates.append(LeafCandidate(target: i, match: -1, kind: proto == .udp ? .udpRoute : .tcpRoute))
                    break scan
                }
            case .http:
                if t.hasHTTPRules {
                    for m in t.firstMatch..<(t.firstMatch + t.matchCount) {
                        candidates.append(LeafCandidate(target: i, match: Int32(m), kind: .httpRouteGroup))
                        if matches[m].isUnconditional { break scan }
                    }
                } else if t.tcpCoverages.contains(where: { $0.covers(port) }) {
                    candidates.append(LeafCandidate(target: i, match: -1, kind: .tcpRoute))
                    break scan
                }
            }
        }
        let failure = tree.deny(reachedRoute ? .noRouteMatched : .portNotAllowed)
        if proto != .http {
            guard let first = candidates.first else { return failure }
            return allowNode(Int(first.target), first.kind)
        }
        // HTTP: dispatch on method, then one route set per method class.
        var methods = Set<String>()
        for c in candidates where c.match >= 0 {
            if let ms = matches[Int(c.match)].methods { methods.formUnion(ms) }
        }
        let anyMethod = buildRoutes(candidates.filter { $0.match < 0 || matches[Int($0.match)].methods == nil }, failure: failure)
        var cases: [SwitchCase] = []
        for m in methods.sorted() {
            let accepted = candidates.filter { $0.match < 0 || (matches[Int($0.match)].methods.map { $0.contains(m) } ?? true) }
            cases.append(SwitchCase(key: method(m), node: buildRoutes(accepted, failure: failure)))
        }
        return tree.switchOn(.switchMethod, cases, otherwise: anyMethod)
    }

    private mutating func allowNode(_ target: Int, _ kind: GrantRuleKind) -> Int {
        let g = grant(Grant(trafficTarget: targetName(target), ruleKind: kind, match: noIndex))
        let t = targets[target].target
        return tree.intern(.allow(grant: g), note: "TrafficTarget \(t.id.qualifiedName) (\(t.location))")
    }

    /// The grant of HTTP match `m` (index into `matches`) of its target.
    private mutating func matchGrant(_ m: Int) -> UInt32 {
        if let known = matchGrants[m] { return known }
        let target = targetName(Int(matchTarget[m]))
        let g = grant(Grant(trafficTarget: target, ruleKind: .httpRouteGroup, match: strings.intern(matches[m].name)))
        matchGrants[m] = g
        return g
    }

    /// MATCH_ROUTES over the candidates (methods already dispatched), cut at the first one
    /// that always holds, which becomes MATCH_ROUTES's default target, an ALLOW.
    private mutating func buildRoutes(_ candidates: [LeafCandidate], failure: Int) -> Int {
        var conditional: [RouteCandidate] = []
        var noted: [LeafCandidate] = []
        var otherwise = failure
        for c in candidates {
            guard c.match >= 0 else {
                otherwise = allowNode(Int(c.target), c.kind)
                break
            }
            let index = Int(c.match)
            let g = matchGrant(index)
            let m = matches[index]
            if m.pathRegex == nil && m.headers.isEmpty {
                otherwise = tree.intern(.allow(grant: g), note: "TrafficTarget \(targets[Int(c.target)].target.id.qualifiedName) match \(m.name)")
                break
            }
            if let known = matchCandidates[index] {
                conditional.append(known)
            } else {
                let made = candidate(m, grant: g, withMethods: false)
                matchCandidates[index] = made
                conditional.append(made)
            }
            if tree.keepsNotes { noted.append(c) }
        }
        if conditional.isEmpty { return otherwise }
        let set = routeSet(RouteSet(candidates: conditional))
        // The note is built only for a new node.
        return tree.intern(.routes(set: set, otherwise: otherwise), note: "routes of " + noted.map {
            "\(targets[Int($0.target)].target.id.qualifiedName)/\(matches[Int($0.match)].name)"
        }.joined(separator: ", "))
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
        let i = lookUpOrAdd(&conditionIndex, condition, next: UInt32(program.splitConditions.count))
        if i == program.splitConditions.count { program.splitConditions.append(condition) }
        return i
    }
}
