import SMIEngine
import SMIRegex

// The reference evaluator: SEMANTICS.md §2–§7 written as plainly as possible, on the test's own
// PolicyDescription. It scans every TrafficTarget for every request and shares no code with the
// engine's loader, compiler or runtime; the only engine-side piece it uses is SMIRegex.Regex, the
// PCRE2 primitive (§4 names PCRE2 as the dialect).

extension Differential {
    /// What the reference says about an access request.
    package struct ExpectedAccess: Equatable {
        package var allowed: Bool
        package var reason: DenyReason?
        package var trafficTarget: String?
        package var ruleKind: String?
        package var match: String?

        package init(allowed: Bool, reason: DenyReason?, trafficTarget: String?, ruleKind: String?, match: String?) {
            self.allowed = allowed
            self.reason = reason
            self.trafficTarget = trafficTarget
            self.ruleKind = ruleKind
            self.match = match
        }
    }

    /// What the reference says about a split request.
    package struct ExpectedSplit {
        /// The backend the documented selection rule picks: r = high 64 bits of
        /// (entropy × total), the first backend (listed order, zero weights skipped) whose
        /// cumulative weight exceeds r.
        package var backend: String
        /// Every answer §6 allows for this request: the backends with a nonzero weight in the split
        /// that applies, or only the root.
        package var possible: Set<String>
        /// The split that decides: `.some(nil)` when none applies; nil when §6 leaves it open
        /// (a split whose weights are all 0 answers the root).
        package var trafficSplit: String??
    }

    /// The facts of an HTTP request that route matches read (§2, §4).
    package struct HTTPFacts {
        package var method: String
        /// The normalized path (§5).
        package var path: String
        /// Lower-cased name → value; a name given twice is one value joined with `, ` (§2).
        package var headers: [String: String]

        package init(method: String, path: String, headers: [HTTPHeader]) {
            self.method = method
            self.path = path
            var joined: [String: String] = [:]
            for header in headers {
                let name = Differential.asciiLowercased(header.name)
                joined[name] = joined[name].map { $0 + ", " + header.value } ?? header.value
            }
            self.headers = joined
        }
    }

    /// How far one TrafficTarget got with a request (§7), in stage order.
    package enum Stage: Int, Comparable {
        case sourceNotAllowed = 1
        case portNotAllowed = 2
        case noRouteMatched = 3

        package static func < (a: Stage, b: Stage) -> Bool { a.rawValue < b.rawValue }

        package var reason: DenyReason {
            switch self {
            case .sourceNotAllowed: return .sourceNotAllowed
            case .portNotAllowed: return .portNotAllowed
            case .noRouteMatched: return .noRouteMatched
            }
        }
    }

    /// A route match's verdict. A regex out of budget does not match (fail closed, §7), but it
    /// leaves the match `unknown` rather than `no`: a match that fails on another condition
    /// anyway does not make the budget the reason of a deny, whatever order conditions run in.
    package enum Verdict {
        case yes, no, unknown
    }

    package enum TargetOutcome {
        case granted(RouteKind, match: String?)
        case stopped(Stage)
    }

