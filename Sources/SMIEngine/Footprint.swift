import SMIBytecode

/// What a compiled policy holds, in bytes: the program's sections plus the compiled regexes.
///
/// Words are 4 bytes and strings count their UTF-8 bytes. Regex code is PCRE2's compiled size
/// (`PCRE2_INFO_SIZE`, without JIT code) of each distinct path set and header pattern, counted
/// once however many decision-tree leaves share it. JIT code is listed apart (``regexJIT``): it is
/// machine code PCRE2 allocates beside the compiled pattern, and it depends on the platform.
/// Not counted: the runtime's name hash tables and Swift object headers. Disassembler
/// annotations are listed apart too: they are not needed to decide and can be left out
/// (``PolicyOptions/annotations``).
public struct PolicyFootprint: Sendable, Hashable, CustomStringConvertible {
    /// Instruction words × 4.
    public var code: Int
    /// Switch and weight table words × 4.
    public var tables: Int
    /// UTF-8 bytes of the strings decisions use (names, methods, patterns, match names).
    public var strings: Int
    /// Names, methods, grants, route sets (candidates, method lists, header tests) and split
    /// conditions, as 4-byte words.
    public var sections: Int
    /// Compiled PCRE2 code of the distinct path sets and header patterns.
    public var regexCode: Int
    /// JIT machine code of the same regexes (PCRE2_INFO_JITSIZE); not part of ``total``. 0 where
    /// PCRE2 has no JIT.
    public var regexJIT: Int
    /// Annotation entries (8 bytes each) and the text only they use.
    public var annotations: Int

    /// Everything a decision needs: code, tables, strings, sections and regex code (JIT code
    /// aside, see ``regexJIT``).
    public var total: Int { code + tables + strings + sections + regexCode }

    /// One line: the total, then each part.
    public var description: String {
        "total \(total) B (code \(code), tables \(tables), strings \(strings), sections \(sections), "
            + "regex \(regexCode)); regex JIT \(regexJIT) B and annotations \(annotations) B not counted"
    }

    init(program: Program, regexCode: Int, regexJIT: Int) {
        code = program.code.count * 4
        tables = program.tables.count * 4
        var annotationOnly = Set(program.annotations.map(\.text))
        var words = program.names.count + program.methods.count + program.grants.count * 3
        var used = Set(program.names)
        used.formUnion(program.methods)
        for g in program.grants {
            used.insert(g.trafficTarget)
            used.insert(g.match)
        }
        for set in program.routeSets {
            words += 1
            for c in set.candidates {
                words += 3 + c.methods.count + c.headers.count * 2
                used.insert(c.path)
                for h in c.headers {
                    used.insert(h.name)
                    used.insert(h.pattern)
                }
            }
        }
        for s in program.splitConditions { words += 3 + s.ports.count }
        annotationOnly.subtract(used)
        var stringBytes = 0
        var annotationText = 0
        for (i, s) in program.strings.enumerated() {
            if annotationOnly.contains(UInt32(i)) {
                annotationText += s.utf8.count
            } else {
                stringBytes += s.utf8.count
            }
        }
        strings = stringBytes
        sections = words * 4
        self.regexCode = regexCode
        self.regexJIT = regexJIT
        annotations = program.annotations.count * 8 + annotationText
    }
}

extension Policy {
    /// The bytes this policy holds, part by part (see ``PolicyFootprint``).
    public var footprint: PolicyFootprint {
        PolicyFootprint(program: program, regexCode: executable.regexCodeBytes, regexJIT: executable.regexJITBytes)
    }
}
