import SMIBytecode
import SMIEngine
import SMIRegex

/// The size of a compiled policy in bytes, from `Policy.program` (the facade has no size of its
/// own). Words are 4 bytes; strings count their UTF-8 bytes; regex code is PCRE2's compiled
/// pattern size (PCRE2_INFO_SIZE, without JIT code), measured by compiling the program's route
/// sets and header patterns again the way the runtime does.
public struct CompiledSize: Sendable, CustomStringConvertible {
    /// `code` words × 4.
    public var code = 0
    /// `tables` words × 4 (switch and weight tables).
    public var tables = 0
    /// UTF-8 bytes of every string (names, patterns, match names, annotation text).
    public var strings = 0
    /// names, methods, grants, route sets (candidates, method lists, header tests) and split
    /// conditions, as 4-byte words.
    public var sections = 0
    /// Disassembler annotations (offset, text) × 8; not needed to decide.
    public var annotations = 0
    /// Compiled PCRE2 code of path sets and header patterns.
    public var regexCode = 0

    /// code + tables + strings + sections + regex code (annotations left out).
    public var total: Int { code + tables + strings + sections + regexCode }

    public init(_ program: Program) {
        code = program.code.count * 4
        tables = program.tables.count * 4
        strings = program.strings.reduce(0) { $0 + $1.utf8.count }
        var words = program.names.count + program.methods.count + program.grants.count * 3
        for set in program.routeSets {
            words += 1
            for c in set.candidates { words += 3 + c.methods.count + c.headers.count * 2 }
        }
        for s in program.splitConditions { words += 3 + s.ports.count }
        sections = words * 4
        annotations = program.annotations.count * 8
        let anchoring: RegexAnchoring = program.options.fullPathMatch ? .whole : .start
        for set in program.routeSets {
            let alternatives = set.candidates.map { c in
                RegexAlternative(
                    pattern: c.path == noIndex ? "(?s:.*)" : (program.string(c.path) ?? ""),
                    needsCheck: !c.methods.isEmpty || !c.headers.isEmpty)
            }
            if let compiled = try? RegexSet(alternatives, anchoring: anchoring) { regexCode += compiled.codeSize }
            for c in set.candidates {
                for h in c.headers {
                    if let r = try? Regex(program.string(h.pattern) ?? "", anchoring: .whole, jit: false) {
                        regexCode += r.codeSize
                    }
                }
            }
        }
    }

    public var description: String {
        "total \(total) B (code \(code), tables \(tables), strings \(strings), sections \(sections), regex \(regexCode); annotations \(annotations) not counted)"
    }
}