    package final class ReferenceEvaluator {
        package let policy: PolicyDescription
        package let options: PolicyOptions
        private let groups: [ObjectID: HTTPRouteGroup]
        private let tcpRoutes: [ObjectID: PortRoute]
        private let udpRoutes: [ObjectID: PortRoute]
        /// The TrafficTargets that take part in decisions, in `namespace/name` order.
        private let targets: [TrafficTarget]
        private let scratch: RegexScratch
        private var regexes: [String: Regex] = [:]
        /// Set when a selected match of a TrafficTarget that reached the route stage was left
        /// `unknown` by a regex out of budget during the current decision (§7).
        private var budgetExceeded = false
        /// Per TrafficTarget naming the destination: how far it got (for failure reports).
        package private(set) var trace: [String] = []

        package init(_ policy: PolicyDescription) {
            self.policy = policy
            options = policy.options
            groups = Dictionary(policy.groups.map { ($0.metadata.id, $0) }, uniquingKeysWith: { $1 })
            tcpRoutes = Dictionary(
                policy.portRoutes.filter { $0.kind == .tcpRoute }.map { ($0.metadata.id, $0) },
                uniquingKeysWith: { $1 }
            )
            udpRoutes = Dictionary(
                policy.portRoutes.filter { $0.kind == .udpRoute }.map { ($0.metadata.id, $0) },
                uniquingKeysWith: { $1 }
            )
            guard
                let scratch = RegexScratch(matchLimit: policy.options.matchLimit, depthLimit: policy.options.depthLimit)
            else {
                preconditionFailure("cannot allocate PCRE2 match data")
            }
            self.scratch = scratch
            targets = policy.targets.filter { Self.canGrant($0, options: policy.options) }.sorted {
                $0.metadata.id < $1.metadata.id
            }
        }

        // MARK: §2 Identities

        /// `namespace/name`, or `spiffe://<trust-domain>/ns/<namespace>/sa/<name>` (any trust
        /// domain unless the policy is compiled with one). nil: matches no identity.
        package func identity(_ text: String) -> ObjectID? {
            let spiffe = "spiffe://"
            if text.hasPrefix(spiffe) {
                let rest = text.dropFirst(spiffe.count)
                guard let slash = rest.firstIndex(of: "/") else { return nil }
                let trustDomain = rest[..<slash]
                let parts = rest[slash...].split(separator: "/", omittingEmptySubsequences: false)
                guard !trustDomain.isEmpty, parts.count == 5, parts[0].isEmpty, parts[1] == "ns", parts[3] == "sa",
                    !parts[2].isEmpty, !parts[4].isEmpty
                else { return nil }
                if let required = options.trustDomain, trustDomain != required { return nil }
                return ObjectID(namespace: String(parts[2]), name: String(parts[4]))
            }
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return ObjectID(namespace: String(parts[0]), name: String(parts[1]))
        }

        // MARK: §3 TrafficTargets

        /// The destination identity; nil for an IdentityBinding, which matches no identity (§1).
        /// `destination.namespace` defaults to the TrafficTarget's namespace (§3.1).
        private func destination(of target: TrafficTarget) -> ObjectID? {
            guard target.destination.kind == .serviceAccount else { return nil }
            return ObjectID(
                namespace: target.destination.namespace ?? target.metadata.id.namespace,
                name: target.destination.name
            )
        }

        /// §3: a TrafficTarget that can grant nothing (destination in another namespace unless
        /// allowed; no sources; no rules) is dropped and takes no part, deny reasons included.
        private static func canGrant(_ target: TrafficTarget, options: PolicyOptions) -> Bool {
            let destinationNamespace = target.destination.namespace ?? target.metadata.id.namespace
            if destinationNamespace != target.metadata.id.namespace && !options.allowCrossNamespaceDestinations {
                return false
            }
            return !target.sources.isEmpty && !target.rules.isEmpty
        }

        /// §3.2: a source's `namespace` defaults to the TrafficTarget's; IdentityBinding sources
        /// match no identity.
        private func isSource(_ identity: ObjectID?, of target: TrafficTarget) -> Bool {
            guard let identity else { return false }
            return target.sources.contains {
                $0.kind == .serviceAccount
                    && ObjectID(namespace: $0.namespace ?? target.metadata.id.namespace, name: $0.name) == identity
            }
        }

        /// §3: a TCPRoute (UDPRoute) rule covers the ports of its v1alpha4 `spec.matches.ports`;
        /// an empty or absent list, and every TCPRoute before v1alpha4, cover all ports. A rule
        /// naming a route that does not exist covers no port (fail closed).
        private func covers(_ rule: Rule, port: Int, in target: TrafficTarget) -> Bool {
            let id = ObjectID(namespace: target.metadata.id.namespace, name: rule.name)
            let route = rule.kind == .tcpRoute ? tcpRoutes[id] : rule.kind == .udpRoute ? udpRoutes[id] : nil
            guard let route else { return false }
            guard let listed = route.listedPorts else { return true }
            return listed.contains(port)
        }

        /// §3: a rule's `matches` selects matches by name; omitted selects every match, `[]` none,
        /// and an unknown name selects nothing.
        private func selects(_ rule: Rule, _ match: HTTPMatch) -> Bool {
            rule.matches?.contains(match.name) ?? true
        }

        /// §7 "the first granting match in the group's order, considering the TT's rules in their
        /// order": the rules in order, each group's matches in the group's order. A rule naming a
        /// group that does not exist matches nothing.
        private func firstGrantingMatch(_ target: TrafficTarget, _ http: HTTPFacts) -> String? {
            for rule in target.rules where rule.kind == .httpRouteGroup {
                guard let group = groups[ObjectID(namespace: target.metadata.id.namespace, name: rule.name)] else {
                    continue
                }
                for match in group.matches where selects(rule, match) {
                    switch matches(match, http) {
                    case .yes: return match.name
                    case .no: continue
                    case .unknown:
                        // Fails closed; if the request ends denied, the budget is the reason (§7).
                        budgetExceeded = true
                        trace.append("\(target.metadata.id): match \(match.name) ran out of regex budget")
                    }
                }
            }
            return nil
        }

        /// One TrafficTarget against one request, stage by stage (§7), granting by §3.
        private func evaluate(
            _ target: TrafficTarget,
            source: ObjectID?,
            port: Int,
            transport: TransportProtocol,
            http: HTTPFacts?
        )
            -> TargetOutcome
        {
            // Stage 1: the source is one of T's sources.
            guard isSource(source, of: target) else { return .stopped(.sourceNotAllowed) }

            // Stage 2: the v1alpha1/v1alpha2 `destination.port` equals the port, and if T has rules
            // that bind ports for the protocol (TCPRoute for tcp and http, UDPRoute for udp), one
            // of them covers the port.
            if target.alpha <= 2, let written = target.port, written.value != port { return .stopped(.portNotAllowed) }
            let portKind: RouteKind = transport == .udp ? .udpRoute : .tcpRoute
            let portRules = target.rules.filter { $0.kind == portKind }
            let portCovered = portRules.contains { covers($0, port: port, in: target) }
            if !portRules.isEmpty && !portCovered { return .stopped(.portNotAllowed) }

            // Stage 3: T grants by §3. An HTTPRouteGroup rule, even one naming a missing group,
            // keeps T from being an L4 grant.
            let hasGroupRule = target.rules.contains { $0.kind == .httpRouteGroup }
            switch transport {
            case .tcp, .udp:
                // tcp: a TCPRoute rule covering the port and no HTTPRouteGroup rule; udp likewise.
                if !hasGroupRule && portCovered { return .granted(portKind, match: nil) }
            case .http:
                guard let http else { preconditionFailure("http request without HTTP facts") }
                if hasGroupRule {
                    // A selected match must match; TCPRoute rules, if any, gated the port above.
                    if let match = firstGrantingMatch(target, http) { return .granted(.httpRouteGroup, match: match) }
                } else if portCovered {
                    // No HTTPRouteGroup rule, a TCPRoute rule covering the port: an L4 grant.
                    return .granted(.tcpRoute, match: nil)
                }
            }
            return .stopped(.noRouteMatched)
        }

        // MARK: §3, §5, §7 Access decisions

        package func decide(_ request: AccessRequest) -> ExpectedAccess {
            budgetExceeded = false
            trace = []
            func deny(_ reason: DenyReason) -> ExpectedAccess {
                ExpectedAccess(allowed: false, reason: reason, trafficTarget: nil, ruleKind: nil, match: nil)
            }

            // §5: a rejected path is denied before any other check, whatever the grants.
            var http: HTTPFacts?
            if request.transport == .http {
                switch normalize(request.path, steps: options.normalization) {
                case .rejected:
                    trace.append("path rejected")
                    return deny(.pathRejected)
                case .path(let path):
                    trace.append("normalized path \(Differential.jsonQuoted(path))")
                    http = HTTPFacts(method: request.method, path: path, headers: request.headers)
                }
            }

            // §3: default deny; a request is allowed iff some TrafficTarget grants it. §7: the
            // first granting one in `namespace/name` order explains; else the furthest stage.
            let destination = identity(request.destination)
            let source = identity(request.source)
            var furthest: Stage?
            for target in targets where destination != nil && self.destination(of: target) == destination {
                let outcome = evaluate(
                    target,
                    source: source,
                    port: request.port,
                    transport: request.transport,
                    http: http
                )
                switch outcome {
                case .granted(let kind, let match):
                    trace.append("\(target.metadata.id): grants by \(kind.rawValue) \(match ?? "(L4)")")
                    return ExpectedAccess(
                        allowed: true,
                        reason: nil,
                        trafficTarget: target.metadata.id.description,
                        ruleKind: kind.rawValue,
                        match: match
                    )
                case .stopped(let stage):
                    trace.append("\(target.metadata.id): stops at \(stage.reason.rawValue)")
                    furthest = max(furthest ?? stage, stage)
                }
            }
            // §7: a regex out of budget does not match; if the request is then denied, that is the reason.
            if budgetExceeded { return deny(.regexBudgetExceeded) }
            return deny(furthest?.reason ?? .noTrafficTarget)
        }

        // MARK: §4 HTTP route matches

        /// A match holds iff its path, method and header conditions all hold; absent ones hold.
        /// Any failing condition makes it `no`; else a regex out of budget makes it `unknown`.
        package func matches(_ match: HTTPMatch, _ http: HTTPFacts) -> Verdict {
            var conditions: [Verdict] = []
            // Path: anchored at the start, open at the end (both ends under fullPathMatch). `""`
            // matches every path, as §4 says right after naming fullPathMatch; read here as under
            // either anchoring (anchored at both ends it would match no path at all).
            if let pattern = match.pathRegex, !pattern.isEmpty {
                conditions.append(regexMatches(pattern, options.fullPathMatch ? .whole : .start, http.path))
            }
            // Methods: case-sensitive tokens; `*` anywhere means any; an empty list is no list.
            if let methods = match.methods, !methods.isEmpty, !methods.contains("*") {
                conditions.append(methods.contains(http.method) ? .yes : .no)
            }
            // Headers: names case-insensitive; the regex must match the whole value; a missing
            // header, or a value holding NUL, CR or LF, never matches.
            for condition in match.headers ?? [] {
                if let value = http.headers[Differential.asciiLowercased(condition.name)],
                    !value.utf8.contains(where: { $0 == 0 || $0 == 0x0D || $0 == 0x0A })
                {
                    conditions.append(regexMatches(condition.valueRegex, .whole, value))
                } else {
                    conditions.append(.no)
                }
            }
            if conditions.contains(.no) {
                if conditions.contains(.unknown) {
                    trace.append("match \(match.name): a regex ran out of budget, but another condition fails")
                }
                return .no
            }
            return conditions.contains(.unknown) ? .unknown : .yes
        }

        private func regexMatches(_ pattern: String, _ anchoring: RegexAnchoring, _ subject: String) -> Verdict {
            let key = (anchoring == .whole ? "whole:" : "start:") + pattern
            let regex: Regex
            if let cached = regexes[key] {
                regex = cached
            } else {
                guard let compiled = try? Regex(pattern, anchoring: anchoring) else {
                    preconditionFailure("the generator's regex pool holds an invalid pattern: \(pattern)")
                }
                regexes[key] = compiled
                regex = compiled
            }
            // A trailing NUL keeps the buffer's base address non-nil for an empty subject.
            let bytes = Array(subject.utf8) + [0]
            let outcome = bytes.withUnsafeBytes {
                regex.evaluate(
                    UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 1)]),
                    validUTF8: false,
                    scratch: scratch
                )
            }
            switch outcome {
            case .match: return .yes
            case .noMatch: return .no
            case .budgetExceeded: return .unknown
            }
        }

        // MARK: §6 Traffic splits

        /// The root a split applies to: `spec.service` resolved in the split's namespace.
        private func root(of split: TrafficSplit) -> ObjectID {
            ObjectID(namespace: split.metadata.id.namespace, name: Differential.serviceName(split.service))
        }

        /// §6 matches: some match of some listed HTTPRouteGroup matches the request, or a listed
        /// TCPRoute matches its port (a TCPRoute with ports never matches a request without
        /// one). A listed group that does not exist matches nothing.
        private func applies(_ split: TrafficSplit, _ request: SplitRequest) -> Bool {
            for ref in split.matches ?? [] {
                let id = ObjectID(namespace: split.metadata.id.namespace, name: ref.name)
                switch ref.kind {
                case .httpRouteGroup:
                    guard let group = groups[id] else { continue }
                    // Without a path, or with one §5 rejects, only matches with no path condition
                    // can hold. §6 does not say; this is the reading the engine documents
                    // (docs/C-API.md, split requests). The fuzzer found the two readings apart.
                    var normalized: String?
                    if let path = request.path, case .path(let p) = normalize(path, steps: options.normalization) {
                        normalized = p
                    }
                    let http = HTTPFacts(method: request.method ?? "", path: normalized ?? "", headers: request.headers)
                    let candidates =
                        normalized == nil ? group.matches.filter { ($0.pathRegex ?? "").isEmpty } : group.matches
                    // A match out of regex budget does not match (fail closed).
                    if candidates.contains(where: { matches($0, http) == .yes }) { return true }
                case .tcpRoute:
                    guard let route = tcpRoutes[id] else { continue }
                    guard let listed = route.listedPorts else { return true }
                    if let port = request.port, listed.contains(port) { return true }
                case .udpRoute:
                    continue
                }
            }
            return false
        }

        package func split(_ request: SplitRequest) -> ExpectedSplit {
            trace = []
            let rootAnswer = ExpectedSplit(
                backend: request.service,
                possible: [request.service],
                trafficSplit: .some(nil)
            )
            guard let root = identity(request.service) else { return rootAnswer }
            let candidates = policy.splits.filter { self.root(of: $0) == root }.sorted {
                $0.metadata.id < $1.metadata.id
            }
            // Splits with matches first, in name order; then the first without matches.
            let chosen =
                candidates.first { $0.matches != nil && applies($0, request) }
                ?? candidates.first { $0.matches == nil }
            guard let split = chosen else {
                trace.append("no split applies")
                return rootAnswer
            }
            trace.append("split \(split.metadata.id) applies")

            // Weights are relative; v1alpha1 quantities compare in milli-units.
            let weights: [(backend: ObjectID, weight: UInt64)] = split.backends.map { backend in
                let id = ObjectID(
                    namespace: split.metadata.id.namespace,
                    name: Differential.serviceName(backend.written)
                )
                switch backend.weight {
                case .integer(let value): return (id, UInt64(value))
                case .quantity(let text): return (id, Differential.milliUnits(text))
                }
            }
            let total = weights.reduce(0) { $0 + $1.weight }
            if total == 0 {
                // All weights 0: the root service.
                return ExpectedSplit(backend: request.service, possible: [request.service], trafficSplit: nil)
            }
            let r = request.entropy.multipliedFullWidth(by: total).high
            var cumulative: UInt64 = 0
            var picked: ObjectID?
            for entry in weights where entry.weight > 0 {
                cumulative += entry.weight
                if picked == nil && r < cumulative { picked = entry.backend }
            }
            guard let picked else { preconditionFailure("r is below the total") }
            // The root listed as its own backend: that share goes to the root; the answer names it.
            let possible = Set(weights.filter { $0.weight > 0 }.map(\.backend.description))
            return ExpectedSplit(
                backend: picked.description,
                possible: possible,
                trafficSplit: .some(split.metadata.id.description)
            )
        }
    }

    /// A Kubernetes quantity as generated (`1`, `500m`, `1.5`) in milli-units: `1` = `1000m` (§6).
    package static func milliUnits(_ quantity: String) -> UInt64 {
        var text = Substring(quantity)
        var unit: UInt64 = 1000
        if text.hasSuffix("m") {
            text = text.dropLast()
            unit = 1
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = UInt64(parts[0]) else { preconditionFailure("not a generated quantity: \(quantity)") }
        var value = whole * unit
        if parts.count == 2 {
            var place = unit
            for digit in parts[1] {
                place /= 10
                value += UInt64(digit.wholeNumberValue ?? 0) * place
            }
        }
        return value
    }

    /// ASCII lower case: header names compare case-insensitively (§4).
    package static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
