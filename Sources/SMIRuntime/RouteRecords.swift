import SMIRegex

/// What `MATCH_ROUTES` reads of a route set, one record per set in one buffer, each record
/// starting on a 64-byte line: the set (for the method and header checks), its ``RegexSet``'s
/// steps copied inline, and each candidate's grant.
///
/// Through the objects a match reads the set's slot in `routeSets`, the `ExecutableRouteSet`,
/// its `RegexSet`, the set's step buffer and its candidate array: five lines at unrelated places
/// before PCRE2 runs. A record of one step and up to four candidates is one line. The relocated
/// `MATCH_ROUTES` (``DecisionLayout``) names its record by line number instead of the set index.
///
/// Record layout (bytes): 0 the set (`Unmanaged<ExecutableRouteSet>`), 8 the set's fallback
/// steps, 16 step count (Int32), 20 candidate count (Int32), 24 the steps
/// (`RegexSet.Step` × count), then the grants (`UInt32` × candidate count); rounded up to 64.
struct RouteRecords {
    static let line = 64
    static let stepsOffset = 24

    /// The records, 64-byte aligned.
    let base: UnsafeMutableRawPointer
    /// The first line of each route set's record.
    let lines: [UInt32]

    init(_ sets: [ExecutableRouteSet]) {
        var lines: [UInt32] = []
        var sizes: [Int] = []
        var total = 0
        for set in sets {
            let size = Self.stepsOffset + set.paths.stepList.count * MemoryLayout<RegexSet.Step>.stride
                + set.candidates.count * MemoryLayout<UInt32>.stride
            let rounded = (size + Self.line - 1) / Self.line * Self.line
            // A policy's route sets take far less than 2^32 lines (256 GiB).
            lines.append(UInt32(truncatingIfNeeded: total / Self.line))
            sizes.append(rounded)
            total += rounded
        }
        base = UnsafeMutableRawPointer.allocate(byteCount: max(total, Self.line), alignment: Self.line)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(total, Self.line))
        for (i, set) in sets.enumerated() {
            let record = base + Int(lines[i]) * Self.line
            let steps = set.paths.stepList
            record.storeBytes(of: Unmanaged.passUnretained(set), as: Unmanaged<ExecutableRouteSet>.self)
            record.storeBytes(of: set.paths.fallbackList, toByteOffset: 8, as: UnsafePointer<RegexSet.Step>.self)
            record.storeBytes(of: Int32(truncatingIfNeeded: steps.count), toByteOffset: 16, as: Int32.self)
            record.storeBytes(of: Int32(truncatingIfNeeded: set.candidates.count), toByteOffset: 20, as: Int32.self)
            let stepStart = record + Self.stepsOffset
            if let from = steps.baseAddress {
                stepStart.initializeMemory(as: RegexSet.Step.self, from: from, count: steps.count)
            }
            let grants = stepStart + steps.count * MemoryLayout<RegexSet.Step>.stride
            for (k, c) in set.candidates.enumerated() {
                grants.storeBytes(of: c.grant, toByteOffset: k * MemoryLayout<UInt32>.stride, as: UInt32.self)
            }
        }
        self.lines = lines
    }

    func release() { base.deallocate() }

    /// The grant of the first candidate of the record at `line` whose path and headers match
    /// (`scratch`'s path, headers and method), or nil.
    @inline(__always)
    func match(_ line: UInt32, validUTF8: Bool, scratch: EvaluationScratch) -> UInt32? {
        let record = UnsafeRawPointer(base + Int(line) &* Self.line)
        let set = record.load(as: Unmanaged<ExecutableRouteSet>.self)
        let fallbacks = record.load(fromByteOffset: 8, as: UnsafePointer<RegexSet.Step>.self)
        let stepCount = Int(record.load(fromByteOffset: 16, as: Int32.self))
        let candidateCount = Int(record.load(fromByteOffset: 20, as: Int32.self))
        let steps = (record + Self.stepsOffset).assumingMemoryBound(to: RegexSet.Step.self)
        let winner: Int? = set._withUnsafeGuaranteedRef { set in
            scratch.currentSet = set
            defer { scratch.currentSet = nil }
            let subject = UnsafeRawBufferPointer(rebasing: scratch.path[0..<scratch.pathLength])
            return regexSetFirstMatch(
                steps: UnsafeBufferPointer(start: steps, count: stepCount), fallbacks: fallbacks, subject,
                validUTF8: validUTF8, scratch: scratch.regex, checker: scratch)
        }
        guard let winner, winner < candidateCount else { return nil }  // alternatives are never negative
        let grants = UnsafeRawPointer(steps + stepCount)
        return grants.load(fromByteOffset: winner &* MemoryLayout<UInt32>.stride, as: UInt32.self)
    }
}
