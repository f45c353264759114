import CPCRE2

/// What a branch's other conditions say.
public enum RegexCheck: Sendable, Hashable {
    /// Every condition holds.
    case accept
    /// Some condition definitely fails.
    case reject
    /// No condition fails, but a regex among them ran out of budget: the branch could hold.
    case unknown
}

/// Decides, for a ``RegexSet`` branch, whether the branch's other conditions (method, headers)
/// hold. Implemented by the runtime; called from inside the match.
public protocol RegexAlternativeChecker: AnyObject {
    /// The verdict of alternative `index`'s other conditions (its pattern is not re-checked).
    func check(alternative index: Int) -> RegexCheck
}

/// One branch of a ``RegexSet``.
public struct RegexAlternative: Sendable, Hashable {
    /// The pattern; `""` matches everything.
    public var pattern: String
    /// Whether the branch has further conditions, checked by a ``RegexAlternativeChecker``.
    public var needsCheck: Bool

    /// Creates a branch.
    public init(pattern: String, needsCheck: Bool) {
        self.pattern = pattern
        self.needsCheck = needsCheck
    }
}

/// An error building a ``RegexSet``: which branch, and PCRE2's complaint.
public struct RegexSetError: Error, Sendable, Hashable {
    /// The index of the branch.
    public var alternative: Int
    /// PCRE2's error for that branch.
    public var error: RegexSyntaxError
}

/// An ordered list of patterns answered in one pass: "the first branch, in order, whose pattern
/// matches and whose other conditions hold".
///
/// Consecutive mergeable patterns are compiled into one PCRE2 program
/// `(?>(?:p0))(*MARK:0)|(?>(?:p1))(*MARK:1)(?C1)|…` (anchored at the start; with `\z` after each branch
/// when the whole subject must match). PCRE2 tries branches in order; a branch with further
/// conditions ends in a callout that asks the checker, and a refusal backtracks into the next
/// branch. The winning branch is read from the mark. Patterns that cannot be merged safely are
/// kept as single programs between the merged runs, so the order of branches is always kept.
public final class RegexSet: @unchecked Sendable {
    enum Segment {
        /// One program for several branches, and each branch alone for when the shared program
        /// runs out of budget (the budget is per regex, so each branch then gets its own).
        case merged(Regex, hasCallouts: Bool, branches: [Branch])
        case single(Branch)
    }

    struct Branch {
        var regex: Regex
        var alternative: Int
        var needsCheck: Bool
    }

    let segments: [Segment]
    /// The segments as plain data for the match loop (no reference counting per step); the
    /// `Regex` objects in `segments` own the code they point at.
    private let steps: UnsafeMutableBufferPointer<Step>
    private let fallbacks: UnsafeMutableBufferPointer<Step>
    private let fallbackBase: UnsafeMutablePointer<Step>

    /// One PCRE2 program of the set, as plain data (24 bytes: a runtime can copy a set's steps
    /// next to its other per-set data, so a match reads one cache line before PCRE2's).
    package struct Step {
        var code: PCRE2.Code
        var alternative: Int32
        var fallbackStart: Int32
        var fallbackCount: Int32
        var jit: Bool
        var merged: Bool
        var hasCallouts: Bool
        var needsCheck: Bool

        init(
            code: PCRE2.Code, jit: Bool, merged: Bool, hasCallouts: Bool, needsCheck: Bool, alternative: Int,
            fallbackStart: Int, fallbackCount: Int
        ) {
            // Branch and program counts of a set are far below 2^31 (each is a compiled pattern).
            self.code = code
            self.alternative = Int32(truncatingIfNeeded: alternative)
            self.fallbackStart = Int32(truncatingIfNeeded: fallbackStart)
            self.fallbackCount = Int32(truncatingIfNeeded: fallbackCount)
            self.jit = jit
            self.merged = merged
            self.hasCallouts = hasCallouts
            self.needsCheck = needsCheck
        }
    }

    /// The steps ``firstMatch(_:validUTF8:scratch:checker:)`` runs, in order; valid while the set lives.
    package var stepList: UnsafeBufferPointer<Step> { UnsafeBufferPointer(steps) }
    /// The fallback steps the merged steps' `fallbackStart` index; valid while the set lives.
    package var fallbackList: UnsafePointer<Step> { UnsafePointer(fallbackBase) }

