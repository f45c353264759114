/// A conservative lexical scan of a (valid) PCRE2 pattern.
///
/// It decides whether the pattern can be wrapped as one branch `(?:…)` of a larger alternation
/// without changing what it matches or what the other branches match: no backtracking verbs
/// (`(*COMMIT)` would stop later branches), no numbered or named groups that the merge would
/// renumber or duplicate, no callouts, no `\Q…\E` or extended-mode comments that could swallow
/// the text after it. Anything it is unsure of is "not mergeable", which only costs speed.
struct PatternScan {
    var isMergeable = true
    var hasLookaround = false
    var hasNumericBackreference = false
    var hasNamedReference = false
    var hasNestedQuantifier = false
    /// An alternation whose branches can start with the same text (`(a|a)*`, `(a|ab)+`,
    /// `(.|x)*`), itself repeated without bound: another way to backtrack exponentially.
    var hasRepeatedOverlappingAlternation = false

    /// What one open group has seen, for the overlapping-alternation heuristic.
    private struct GroupBranches {
        /// The first atom of each finished branch (nil: not known, treated as distinct).
        var firstAtoms: [[UInt8]?] = []
        /// The current branch's first atom, once read.
        var currentFirst: [UInt8]?? = .none
        var hasAlternation = false

        mutating func sawAtom(_ atom: [UInt8]?) {
            if case .none = currentFirst { currentFirst = .some(atom) }
        }

        mutating func endBranch() {
            if case .some(let first) = currentFirst { firstAtoms.append(first) } else { firstAtoms.append([]) }
            currentFirst = .none
        }

        /// Whether two branches may match the same leading text.
        var overlaps: Bool {
            guard hasAlternation else { return false }
            let wide = Set([".", "\\w", "\\W", "\\S", "\\D", "\\N", "\\X"].map { Array($0.utf8) })
            var seen = Set<[UInt8]>()
            for case let atom? in firstAtoms {
                if wide.contains(atom) || !seen.insert(atom).inserted { return true }
            }
            return false
        }
    }

