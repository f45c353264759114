import SMIModel
import SMIRegex

/// Pass 1: model -> normalized policy. Resolves references in the resource's namespace, applies
/// defaults, checks every regex, and drops TrafficTargets that can grant nothing, reporting each
/// decision as a diagnostic.
struct Lowering {
    let model: PolicyModel
    let options: CompileOptions
    var diagnostics: [Diagnostic] = []

    private var groups: [String: HTTPRouteGroup] = [:]
    private var tcpRoutes: [String: PortRoute] = [:]
    private var udpRoutes: [String: PortRoute] = [:]
    private var loweredMatches: [String: [NormalizedMatch]] = [:]
    /// What checking each distinct pattern found (a mesh repeats the same few patterns in many
    /// groups; each check compiles the pattern twice with PCRE2).
    private var regexVerdicts: [String: (error: RegexSyntaxError?, features: RegexFeatures?)] = [:]

    init(model: PolicyModel, options: CompileOptions) {
        self.model = model
        self.options = options
        for g in model.httpRouteGroups { groups[g.origin.id.qualifiedName] = g }
        for r in model.tcpRoutes { tcpRoutes[r.origin.id.qualifiedName] = r }
        for r in model.udpRoutes { udpRoutes[r.origin.id.qualifiedName] = r }
    }

    mutating func run() -> NormalizedPolicy {
        for group in model.httpRouteGroups {
            loweredMatches[group.origin.id.qualifiedName] = lower(group)
        }
        // TrafficTargets are lowered independently of each other: slices of them on the
        // compile's threads, merged in order, so targets and diagnostics come out as one thread
        // gives them.
        let sorted = model.trafficTargets.sorted { $0.origin.id < $1.origin.id }
        let context = TargetLowering(
            options: options, loweredMatches: loweredMatches, tcpRoutes: tcpRoutes, udpRoutes: udpRoutes)
        let slice = 1024
        let threads = options.threads > 0 ? options.threads : OrderedWork.automaticThreadCount()
        var targets: [NormalizedTarget] = []
        targets.reserveCapacity(sorted.count)
        OrderedWork.run(
            count: (sorted.count + slice - 1) / slice, threads: threads,
            work: { index -> ([NormalizedTarget], [Diagnostic]) in
                var lowering = context
                var lowered: [NormalizedTarget] = []
                for target in sorted[(index * slice)..<min(sorted.count, (index + 1) * slice)] {
                    if let normalized = lowering.lower(target) { lowered.append(normalized) }
                }
                return (lowered, lowering.diagnostics)
            },
            consume: { lowered, found in
                targets += lowered
                diagnostics += found
            })
        let splits = lowerSplits()
        return NormalizedPolicy(targets: targets, splits: splits)
    }

    // MARK: HTTPRouteGroups

    private mutating func lower(_ group: HTTPRouteGroup) -> [NormalizedMatch] {
        // specs v1alpha1/2 keep `matches` at the top level, later versions under `spec`.
        let prefix = group.origin.version.alpha <= 2 ? "matches" : "spec.matches"
        return group.matches.enumerated().map { index, match in
            let field = "\(prefix)[\(index)]"
            var path = match.pathRegex?.value
            if let regex = match.pathRegex {
                check(regex, resource: group.origin.id, field: "\(field).pathRegex")
            }
            if path == "" { path = nil }
            var methods: Set<String>? = nil
            if let list = match.methods, !list.isEmpty, !list.contains(where: { $0.value == "*" }) {
                methods = Set(list.map(\.value))
            }
            var headers: [NormalizedHeader] = []
            for header in match.headers {
                check(header.valueRegex, resource: group.origin.id, field: "\(field).headers.\(header.name)")
                headers.append(NormalizedHeader(name: header.name.asciiLowercased, pattern: header.valueRegex.value))
            }
            return NormalizedMatch(name: match.name, pathRegex: path, methods: methods, headers: headers, location: match.location)
        }
    }

