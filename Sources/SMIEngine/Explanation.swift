import SMIBytecode
import SMICompiler
import SMIRegex

/// How one TrafficTarget of the destination fared against a request.
public struct TargetExplanation: Sendable, Hashable {
    /// The TrafficTarget `namespace/name`.
    public var trafficTarget: String
    /// Whether it grants the request.
    public var granted: Bool
    /// The stage it stopped at, when it does not grant.
    public var stoppedAt: DenyReason?
    /// Why, for a person.
    public var detail: String
}

/// A decision with the verdict of every TrafficTarget of the destination.
public struct AccessExplanation: Sendable, Hashable, CustomStringConvertible {
    /// The compiled program's decision.
    public var decision: AccessDecision
    /// The normalized path, for HTTP requests.
    public var normalizedPath: String?
    /// One entry per TrafficTarget naming the destination, in namespace/name order; empty for
    /// a policy without its source model (loaded from a bundle, or compiled without
    /// ``PolicyOptions/keepsSourceModel``), which has no source to explain.
    public var targets: [TargetExplanation]
    /// For a policy without its source model: the instructions the decision passed through, each
    /// with the resource it came from (the program is all such a policy has); empty otherwise.
    public var decisionPath: [String] = []
    /// Whether the policy has no source model to explain, because it was loaded from a bundle or
    /// compiled without ``PolicyOptions/keepsSourceModel`` (then ``decisionPath`` replaces
    /// ``targets``).
    public var fromBundle = false

