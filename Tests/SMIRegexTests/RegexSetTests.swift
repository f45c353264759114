import SMIRegex
import Testing

/// Accepts the branches listed in `accepted`; records which it was asked about.
final class ListChecker: RegexAlternativeChecker {
    var accepted: Set<Int>
    var asked: [Int] = []
    init(_ accepted: Set<Int>) { self.accepted = accepted }
    func check(alternative index: Int) -> RegexCheck {
        asked.append(index)
        return accepted.contains(index) ? .accept : .reject
    }
}

func firstMatch(_ set: RegexSet, _ subject: String, checker: ListChecker? = nil, scratch: RegexScratch? = nil) -> Int? {
    let scratch = scratch ?? RegexScratch(matchLimit: 100_000, depthLimit: 10_000)!
    var s = subject
    return s.withUTF8 { set.firstMatch(UnsafeRawBufferPointer($0), validUTF8: true, scratch: scratch, checker: checker) }
}

@Suite("RegexSet: the first branch in order whose pattern matches and whose checks hold")
struct RegexSetTests {
    @Test("branches are tried in order and anchored at the start only")
    func order() throws {
        let set = try RegexSet(
            [.init(pattern: "/api/v[0-9]+", needsCheck: false), .init(pattern: "/api", needsCheck: false), .init(pattern: "", needsCheck: false)],
            anchoring: .start)
        #expect(set.programCount == 1)
        #expect(firstMatch(set, "/api/v2/items") == 0)
        #expect(firstMatch(set, "/api/x") == 1)
        #expect(firstMatch(set, "/v1/api") == 2)
    }

    @Test("an empty set matches nothing (a bundle may hold an empty route set; it once ran an uninitialized step)")
    func empty() throws {
        for anchoring in [RegexAnchoring.start, .whole] {
            let set = try RegexSet([], anchoring: anchoring)
            #expect(set.programCount == 0)
            for _ in 0..<100 {
                #expect(firstMatch(set, "/api/beta") == nil)
                #expect(firstMatch(set, "") == nil)
            }
        }
    }

    @Test("whole anchoring needs the branch to reach the end of the subject")
    func whole() throws {
        let set = try RegexSet([.init(pattern: "/metrics", needsCheck: false), .init(pattern: "/metrics/.*", needsCheck: false)], anchoring: .whole)
        #expect(firstMatch(set, "/metrics") == 0)
        #expect(firstMatch(set, "/metrics/x") == 1)
        #expect(firstMatch(set, "/metricsx") == nil)
    }

    @Test("a refused check backtracks into the next branch, in one PCRE2 call")
    func checks() throws {
        let set = try RegexSet(
            [.init(pattern: "/a", needsCheck: true), .init(pattern: "/a.*", needsCheck: true), .init(pattern: "/", needsCheck: false)],
            anchoring: .start)
        #expect(set.programCount == 1)
        let refuseAll = ListChecker([])
        #expect(firstMatch(set, "/abc", checker: refuseAll) == 2)
        #expect(refuseAll.asked == [0, 1])
        let acceptSecond = ListChecker([1])
        #expect(firstMatch(set, "/abc", checker: acceptSecond) == 1)
        #expect(firstMatch(set, "/xyz", checker: ListChecker([0, 1])) == 2)
    }

    @Test("patterns that cannot be merged stay separate and keep their place in the order")
    func unmergeable() throws {
        let set = try RegexSet(
            [
                .init(pattern: "/x", needsCheck: false), .init(pattern: "/(a)\\1", needsCheck: false),
                .init(pattern: "(*COMMIT)/b", needsCheck: false), .init(pattern: "/b", needsCheck: false),
                .init(pattern: "(?<n>/c)", needsCheck: false), .init(pattern: "\\Q/d\\E", needsCheck: false),
            ],
            anchoring: .start)
        #expect(set.programCount == 6)
        #expect(firstMatch(set, "/aa") == 1)
        #expect(firstMatch(set, "/b") == 2)
        #expect(firstMatch(set, "/c") == 4)
        #expect(firstMatch(set, "/d") == 5)
        #expect(firstMatch(set, "/e") == nil)
    }

