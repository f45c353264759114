import SMIBytecode
import SMIRegex

extension ExecutablePolicy {
    /// Decides an access request (SEMANTICS.md §3–§7). Takes no lock and, once `scratch` has
    /// grown to the request's size, allocates nothing.
    public func decide(_ query: AccessQuery, scratch: EvaluationScratch) -> AccessResult {
        scratch.useLimits(match: matchLimit, depth: depthLimit)
        scratch.regex.resetBudgetFlag()
        scratch.pathLength = 0
        if query.proto == .http {
            scratch.reservePath(query.target.count + 1)
            guard let n = PathNormalizer.normalize(query.target, steps: normalization, into: scratch.path, classes: plainClassTable) else {
                return AccessResult(allowed: false, reason: .pathRejected, grant: noIndex)
            }
            scratch.pathLength = n
            scratch.headers = query.headers
            scratch.methodIndex = methodIndex(query.method)
        }
        // Verified programs only jump forward and end in a terminator, so this loop ends.
        let code = self.code
        var pc = accessEntry
        while true {
            let word = code[pc]
            switch UInt8(truncatingIfNeeded: word) {
            case Opcode.switchDestination.rawValue:
                pc = lookup(Int(code[pc &+ 1]), key: query.destination) ?? Int(code[pc &+ 2])
            case Opcode.switchSource.rawValue:
                pc = lookup(Int(code[pc &+ 1]), key: query.source) ?? Int(code[pc &+ 2])
            case Opcode.switchProtocol.rawValue:
                // A direct table of three targets, in ProtocolCode order.
                pc = Int(code[pc &+ 1 &+ Int(query.proto.rawValue)])
            case Opcode.switchPort.rawValue:
                pc = lookup(Int(code[pc &+ 1]), key: query.port) ?? Int(code[pc &+ 2])
            case Opcode.switchMethod.rawValue:
                pc = lookup(Int(code[pc &+ 1]), key: scratch.methodIndex) ?? Int(code[pc &+ 2])
            case Opcode.matchRoutes.rawValue:
                // The operand is the set's RouteRecords line (DecisionLayout).
                if let grant = routeRecords.match(code[pc &+ 1], validUTF8: validUTF8Paths, scratch: scratch) { return AccessResult(allowed: true, reason: .noRouteMatched, grant: grant) }
                pc = Int(code[pc &+ 2])
            case Opcode.allow.rawValue:
                return AccessResult(allowed: true, reason: .noRouteMatched, grant: code[pc &+ 1])
            case Opcode.deny.rawValue:
                let reason = scratch.regex.budgetExceeded ? DenyCode.regexBudgetExceeded : (DenyCode(rawValue: code[pc &+ 1]) ?? .noRouteMatched)
                return AccessResult(allowed: false, reason: reason, grant: noIndex)
            case Opcode.jump.rawValue:
                pc = Int(code[pc &+ 1])
            default:
                // SWITCH_SERVICE, SPLIT_WHEN, PICK, ROOT cannot be reached from the access entry
                // of a compiled program; a hand-made one that does is denied.
                return AccessResult(allowed: false, reason: .noRouteMatched, grant: noIndex)
            }
        }
    }

    /// The split decision for a root service (SEMANTICS.md §6).
    public func selectBackend(_ query: SplitQuery, scratch: EvaluationScratch) -> SplitResult {
        scratch.useLimits(match: matchLimit, depth: depthLimit)
        scratch.regex.resetBudgetFlag()
        scratch.pathLength = 0
        scratch.headers = query.headers
        scratch.methodIndex = query.method.map { methodIndex($0) } ?? ExecutablePolicy.unknownName
        var pathKnown = false
        if let target = query.target {
            scratch.reservePath(target.count + 1)
            if let n = PathNormalizer.normalize(target, steps: normalization, into: scratch.path) {
                scratch.pathLength = n
                pathKnown = true
            }
        }
        let code = self.code
        var pc = splitEntry
        while true {
            switch UInt8(truncatingIfNeeded: code[pc]) {
            case Opcode.switchService.rawValue:
                pc = lookup(Int(code[pc &+ 1]), key: query.service) ?? Int(code[pc &+ 2])
            case Opcode.splitWhen.rawValue:
                // DecisionLayout: [SPLIT_WHEN, condition, target, skip, condition words…]; the
                // fall-through follows the skipped words.
                if meets(Int(code[pc &+ 1]), query: query, pathKnown: pathKnown, scratch: scratch) {
                    pc = pc &+ 4 &+ Int(code[pc &+ 3])
                } else {
                    pc = Int(code[pc &+ 2])
                }
            case Opcode.pick.rawValue:
                let backend = pick(Int(code[pc &+ 1]), entropy: query.entropy)
                return SplitResult(backend: backend, split: code[pc &+ 2])
            case Opcode.jump.rawValue:
                pc = Int(code[pc &+ 1])
            default:
                // ROOT, and anything a split entry cannot meet in a verified program.
                return SplitResult(backend: noIndex, split: noIndex)
            }
        }
    }