    /// A report for a person.
    public var description: String {
        var lines: [String] = []
        if decision.allowed {
            var grant = "ALLOW by TrafficTarget \(decision.trafficTarget ?? "?") (\(decision.ruleKind ?? "?")"
            if let m = decision.match { grant += ", match `\(m)`" }
            lines.append(grant + ")")
        } else {
            lines.append("DENY: \(decision.reason?.rawValue ?? "?")")
        }
        if let p = normalizedPath { lines.append("normalized path: \(p)") }
        if fromBundle {
            lines.append("policy without its source model (loaded from a bundle, or compiled without it): no source manifests to explain target by target; decision path:")
            for step in decisionPath { lines.append("  " + step) }
            return lines.joined(separator: "\n")
        }
        if targets.isEmpty {
            lines.append("no TrafficTarget names this destination")
        }
        for t in targets {
            let verdict = t.granted ? "grants" : "stops at \(t.stoppedAt?.rawValue ?? "?")"
            lines.append("  TrafficTarget \(t.trafficTarget): \(verdict): \(t.detail)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Policy {
    /// Decides `request` and explains, TrafficTarget by TrafficTarget, why each of the
    /// destination's TrafficTargets did or did not grant. Slower than ``decide(_:scratch:)``:
    /// for people, not for the request path.
    public func explain(_ request: AccessRequest) -> AccessExplanation {
        let scratch = makeScratch()
        let decision = decide(request, scratch: scratch)
        let path = request.transport == .http ? scratch.normalizedPath : nil
        var explanation = AccessExplanation(decision: decision, normalizedPath: path, targets: [])
        if decision.reason == .pathRejected {
            explanation.targets = []
            return explanation
        }
        let regexScratch = RegexScratch(matchLimit: options.matchLimit, depthLimit: options.depthLimit)
        guard let normalized else {
            explanation.fromBundle = true
            explanation.decisionPath = traceAccess(request, path: path ?? "", regexScratch: regexScratch)
            return explanation
        }
        let destination = canonicalIdentity(request.destination)
        let source = canonicalIdentity(request.source)
        for t in normalized.targets where t.destination == destination {
            explanation.targets.append(explainTarget(t, request, source: source, path: path ?? "", regexScratch: regexScratch))
        }
        return explanation
    }

    private func canonicalIdentity(_ s: String) -> String? {
        guard s.hasPrefix("spiffe://") else { return s }
        let parts = s.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa", !parts[2].isEmpty, !parts[4].isEmpty else { return nil }
        if let td = options.trustDomain, parts[0] != td { return nil }
        return "\(parts[2])/\(parts[4])"
    }

    private func explainTarget(
        _ t: NormalizedTarget, _ r: AccessRequest, source: String?, path: String, regexScratch: RegexScratch?
    ) -> TargetExplanation {
        let name = t.id.qualifiedName
        func stop(_ reason: DenyReason, _ why: String) -> TargetExplanation {
            TargetExplanation(trafficTarget: name, granted: false, stoppedAt: reason, detail: why)
        }
        guard let source, t.sources.contains(source) else {
            return stop(.sourceNotAllowed, "source `\(r.source)` is not among its sources (\(t.sources.joined(separator: ", ")))")
        }
        if let p = t.port, p != r.port {
            return stop(.portNotAllowed, "its destination.port is \(p), the request's port is \(r.port)")
        }
        let binding = r.transport == .udp ? t.udpCoverages : t.tcpCoverages
        if !binding.isEmpty && !binding.contains(where: { $0.covers(r.port) }) {
            let kind = r.transport == .udp ? "UDPRoute" : "TCPRoute"
            return stop(.portNotAllowed, "no \(kind) rule covers port \(r.port)")
        }
        switch r.transport {
        case .tcp, .udp:
            let covering = r.transport == .udp ? t.udpCoverages : t.tcpCoverages
            let kind = r.transport == .udp ? "UDPRoute" : "TCPRoute"
            if t.hasHTTPRules {
                return stop(.noRouteMatched, "it has HTTPRouteGroup rules, which an opaque \(r.transport.rawValue) connection cannot meet")
            }
            if covering.contains(where: { $0.covers(r.port) }) {
                return TargetExplanation(trafficTarget: name, granted: true, stoppedAt: nil, detail: "a \(kind) rule covers port \(r.port)")
            }
            return stop(.noRouteMatched, "it has no \(kind) rule")
        case .http:
            if !t.hasHTTPRules {
                if t.tcpCoverages.contains(where: { $0.covers(r.port) }) {
                    return TargetExplanation(trafficTarget: name, granted: true, stoppedAt: nil, detail: "L4 grant: a TCPRoute rule covers port \(r.port) and it has no HTTPRouteGroup rule")
                }
                return stop(.noRouteMatched, "it has no HTTPRouteGroup or TCPRoute rule for HTTP")
            }
            var reasons: [String] = []
            for m in t.httpMatches {
                if let why = mismatch(m, r, path: path, regexScratch: regexScratch) {
                    reasons.append("`\(m.name)`: \(why)")
                } else {
                    return TargetExplanation(trafficTarget: name, granted: true, stoppedAt: nil, detail: "match `\(m.name)` holds")
                }
            }
            if reasons.isEmpty { return stop(.noRouteMatched, "its rules select no match") }
            return stop(.noRouteMatched, reasons.joined(separator: "; "))
        }
    }

    /// Why `m` does not hold, or nil when it does.
    private func mismatch(_ m: NormalizedMatch, _ r: AccessRequest, path: String, regexScratch: RegexScratch?) -> String? {
        if let methods = m.methods, !methods.contains(r.method) {
            return "method \(r.method) not in \(methods.sorted().joined(separator: ","))"
        }
        if let pattern = m.pathRegex {
            guard let regex = try? Regex(pattern, anchoring: options.fullPathMatch ? .whole : .start), let regexScratch else {
                return "path pattern `\(pattern)` could not be evaluated"
            }
            var p = path
            let outcome = p.withUTF8 { regexScratch.evaluate(regex, UnsafeRawBufferPointer($0), validUTF8: false) }
            if outcome == .budgetExceeded { return "path regex `\(pattern)` exceeded its match budget" }
            if outcome != .match { return "path \(path) does not match `\(pattern)`" }
        }
        for h in m.headers {
            let values = r.headers.filter { $0.name.asciiLowercased == h.name }.map(\.value)
            guard !values.isEmpty else { return "header `\(h.name)` is absent" }
            var value = values.joined(separator: ", ")
            if value.utf8.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) { return "header `\(h.name)` holds NUL, CR or LF" }
            guard let regex = try? Regex(h.pattern, anchoring: .whole), let regexScratch else {
                return "header pattern `\(h.pattern)` could not be evaluated"
            }
            let outcome = value.withUTF8 { regexScratch.evaluate(regex, UnsafeRawBufferPointer($0), validUTF8: false) }
            if outcome != .match { return "header `\(h.name)` value does not match `\(h.pattern)`" }
        }
        return nil
    }
}

extension Policy {
    /// The access instructions `request` passes through, read from the program alone (for
    /// bundles): each step with its offset, what it decided and the resource it came from.
    private func traceAccess(_ r: AccessRequest, path: String, regexScratch: RegexScratch?) -> [String] {
        var notes: [UInt32: [String]] = [:]
        for a in program.annotations { notes[a.offset, default: []].append(program.string(a.text) ?? "?") }
        func resolve(_ identity: String) -> UInt32 {
            var s = identity
            return s.withUTF8 { executable.resolveIdentity(UnsafeRawBufferPointer($0)) }
        }
        let source = resolve(r.source)
        let destination = resolve(r.destination)
        let methodIndex = program.methods.firstIndex { program.string($0) == r.method }.map(UInt32.init) ?? noIndex
        let code = program.code
        var steps: [String] = []
        var pc = Int(program.accessEntry)
        // A verified program only jumps forward, so this walk ends within code.count steps.
        while pc < code.count, steps.count <= code.count {
            guard let op = Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc])), pc + op.length <= code.count else { break }
            var line = "\(pc) \(op.info.mnemonic)"
            var next: Int? = pc + op.length
            func lookup(_ key: UInt32, _ shown: String) {
                let entries = SwitchTable.decode(program.tables, at: Int(code[pc + 1])) ?? []
                if let hit = entries.first(where: { $0.key == key }) {
                    line += " \(shown) -> \(hit.target)"
                    next = Int(hit.target)
                } else {
                    line += " \(shown): no case, default -> \(code[pc + 2])"
                    next = Int(code[pc + 2])
                }
            }
            switch op {
            case .switchDestination: lookup(destination, r.destination)
            case .switchSource: lookup(source, r.source)
            case .switchProtocol:
                let target = code[pc + 1 + Int(r.transport.code.rawValue)]
                line += " \(r.transport.rawValue) -> \(target)"
                next = Int(target)
            case .switchPort: lookup(UInt32(clamping: r.port), String(r.port))
            case .switchMethod: lookup(methodIndex, r.method)
            case .matchRoutes:
                let set = Int(code[pc + 1])
                if set < program.routeSets.count,
                    let k = program.routeSets[set].candidates.firstIndex(where: { holds($0, r, path: path, regexScratch: regexScratch) })
                {
                    line += " routes \(set): candidate \(k) matches; allow"
                    next = nil
                } else {
                    line += " routes \(set): no candidate matches -> \(code[pc + 2])"
                    next = Int(code[pc + 2])
                }
            case .allow, .deny:
                line = "\(pc) " + Disassembler.instruction(at: pc, in: program).0
                next = nil
            case .jump:
                line += " -> \(code[pc + 1])"
                next = Int(code[pc + 1])
            default:
                line += " (not an access instruction)"
                next = nil
            }
            if let note = notes[UInt32(pc)] { line += "   ; " + note.joined(separator: "; ") }
            steps.append(line)
            guard let n = next, n > pc else { break }
            pc = n
        }
        return steps
    }

    /// Whether route candidate `c` holds for `r` (methods, path pattern, headers).
    private func holds(_ c: RouteCandidate, _ r: AccessRequest, path: String, regexScratch: RegexScratch?) -> Bool {
        guard let regexScratch else { return false }
        let methodNames = c.methods.map { $0 < program.methods.count ? program.string(program.methods[Int($0)]) : nil }
        if !methodNames.isEmpty, !methodNames.contains(r.method) { return false }
        if c.path != noIndex {
            guard let pattern = program.string(c.path),
                let regex = try? Regex(pattern, anchoring: options.fullPathMatch ? .whole : .start)
            else { return false }
            var p = path
            let outcome = p.withUTF8 { regexScratch.evaluate(regex, UnsafeRawBufferPointer($0), validUTF8: false) }
            guard outcome == .match else { return false }
        }
        for h in c.headers {
            guard let name = program.string(h.name), let pattern = program.string(h.pattern) else { return false }
            let values = r.headers.filter { $0.name.asciiLowercased == name }.map(\.value)
            guard !values.isEmpty else { return false }
            var value = values.joined(separator: ", ")
            if value.utf8.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) { return false }
            guard let regex = try? Regex(pattern, anchoring: .whole) else { return false }
            let outcome = value.withUTF8 { regexScratch.evaluate(regex, UnsafeRawBufferPointer($0), validUTF8: false) }
            guard outcome == .match else { return false }
        }
        return true
    }
}