    /// The number of branches.
    public let count: Int
    /// The number of PCRE2 programs the set compiled to.
    public var programCount: Int { segments.count }
    /// Bytes of compiled PCRE2 code (PCRE2_INFO_SIZE) of the programs the set compiled, JIT code
    /// not included. Built with a ``RegexCache``, the single-pattern programs come from the cache
    /// and are counted there instead, once however many sets share them.
    public let codeSize: Int
    /// Bytes of JIT-compiled code (PCRE2_INFO_JITSIZE) of the same programs.
    public let jitCodeSize: Int

    /// Compiles the branches; fails on the first branch PCRE2 rejects.
    ///
    /// - Parameter cache: where single-pattern programs (unmergeable branches, and each merged
    ///   branch alone for when the shared program runs out of budget) are looked up and kept, so
    ///   that sets listing the same pattern share one compiled program. Nil compiles them here.
    public init(_ alternatives: [RegexAlternative], anchoring: RegexAnchoring, cache: RegexCache? = nil) throws(RegexSetError) {
        var segments: [Segment] = []
        var run: [(index: Int, alt: RegexAlternative)] = []
        var size = 0
        var jitSize = 0
        let suffix = anchoring == .whole ? "\\z" : ""

        func flush() throws(RegexSetError) {
            guard !run.isEmpty else { return }
            defer { run.removeAll(keepingCapacity: true) }
            if run.count == 1, let only = run.first {
                let regex = try RegexSet.single(only.alt.pattern, index: only.index, anchoring: anchoring, jit: true, cache: cache)
                if cache == nil {
                    size += regex.codeSize
                    jitSize += regex.jitCodeSize
                }
                segments.append(.single(Branch(regex: regex, alternative: only.index, needsCheck: only.alt.needsCheck)))
                return
            }
            var text = ""
            var hasCallouts = false
            for (k, item) in run.enumerated() {
                if k > 0 { text += "|" }
                // Atomic: once a branch's pattern has matched, the callout decides the branch;
                // backtracking into the pattern would only ask the same question again.
                text += "(?>(?:\(item.alt.pattern))\(suffix))(*MARK:\(item.index))"
                if item.alt.needsCheck {
                    text += "(?C1)"
                    hasCallouts = true
                }
            }
            switch PCRE2.compile(Array(text.utf8), options: Regex.baseOptions | PCRE2.anchored) {
            case .success(let code):
                let regex = Regex(code: code, pattern: text, jit: true)
                size += regex.codeSize
                jitSize += regex.jitCodeSize
                var branches: [Branch] = []
                for item in run {
                    // Interpreted (no JIT): only used after the shared program ran out of budget.
                    let alone = try RegexSet.single(item.alt.pattern, index: item.index, anchoring: anchoring, jit: false, cache: cache)
                    if cache == nil {
                        size += alone.codeSize
                        jitSize += alone.jitCodeSize
                    }
                    branches.append(Branch(regex: alone, alternative: item.index, needsCheck: item.alt.needsCheck))
                }
                segments.append(.merged(regex, hasCallouts: hasCallouts, branches: branches))
            case .failure:
                // The scan should have kept unsafe patterns out; fall back to single programs.
                for item in run {
                    let regex = try RegexSet.single(item.alt.pattern, index: item.index, anchoring: anchoring, jit: true, cache: cache)
                    if cache == nil {
                        size += regex.codeSize
                        jitSize += regex.jitCodeSize
                    }
                    segments.append(.single(Branch(regex: regex, alternative: item.index, needsCheck: item.alt.needsCheck)))
                }
            }
        }

        for (index, alt) in alternatives.enumerated() {
            if let error = Regex.check(alt.pattern) {
                throw RegexSetError(alternative: index, error: error)
            }
            let scan = PatternScan(Array(alt.pattern.utf8))
            // A pattern that may backtrack catastrophically stays alone, so that its budget
            // overrun cannot cost the other branches a shared program.
            if scan.isMergeable && !scan.hasNestedQuantifier {
                run.append((index, alt))
            } else {
                try flush()
                run.append((index, alt))
                try flush()
            }
        }
        try flush()
        self.segments = segments
        self.count = alternatives.count
        self.codeSize = size
        self.jitCodeSize = jitSize
        var steps: [Step] = []
        var fallbacks: [Step] = []
        for segment in segments {
            switch segment {
            case .merged(let regex, let hasCallouts, let branches):
                steps.append(Step(
                    code: regex.code, jit: regex.isJITCompiled, merged: true, hasCallouts: hasCallouts,
                    needsCheck: false, alternative: 0, fallbackStart: fallbacks.count, fallbackCount: branches.count))
                for b in branches { fallbacks.append(Self.step(b)) }
            case .single(let branch):
                steps.append(Self.step(branch))
            }
        }
        self.steps = UnsafeMutableBufferPointer(start: Self.buffer(steps), count: steps.count)
        fallbackBase = Self.buffer(fallbacks)
        self.fallbacks = UnsafeMutableBufferPointer(start: fallbackBase, count: fallbacks.count)
    }