    private mutating func check(_ regex: Located<String>, resource: ResourceID, field: @autoclosure () -> String) {
        let verdict: (error: RegexSyntaxError?, features: RegexFeatures?)
        if let known = regexVerdicts[regex.value] {
            verdict = known
        } else {
            let error = Regex.check(regex.value)
            verdict = (error, error == nil ? Regex.features(of: regex.value) : nil)
            regexVerdicts[regex.value] = verdict
        }
        if let error = verdict.error {
            diagnostics.append(Diagnostic(
                .error, .invalidRegex,
                "invalid regex `\(regex.value)`: \(error.message) at offset \(error.offset)",
                at: regex.location, resource: resource, field: field()))
            return
        }
        guard let features = verdict.features else { return }
        if features.backreferences || features.lookaround {
            let what = features.backreferences ? "backreferences" : "lookaround"
            diagnostics.append(Diagnostic(
                .warning, .regexPortability,
                "regex `\(regex.value)` uses \(what), which RE2-based meshes reject",
                at: regex.location, resource: resource, field: field()))
        }
        if features.catastrophicBacktracking {
            diagnostics.append(Diagnostic(
                .warning, .regexCatastrophicBacktracking,
                "regex `\(regex.value)` can backtrack catastrophically (nested unbounded repetition or a repeated "
                    + "alternation whose branches overlap); past the match budget it does not match and the request "
                    + "is denied with regex-budget-exceeded",
                at: regex.location, resource: resource, field: field()))
        }
    }

    // MARK: TrafficSplits

    private mutating func lowerSplits() -> [NormalizedSplit] {
        var result: [NormalizedSplit] = []
        for split in model.trafficSplits.sorted(by: { $0.origin.id < $1.origin.id }) {
            let id = split.origin.id
            let ns = id.namespace
            var httpMatches: [NormalizedMatch] = []
            var tcp: [PortCoverage] = []
            for (i, ref) in (split.matches ?? []).enumerated() {
                let key = "\(ns)/\(ref.name)"
                switch ref.kind {
                case .httpRouteGroup:
                    if let matches = loweredMatches[key] {
                        httpMatches += matches
                    } else {
                        diagnostics.append(Diagnostic(
                            .warning, .missingReference,
                            "HTTPRouteGroup `\(key)` does not exist; it matches nothing",
                            at: ref.location, resource: id, field: "spec.matches[\(i)]"))
                    }
                case .tcpRoute:
                    if let route = tcpRoutes[key] {
                        tcp.append(TargetLowering.coverage(route))
                    } else {
                        diagnostics.append(Diagnostic(
                            .warning, .missingReference,
                            "TCPRoute `\(key)` does not exist; it matches nothing",
                            at: ref.location, resource: id, field: "spec.matches[\(i)]"))
                    }
                }
            }
            result.append(NormalizedSplit(
                id: id, location: split.origin.location, root: "\(ns)/\(split.service.value)",
                backends: split.backends.map { ("\(ns)/\($0.service)", $0.weight) },
                hasMatches: !(split.matches ?? []).isEmpty, httpMatches: httpMatches, tcpCoverages: tcp))
        }
        return result
    }
}

/// Lowers TrafficTargets, one at a time, against the lowered route groups and the routes; a value
/// that any thread can copy, collecting its own diagnostics.
struct TargetLowering: Sendable {
    let options: CompileOptions
    let loweredMatches: [String: [NormalizedMatch]]
    let tcpRoutes: [String: PortRoute]
    let udpRoutes: [String: PortRoute]
    var diagnostics: [Diagnostic] = []

    init(
        options: CompileOptions, loweredMatches: [String: [NormalizedMatch]], tcpRoutes: [String: PortRoute],
        udpRoutes: [String: PortRoute]
    ) {
        self.options = options
        self.loweredMatches = loweredMatches
        self.tcpRoutes = tcpRoutes
        self.udpRoutes = udpRoutes
    }

    // MARK: TrafficTargets

