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

    init(_ p: [UInt8]) {
        var i = 0
        var inClass = false
        // For the catastrophic-backtracking heuristic: per open group, whether its body holds an
        // unbounded quantifier; when such a group is itself repeated without bound, flag it.
        var groupHasUnbounded: [Bool] = []
        var lastClosedGroupHadUnbounded = false
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
                inClass = true
                // `[]...]` and `[^]...]` take the first `]` literally.
                if at(i + 1) == UInt8(ascii: "^") { i += 1 }
                if at(i + 1) == UInt8(ascii: "]") { i += 1 }
                lastClosedGroupHadUnbounded = false
            case UInt8(ascii: "("):
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
            case UInt8(ascii: ")"):
                let had = groupHasUnbounded.popLast() ?? false
                if had, !groupHasUnbounded.isEmpty { groupHasUnbounded[groupHasUnbounded.count - 1] = true }
                lastClosedGroupHadUnbounded = had
                i += 1
                continue
            case UInt8(ascii: "*"), UInt8(ascii: "+"):
                if lastClosedGroupHadUnbounded { hasNestedQuantifier = true }
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
                    if !groupHasUnbounded.isEmpty { groupHasUnbounded[groupHasUnbounded.count - 1] = true }
                }
                lastClosedGroupHadUnbounded = false
            case UInt8(ascii: "#"):
                break
            default:
                lastClosedGroupHadUnbounded = false
            }
            i += 1
        }
    }
}