    /// `items` in a buffer of exactly their count (its storage has room for at least one, so the
    /// base address is never nil). An empty set has no steps: firstMatch must not see an
    /// uninitialized one, as it did when a bundle's empty route set reached here (found by the
    /// `program` fuzz target).
    private static func buffer(_ items: [Step]) -> UnsafeMutablePointer<Step> {
        let storage = UnsafeMutablePointer<Step>.allocate(capacity: max(items.count, 1))
        items.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { storage.initialize(from: base, count: source.count) }
        }
        return storage
    }

    deinit {
        steps.deallocate()
        fallbacks.deallocate()
    }

    private static func step(_ b: Branch) -> Step {
        Step(
            code: b.regex.code, jit: b.regex.isJITCompiled, merged: false, hasCallouts: false,
            needsCheck: b.needsCheck, alternative: b.alternative, fallbackStart: 0, fallbackCount: 0)
    }

    private static func single(
        _ pattern: String, index: Int, anchoring: RegexAnchoring, jit: Bool, cache: RegexCache?
    ) throws(RegexSetError) -> Regex {
        do {
            if let cache { return try cache.regex(pattern, anchoring: anchoring, jit: jit) }
            return try Regex(pattern, anchoring: anchoring, jit: jit)
        } catch {
            throw RegexSetError(alternative: index, error: error)
        }
    }

    /// The first accepted branch for `subject`, or nil.
    ///
    /// A branch whose regexes ran out of budget does not match (fail closed). The budget flag
    /// (``RegexScratch/budgetExceeded``) is set only when such a branch could otherwise have
    /// been chosen, that is when none of its other conditions definitely fails, so the flag does
    /// not depend on the order in which conditions are evaluated.
    public func firstMatch(
        _ subject: UnsafeRawBufferPointer, validUTF8: Bool, scratch: RegexScratch,
        checker: (any RegexAlternativeChecker)?
    ) -> Int? {
        regexSetFirstMatch(
            steps: UnsafeBufferPointer(steps), fallbacks: fallbackList, subject, validUTF8: validUTF8, scratch: scratch,
            checker: checker)
    }

    @inline(__always)
    fileprivate static func evaluate(
        _ branch: Step, _ subject: UnsafeRawBufferPointer, options: UInt32, scratch: RegexScratch,
        checker: (any RegexAlternativeChecker)?
    ) -> Int? {
        let rc = options == PCRE2.noUTFCheck && branch.jit
            ? PCRE2.jitMatch(branch.code, subject, data: scratch.outerData, context: scratch.plainContext)
            : PCRE2.match(branch.code, subject, options: options, data: scratch.outerData, context: scratch.plainContext)
        let outcome = RegexScratch.outcome(rc)
        if outcome == .noMatch { return nil }
        let verdict: RegexCheck = branch.needsCheck ? (checker?.check(alternative: Int(branch.alternative)) ?? .reject) : .accept
        switch (outcome, verdict) {
        case (.match, .accept):
            return Int(branch.alternative)
        case (.match, .unknown), (.budgetExceeded, .accept), (.budgetExceeded, .unknown):
            scratch.markBudgetExceeded()
            return nil
        default:
            return nil
        }
    }
}

