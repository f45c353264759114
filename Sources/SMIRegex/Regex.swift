import CPCRE2

/// A pattern PCRE2 rejects: its message and the 0-based byte offset in the pattern.
public struct RegexSyntaxError: Error, Sendable, Hashable {
    /// PCRE2's message, e.g. `missing closing parenthesis`.
    public var message: String
    /// Byte offset in the pattern where PCRE2 stopped.
    public var offset: Int
}

/// Where a pattern must match.
public enum RegexAnchoring: Sendable, Hashable {
    /// Anchored at the start of the subject, open at the end (`pathRegex` by default).
    case start
    /// Anchored at both ends: the whole subject must match (header values, `fullPathMatch`).
    case whole
}

/// The outcome of one regex evaluation.
public enum RegexOutcome: Sendable, Hashable {
    case match
    case noMatch
    /// PCRE2 stopped at its match, depth, heap or JIT stack limit; callers fail closed.
    case budgetExceeded
}

/// Static facts about a pattern, for diagnostics.
public struct RegexFeatures: Sendable, Hashable {
    /// Uses backreferences (RE2-based meshes reject them).
    public var backreferences: Bool
    /// Uses lookahead or lookbehind (RE2-based meshes reject them).
    public var lookaround: Bool
    /// Can be merged with other patterns into one alternation without changing its meaning.
    public var mergeable: Bool
    /// Has a nested or adjacent unbounded repetition that can backtrack catastrophically
    /// (`(a+)+`, `(a*)*`, `(a|a)*`); a heuristic, not a proof.
    public var catastrophicBacktracking: Bool
}

/// One compiled PCRE2 pattern (UTF-8 mode, `$` only at the very end, JIT when available).
///
/// Immutable and safe to share between threads; matching needs a ``RegexScratch`` owned by the
/// calling thread.
public final class Regex: @unchecked Sendable {
    let code: PCRE2.Code
    /// The pattern as written.
    public let pattern: String
    /// Whether PCRE2's JIT compiled the pattern.
    public let isJITCompiled: Bool

    /// Compiles `pattern`, JIT-compiling it unless `jit` is false.
    public init(_ pattern: String, anchoring: RegexAnchoring, jit: Bool = true) throws(RegexSyntaxError) {
        var options = Regex.baseOptions | PCRE2.anchored
        if anchoring == .whole { options |= 0x2000_0000 }  // PCRE2_ENDANCHORED
        switch PCRE2.compile(Array(pattern.utf8), options: options) {
        case .success(let code):
            self.code = code
        case .failure(let error):
            throw error
        }
        self.pattern = pattern
        self.isJITCompiled = jit && PCRE2.jitCompile(code)
    }

    init(code: PCRE2.Code, pattern: String, jit: Bool) {
        self.code = code
        self.pattern = pattern
        self.isJITCompiled = jit && PCRE2.jitCompile(code)
    }

    deinit { PCRE2.free(code) }

    static let baseOptions = PCRE2.utf | PCRE2.dollarEndOnly | PCRE2.neverBackslashC

    /// Checks `pattern` without keeping it: nil when PCRE2 accepts it, else the error.
    public static func check(_ pattern: String) -> RegexSyntaxError? {
        switch PCRE2.compile(Array(pattern.utf8), options: baseOptions) {
        case .success(let code):
            PCRE2.free(code)
            return nil
        case .failure(let error):
            return error
        }
    }

    /// What the pattern uses, for portability and safety warnings. Assumes a valid pattern.
    public static func features(of pattern: String) -> RegexFeatures {
        let scan = PatternScan(Array(pattern.utf8))
        var backrefs = scan.hasNumericBackreference || scan.hasNamedReference
        if case .success(let code) = PCRE2.compile(Array(pattern.utf8), options: baseOptions) {
            backrefs = backrefs || PCRE2.info(code, PCRE2.infoBackrefMax) > 0
            PCRE2.free(code)
        }
        return RegexFeatures(
            backreferences: backrefs,
            lookaround: scan.hasLookaround,
            mergeable: scan.isMergeable,
            catastrophicBacktracking: scan.hasNestedQuantifier || scan.hasRepeatedOverlappingAlternation
        )
    }