    init(_ p: [UInt8]) {
        var i = 0
        var inClass = false
        // For the catastrophic-backtracking heuristic: per open group, whether its body holds an
        // unbounded quantifier; when such a group is itself repeated without bound, flag it.
        var groupHasUnbounded: [Bool] = []
        var lastClosedGroupHadUnbounded = false
        var branches: [GroupBranches] = []
        var lastClosedGroupOverlaps = false
        func atom(_ text: ArraySlice<UInt8>?) {
            guard !branches.isEmpty else { return }
            branches[branches.count - 1].sawAtom(text.map { Array($0) })
        }
        let n = p.count
        func at(_ k: Int) -> UInt8 { k < n ? p[k] : 0 }
        while i < n {
            let c = p[i]
            if c == UInt8(ascii: "\\") {
                let d = at(i + 1)
                switch d {
                case UInt8(ascii: "Q"), UInt8(ascii: "E"):
                    isMergeable = false
                case UInt8(ascii: "1")...UInt8(ascii: "9"):
                    if !inClass {
                        hasNumericBackreference = true
                        isMergeable = false
                    }
                case UInt8(ascii: "g"), UInt8(ascii: "k"):
                    if !inClass {
                        hasNamedReference = true
                        isMergeable = false
                    }
                case UInt8(ascii: "K"), UInt8(ascii: "C"):
                    isMergeable = false
                default:
                    break
                }
                lastClosedGroupHadUnbounded = false
                lastClosedGroupOverlaps = false
                if !inClass { atom(p[i..<min(i + 2, n)]) }
                i += 2
                continue
            }
            if inClass {
                if c == UInt8(ascii: "]") { inClass = false }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "["):
                // The class's text up to its end is the atom (a class at a branch start is compared whole).
                var end = i + 1
                if at(end) == UInt8(ascii: "^") { end += 1 }
                if at(end) == UInt8(ascii: "]") { end += 1 }
                while end < n, p[end] != UInt8(ascii: "]") { end += p[end] == UInt8(ascii: "\\") ? 2 : 1 }
                atom(p[i..<min(end + 1, n)])
                lastClosedGroupOverlaps = false
                inClass = true
                // `[]...]` and `[^]...]` take the first `]` literally.
                if at(i + 1) == UInt8(ascii: "^") { i += 1 }
                if at(i + 1) == UInt8(ascii: "]") { i += 1 }
                lastClosedGroupHadUnbounded = false
            case UInt8(ascii: "("):
                atom(nil)
                branches.append(GroupBranches())
                lastClosedGroupOverlaps = false
                groupHasUnbounded.append(false)
                if at(i + 1) == UInt8(ascii: "*") {
                    isMergeable = false  // verbs and start-of-pattern options
                } else if at(i + 1) == UInt8(ascii: "?") {
                    let k = at(i + 2)
                    switch k {
                    case UInt8(ascii: ":"):
                        break
                    case UInt8(ascii: "="), UInt8(ascii: "!"):
                        hasLookaround = true
                    case UInt8(ascii: "<"):
                        let m = at(i + 3)
                        if m == UInt8(ascii: "=") || m == UInt8(ascii: "!") {
                            hasLookaround = true
                        } else {
                            isMergeable = false  // named group
                        }
                    default:
                        // Option settings such as `(?i)` or `(?i:` are fine, except `x`
                        // (comments could swallow the rest of a merged pattern).
                        var j = i + 2
                        var optionsOnly = true
                        while j < n, p[j] != UInt8(ascii: ")"), p[j] != UInt8(ascii: ":") {
                            if !"imnsJU-^".utf8.contains(p[j]) { optionsOnly = false }
                            j += 1
                        }
                        if !optionsOnly || j >= n { isMergeable = false }
                    }
                } else {
                    // A plain capturing group renumbers when merged; harmless without
                    // backreferences, which are excluded above.
                }
                lastClosedGroupHadUnbounded = false
                // Skip the group's prefix (`?:`, `?<name>`, `?i:`, ...) so that its first atom is
                // the body's.
                if at(i + 1) == UInt8(ascii: "?") {
                    var j = i + 2
                    let k = at(j)
                    if "=!>:|".utf8.contains(k) {
                        j += 1
                    } else if k == UInt8(ascii: "<"), "=!".utf8.contains(at(j + 1)) {
                        j += 2
                    } else if k == UInt8(ascii: "<") || k == UInt8(ascii: "'")
                        || (k == UInt8(ascii: "P") && at(j + 1) == UInt8(ascii: "<"))
                    {
                        while j < n, p[j] != UInt8(ascii: ">"), p[j] != UInt8(ascii: "'") || j == i + 2 { j += 1 }
                        j += 1
                    } else {
                        while j < n, "imnsxJU-^".utf8.contains(p[j]) { j += 1 }
                        if at(j) == UInt8(ascii: ":") { j += 1 }
                    }
                    i = min(j, n) - 1
                }
            case UInt8(ascii: "|"):
                if !branches.isEmpty {
                    branches[branches.count - 1].hasAlternation = true
                    branches[branches.count - 1].endBranch()
                }
                lastClosedGroupHadUnbounded = false
                lastClosedGroupOverlaps = false
            case UInt8(ascii: ")"):
                if var closed = branches.popLast() {
                    closed.endBranch()
                    lastClosedGroupOverlaps = closed.overlaps
                } else {
                    lastClosedGroupOverlaps = false
                }
                let had = groupHasUnbounded.popLast() ?? false
                if had, !groupHasUnbounded.isEmpty { groupHasUnbounded[groupHasUnbounded.count - 1] = true }
                lastClosedGroupHadUnbounded = had
                i += 1
                continue
            case UInt8(ascii: "*"), UInt8(ascii: "+"):
                if lastClosedGroupHadUnbounded { hasNestedQuantifier = true }
                if lastClosedGroupOverlaps { hasRepeatedOverlappingAlternation = true }
                lastClosedGroupOverlaps = false
                if !groupHasUnbounded.isEmpty { groupHasUnbounded[groupHasUnbounded.count - 1] = true }
                lastClosedGroupHadUnbounded = false
            case UInt8(ascii: "{"):
                // `{n,}` is unbounded.
                var j = i + 1
                var sawComma = false
                var closedOpen = false
                while j < n, p[j] != UInt8(ascii: "}") {
                    if p[j] == UInt8(ascii: ",") { sawComma = true; closedOpen = j + 1 < n && p[j + 1] == UInt8(ascii: "}") }
                    j += 1
                }
                if sawComma && closedOpen {
                    if lastClosedGroupHadUnbounded { hasNestedQuantifier = true }
                    if lastClosedGroupOverlaps { hasRepeatedOverlappingAlternation = true }
                    if !groupHasUnbounded.isEmpty { groupHasUnbounded[groupHasUnbounded.count - 1] = true }
                }
                lastClosedGroupHadUnbounded = false
                lastClosedGroupOverlaps = false
            case UInt8(ascii: "#"):
                atom(p[i..<(i + 1)])
            default:
                atom(p[i..<(i + 1)])
                lastClosedGroupHadUnbounded = false
                lastClosedGroupOverlaps = false
            }
            i += 1
        }
    }
}