/// ``RegexSet/firstMatch(_:validUTF8:scratch:checker:)`` over copies of a set's
/// ``RegexSet/stepList`` and its ``RegexSet/fallbackList`` (the set must outlive the call). A free
/// function: a static method would fetch the class's metadata on every call.
package func regexSetFirstMatch(
    steps: UnsafeBufferPointer<RegexSet.Step>, fallbacks: UnsafePointer<RegexSet.Step>, _ subject: UnsafeRawBufferPointer,
    validUTF8: Bool, scratch: RegexScratch, checker: (any RegexAlternativeChecker)?
) -> Int? {
    let options = validUTF8 ? PCRE2.noUTFCheck : 0
    for i in 0..<steps.count {
        let step = steps[i]
        guard step.merged else {
            if let winner = RegexSet.evaluate(step, subject, options: options, scratch: scratch, checker: checker) {
                return winner
            }
            continue
        }
        let context = step.hasCallouts ? scratch.calloutContext : scratch.plainContext
        if step.hasCallouts { scratch.checker = checker }
        let rc = validUTF8 && step.jit
            ? PCRE2.jitMatch(step.code, subject, data: scratch.outerData, context: context)
            : PCRE2.match(step.code, subject, options: options, data: scratch.outerData, context: context)
        if step.hasCallouts { scratch.checker = nil }
        switch RegexScratch.outcome(rc) {
        case .match:
            if let mark = PCRE2.mark(scratch.outerData) { return decodeMark(mark) }
        case .noMatch:
            break
        case .budgetExceeded:
            for k in Int(step.fallbackStart)..<(Int(step.fallbackStart) + Int(step.fallbackCount)) {
                if let winner = RegexSet.evaluate(fallbacks[k], subject, options: options, scratch: scratch, checker: checker) {
                    return winner
                }
            }
        }
    }
    return nil
}

@inline(__always)
func decodeMark(_ mark: UnsafePointer<UInt8>) -> Int {
    var value = 0
    var p = mark
    while p.pointee >= 0x30 && p.pointee <= 0x39 {
        value = value &* 10 &+ Int(p.pointee &- 0x30)
        p += 1
    }
    return value
}

/// Compiled single patterns shared by the ``RegexSet``s and header tests built with it: a pattern
/// that many sets list (the same route group reached from many sources and methods) is compiled
/// once per anchoring and JIT choice. Compiled `Regex` values are immutable, so sharing them
/// changes no match. Meant for building one policy, from one thread; keeps what it compiled
/// alive as long as the regexes it handed out.
public final class RegexCache {
    private struct Key: Hashable {
        var pattern: String
        var anchoring: RegexAnchoring
        var jit: Bool
    }

    private var regexes: [Key: Regex] = [:]
    /// Bytes of compiled code (PCRE2_INFO_SIZE) of every regex the cache holds, each once.
    public private(set) var codeSize = 0
    /// Bytes of JIT code (PCRE2_INFO_JITSIZE) of the same regexes.
    public private(set) var jitCodeSize = 0

    /// An empty cache.
    public init() {}

    /// The compiled `pattern`, compiling it on first use.
    public func regex(_ pattern: String, anchoring: RegexAnchoring, jit: Bool) throws(RegexSyntaxError) -> Regex {
        let key = Key(pattern: pattern, anchoring: anchoring, jit: jit)
        if let known = regexes[key] { return known }
        let regex = try Regex(pattern, anchoring: anchoring, jit: jit)
        regexes[key] = regex
        codeSize += regex.codeSize
        jitCodeSize += regex.jitCodeSize
        return regex
    }
}

/// The callout every merged branch with further conditions ends in: accept (0) or backtrack (1).
let regexSetCallout: PCRE2.CalloutFunction = { block, data in
    guard let block, let data, let mark = block.pointee.mark else { return 1 }
    let scratch = Unmanaged<RegexScratch>.fromOpaque(data).takeUnretainedValue()
    guard let checker = scratch.checker else { return 1 }
    switch checker.check(alternative: decodeMark(mark)) {
    case .accept:
        return 0
    case .reject:
        return 1
    case .unknown:
        scratch.markBudgetExceeded()
        return 1
    }
}

extension Regex {
    /// Bytes of compiled pattern (PCRE2_INFO_SIZE).
    public var codeSize: Int { PCRE2.size(code, PCRE2.infoSize) }

    /// Bytes of JIT-compiled machine code (PCRE2_INFO_JITSIZE); 0 when not JIT-compiled.
    public var jitCodeSize: Int { PCRE2.size(code, PCRE2.infoJITSize) }
}