    @Test("an invalid branch is reported with its index and offset")
    func invalid() {
        #expect(throws: RegexSetError.self) {
            _ = try RegexSet([.init(pattern: "/ok", needsCheck: false), .init(pattern: "/api/(v1", needsCheck: false)], anchoring: .start)
        }
        do {
            _ = try RegexSet([.init(pattern: "/ok", needsCheck: false), .init(pattern: "/api/(v1", needsCheck: false)], anchoring: .start)
        } catch {
            #expect(error.alternative == 1)
            #expect(error.error.offset == 8)
        }
    }

    @Test("a branch that exceeds the match budget fails closed and does not hide later branches")
    func budget() throws {
        let scratch = try #require(RegexScratch(matchLimit: 1_000, depthLimit: 1_000))
        let set = try RegexSet([.init(pattern: "/(a+)+$", needsCheck: false), .init(pattern: "/a", needsCheck: false)], anchoring: .start)
        let subject = "/" + String(repeating: "a", count: 40) + "!"
        #expect(firstMatch(set, subject, scratch: scratch) == 1)
        #expect(scratch.budgetExceeded)
        scratch.resetBudgetFlag()
        #expect(!scratch.budgetExceeded)
    }

    @Test("the features scan finds backreferences, lookaround and nested repetition")
    func features() {
        #expect(Regex.features(of: "/(a)\\1").backreferences)
        #expect(Regex.features(of: "/a(?=b)").lookaround)
        #expect(Regex.features(of: "/a(?<!b)").lookaround)
        #expect(Regex.features(of: "/(a+)+$").catastrophicBacktracking)
        #expect(Regex.features(of: "/(a*)*").catastrophicBacktracking)
        #expect(!Regex.features(of: "/api/v[0-9]+/items/[^/]+").catastrophicBacktracking)
        // Repeated alternations whose branches can start alike backtrack exponentially too.
        for risky in ["/(a|a)*$", "(a|aa)+$", "/(?:ab|a)+c", "(.|x)*y", #"(\w|a)+!"#, "([a-z]|[a-z])+$", "(?<n>a|a){2,}"] {
            #expect(Regex.features(of: risky).catastrophicBacktracking, "\(risky)")
        }
        for fine in ["/(get|put)+", "/(x|y)z", "/(a|b)*c", "/(a+){2}", "/(?i:ab|cd)+", "[(a|a)*]", #"\(a|a\)*"#, "(a|a)?", "(a+)?+"] {
            #expect(!Regex.features(of: fine).catastrophicBacktracking, "\(fine)")
        }
        #expect(Regex.features(of: "/api/v[0-9]+").mergeable)
        #expect(Regex.features(of: "(?i)/admin").mergeable)
        #expect(!Regex.features(of: "(?x)/a # comment").mergeable)
    }

    @Test("a single regex reports match, no match and an invalid UTF-8 subject as no match")
    func single() throws {
        let scratch = try #require(RegexScratch(matchLimit: 100_000, depthLimit: 10_000))
        let regex = try Regex(".*Firefox.*", anchoring: .whole)
        let bytes: [UInt8] = Array("Mozilla Firefox/1".utf8)
        #expect(bytes.withUnsafeBytes { scratch.evaluate(regex, $0, validUTF8: false) } == .match)
        let invalid: [UInt8] = [0x46, 0xFF, 0x46]
        #expect(invalid.withUnsafeBytes { scratch.evaluate(regex, $0, validUTF8: false) } == .noMatch)
        #expect(Regex.check("(") != nil)
        #expect(Regex.check("\\C") != nil)  // PCRE2_NEVER_BACKSLASH_C
    }

    @Test("JIT code is measured apart from the compiled pattern, and only where JIT compiled")
    func jitSize() throws {
        let jitted = try Regex("/api/v[0-9]+/items/[^/]+", anchoring: .start)
        let interpreted = try Regex("/api/v[0-9]+/items/[^/]+", anchoring: .start, jit: false)
        #expect(jitted.codeSize > 0)
        #expect(jitted.codeSize == interpreted.codeSize)
        #expect(interpreted.jitCodeSize == 0)
        #expect(jitted.jitCodeSize > 0 || !jitted.isJITCompiled)
        let set = try RegexSet(
            [RegexAlternative(pattern: "/a", needsCheck: false), RegexAlternative(pattern: "/b", needsCheck: true)],
            anchoring: .start)
        #expect(set.codeSize > 0)
        #expect(set.jitCodeSize > 0 || !jitted.isJITCompiled)
    }

    @Test("a RegexCache compiles each single pattern once and counts it once; sets built with it match as without")
    func cacheSharesSingles() throws {
        let cache = RegexCache()
        let a = try cache.regex("/a/[0-9]+", anchoring: .start, jit: false)
        let b = try cache.regex("/a/[0-9]+", anchoring: .start, jit: false)
        #expect(a === b)
        #expect(cache.codeSize == a.codeSize)
        let whole = try cache.regex("/a/[0-9]+", anchoring: .whole, jit: false)
        #expect(whole !== a)
        #expect(cache.codeSize == a.codeSize + whole.codeSize)
        #expect(throws: RegexSyntaxError.self) { try cache.regex("(", anchoring: .start, jit: false) }

        // Two merged sets listing the same patterns: their single fallbacks come from the cache.
        let first = [RegexAlternative(pattern: "/x/.*", needsCheck: false), RegexAlternative(pattern: "/y", needsCheck: false)]
        let second = [RegexAlternative(pattern: "/y", needsCheck: false), RegexAlternative(pattern: "/x/.*", needsCheck: false)]
        let shared = RegexCache()
        let s1 = try RegexSet(first, anchoring: .start, cache: shared)
        let before = shared.codeSize
        let s2 = try RegexSet(second, anchoring: .start, cache: shared)
        #expect(before > 0 && shared.codeSize == before, "the second set compiled no new single program")
        let plain2 = try RegexSet(second, anchoring: .start)
        #expect(plain2.codeSize == s2.codeSize + before)
        let scratch = try #require(RegexScratch(matchLimit: 100_000, depthLimit: 10_000))
        for subject in ["/x/1", "/y", "/z", "/yx"] {
            let bytes = Array(subject.utf8)
            let got = bytes.withUnsafeBytes { (s2.firstMatch($0, validUTF8: true, scratch: scratch, checker: nil), plain2.firstMatch($0, validUTF8: true, scratch: scratch, checker: nil)) }
            #expect(got.0 == got.1, "\(subject)")
        }
        _ = s1
    }
}