    /// Matches `subject` (bytes; checked for valid UTF-8 unless `validUTF8` says it was).
    @inline(__always)
    public func evaluate(_ subject: UnsafeRawBufferPointer, validUTF8: Bool, scratch: RegexScratch) -> RegexOutcome {
        let rc = PCRE2.match(
            code, subject, options: validUTF8 ? PCRE2.noUTFCheck : 0,
            data: scratch.innerData, context: scratch.plainContext)
        return RegexScratch.outcome(rc)
    }
}

/// A thread's working memory for matching: PCRE2 match data and match contexts carrying the
/// policy's match and depth limits. Create one per thread; never share one between threads.
public final class RegexScratch: @unchecked Sendable {
    let outerData: PCRE2.MatchData
    let innerData: PCRE2.MatchData
    let plainContext: PCRE2.MatchContext
    let calloutContext: PCRE2.MatchContext
    /// Set during a ``RegexSet`` match with checks; read by the callout.
    @exclusivity(unchecked) unowned(unsafe) var checker: (any RegexAlternativeChecker)?
    /// Set when any evaluation since the last ``resetBudgetFlag()`` hit a limit.
    @exclusivity(unchecked) public private(set) var budgetExceeded = false

    /// Creates scratch with PCRE2's match limit and depth limit; nil if memory is exhausted.
    public init?(matchLimit: UInt32, depthLimit: UInt32) {
        guard let outer = PCRE2.createMatchData() else { return nil }
        guard let inner = PCRE2.createMatchData() else {
            PCRE2.freeMatchData(outer)
            return nil
        }
        guard let plain = PCRE2.createMatchContext(matchLimit: matchLimit, depthLimit: depthLimit) else {
            PCRE2.freeMatchData(outer)
            PCRE2.freeMatchData(inner)
            return nil
        }
        guard let withCallout = PCRE2.createMatchContext(matchLimit: matchLimit, depthLimit: depthLimit) else {
            PCRE2.freeMatchData(outer)
            PCRE2.freeMatchData(inner)
            PCRE2.freeMatchContext(plain)
            return nil
        }
        outerData = outer
        innerData = inner
        plainContext = plain
        calloutContext = withCallout
        PCRE2.setCallout(withCallout, regexSetCallout, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        PCRE2.freeMatchData(outerData)
        PCRE2.freeMatchData(innerData)
        PCRE2.freeMatchContext(plainContext)
        PCRE2.freeMatchContext(calloutContext)
    }

    /// Clears the budget flag; call at the start of each decision.
    @inline(__always)
    public func resetBudgetFlag() { budgetExceeded = false }

    @inline(__always)
    static func outcome(_ rc: Int32) -> RegexOutcome {
        if rc >= 0 { return .match }
        switch rc {
        case PCRE2.errorMatchLimit, PCRE2.errorDepthLimit, PCRE2.errorHeapLimit, PCRE2.errorJITStackLimit:
            return .budgetExceeded
        default:
            return .noMatch  // no match, or a subject that is not valid UTF-8: fail closed
        }
    }

    /// Records that a regex that could have decided the outcome ran out of budget.
    @inline(__always)
    public func markBudgetExceeded() { budgetExceeded = true }

    /// Runs `regex` and records a budget overrun in ``budgetExceeded``.
    @inline(__always)
    public func evaluate(_ regex: Regex, _ subject: UnsafeRawBufferPointer, validUTF8: Bool) -> RegexOutcome {
        let result = regex.evaluate(subject, validUTF8: validUTF8, scratch: self)
        if result == .budgetExceeded { budgetExceeded = true }
        return result
    }
}

extension RegexScratch {
    /// Changes the match and depth limits used by later evaluations.
    public func setLimits(match: UInt32, depth: UInt32) {
        PCRE2.setLimits(plainContext, match: match, depth: depth)
        PCRE2.setLimits(calloutContext, match: match, depth: depth)
    }
}