    mutating func lower(_ target: TrafficTarget) -> NormalizedTarget? {
        let id = target.origin.id
        let where_ = target.origin.location
        if target.sources.isEmpty {
            diagnostics.append(Diagnostic(.warning, .droppedTarget, "has no sources and grants nothing; it is ignored", at: where_, resource: id))
            return nil
        }
        if target.rules.isEmpty {
            diagnostics.append(Diagnostic(.warning, .droppedTarget, "has no rules and grants nothing; it is ignored", at: where_, resource: id))
            return nil
        }
        if target.destination.namespace != id.namespace && !options.allowCrossNamespaceDestinations {
            diagnostics.append(Diagnostic(
                .warning, .droppedTarget,
                "destination namespace `\(target.destination.namespace)` differs from the TrafficTarget's namespace `\(id.namespace)`; it grants nothing and is ignored",
                at: target.destination.namespaceLocation ?? target.destination.location, resource: id,
                field: "destination.namespace"))
            return nil
        }
        var destination: String? = target.destination.qualifiedName
        if target.destination.kind == .identityBinding {
            diagnostics.append(Diagnostic(
                .warning, .identityBinding,
                "destination is the IdentityBinding `\(target.destination.name)`, which matches no identity yet",
                at: target.destination.location, resource: id, field: "destination"))
            destination = nil
        }
        var sources: [String] = []
        for (i, source) in target.sources.enumerated() {
            if source.kind == .identityBinding {
                diagnostics.append(Diagnostic(
                    .warning, .identityBinding,
                    "source is the IdentityBinding `\(source.name)`, which matches no identity yet",
                    at: source.location, resource: id, field: "sources[\(i)]"))
            } else if !sources.contains(source.qualifiedName) {
                sources.append(source.qualifiedName)
            }
        }
        var rules: [NormalizedRule] = []
        for (i, rule) in target.rules.enumerated() {
            let field = "rules[\(i)]"
            let key = "\(id.namespace)/\(rule.name)"
            switch rule.kind {
            case .httpRouteGroup:
                guard let all = loweredMatches[key] else {
                    missing(rule, id: id, field: field)
                    rules.append(.http(group: rule.name, matches: []))
                    continue
                }
                guard let names = rule.matches else {
                    rules.append(.http(group: rule.name, matches: all))
                    continue
                }
                // Selected matches keep the group's order (the first granting match is reported).
                var wanted = Set<String>()
                for (k, name) in names.enumerated() {
                    if all.contains(where: { $0.name == name.value }) {
                        wanted.insert(name.value)
                    } else {
                        diagnostics.append(Diagnostic(
                            .warning, .missingReference,
                            "HTTPRouteGroup `\(key)` has no match named `\(name.value)`; it matches nothing",
                            at: name.location, resource: id, field: "\(field).matches[\(k)]"))
                    }
                }
                rules.append(.http(group: rule.name, matches: all.filter { wanted.contains($0.name) }))
            case .tcpRoute:
                guard let route = tcpRoutes[key] else {
                    missing(rule, id: id, field: field)
                    rules.append(.tcp(route: rule.name, coverage: .ports([])))
                    continue
                }
                rules.append(.tcp(route: rule.name, coverage: Self.coverage(route)))
            case .udpRoute:
                guard let route = udpRoutes[key] else {
                    missing(rule, id: id, field: field)
                    rules.append(.udp(route: rule.name, coverage: .ports([])))
                    continue
                }
                rules.append(.udp(route: rule.name, coverage: Self.coverage(route)))
            }
        }
        return NormalizedTarget(
            id: id, location: where_, destination: destination, sources: sources,
            port: target.port?.value, rules: rules)
    }

    static func coverage(_ route: PortRoute) -> PortCoverage {
        route.coversAllPorts ? .all : .ports(Set(route.ports.map(\.value)))
    }

    private mutating func missing(_ rule: TrafficTargetRule, id: ResourceID, field: String) {
        diagnostics.append(Diagnostic(
            .warning, .missingReference,
            "\(rule.kind.rawValue) `\(id.namespace)/\(rule.name)` does not exist; this rule matches nothing",
            at: rule.location, resource: id, field: field))
    }
}