    /// Whether the request meets the condition whose words start at `offset`:
    /// `[anyPort, route set, its record line, port count, ports…]` (DecisionLayout).
    private func meets(_ offset: Int, query: SplitQuery, pathKnown: Bool, scratch: EvaluationScratch) -> Bool {
        let code = self.code
        if code[offset] != 0 { return true }
        if let port = query.port {
            let count = Int(code[offset &+ 3])
            var i = offset &+ 4
            let end = i &+ count
            while i < end {
                if code[i] == port { return true }
                i &+= 1
            }
        }
        let routeSet = code[offset &+ 1]
        guard routeSet != noIndex else { return false }
        if pathKnown { return routeRecords.match(code[offset &+ 2], validUTF8: validUTF8Paths, scratch: scratch) != nil }
        // Without a (valid) path only matches without a path condition can hold.
        let set = routeSets[Int(routeSet)].takeUnretainedValue()
        for (i, c) in program.routeSets[Int(routeSet)].candidates.enumerated() where c.path == noIndex {
            scratch.currentSet = set
            let verdict = scratch.check(alternative: i)
            scratch.currentSet = nil
            if verdict == .accept { return true }
        }
        return false
    }

    // MARK: Tables

    @inline(__always)
    private func lookup(_ offset: Int, key: UInt32) -> Int? {
        let tables = self.code
        let log2 = tables[offset]
        if log2 & SwitchTable.linearTag != 0 {
            // Linear: at most SwitchTable.maxLinear (key, target) pairs, compared in order.
            var i = offset &+ 1
            let end = i &+ Int(log2 & ~SwitchTable.linearTag) &* 2
            while i < end {
                if tables[i] == key { return Int(tables[i &+ 1]) }
                i &+= 2
            }
            return nil
        }
        let mask = (1 &<< Int(log2)) &- 1
        let base = offset &+ 2
        var slot = Int(SwitchTable.slot(key, log2: log2))
        while true {
            let k = tables[base &+ slot &* 2]
            if k == SwitchTable.emptyKey { return nil }  // also ends the search for an unknown key
            if k == key { return Int(tables[base &+ slot &* 2 &+ 1]) }
            slot = (slot &+ 1) & mask
        }
    }

    /// r = high 64 bits of entropy × total; the first backend whose cumulative weight exceeds r.
    @inline(__always)
    private func pick(_ offset: Int, entropy: UInt64) -> UInt32 {
        let tables = self.code
        let count = Int(tables[offset])
        let total = UInt64(tables[offset + 1]) << 32 | UInt64(tables[offset + 2])
        let r = entropy.multipliedFullWidth(by: total).high
        if count <= 8 {
            // A TrafficSplit has a handful of backends: a forward scan beats halving.
            var base = offset &+ 3
            for _ in 1..<max(count, 1) {
                if UInt64(tables[base]) << 32 | UInt64(tables[base &+ 1]) > r { break }
                base &+= 3
            }
            return tables[base &+ 2]
        }
        var lo = 0
        var hi = count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            let base = offset + 3 + mid * 3
            let cumulative = UInt64(tables[base]) << 32 | UInt64(tables[base + 1])
            if cumulative > r { hi = mid } else { lo = mid + 1 }
        }
        return tables[offset + 3 + lo * 3 + 2]
    }
}
