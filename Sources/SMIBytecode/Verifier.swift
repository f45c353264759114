/// Why a program failed verification.
public struct VerificationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The code offset concerned, when there is one.
    public var offset: Int?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(offset: Int?, _ message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String {
        offset.map { "invalid program at \($0): \(message)" } ?? "invalid program: \(message)"
    }
}

/// Checks a program before it may run, whatever produced it.
///
/// Guarantees: every instruction decodes; every jump and switch target is strictly forward and
/// at an instruction boundary (so evaluation always ends); the last instruction ends evaluation
/// (no path falls off the end); every index and table offset is in bounds (strings, names,
/// methods, grants, route sets, split conditions, switch and weight tables, method indices of
/// route candidates, header tests); every candidate of a route set `MATCH_ROUTES` names has a
/// grant; both entries and every annotation are instruction boundaries (annotations sorted);
/// linear switch tables have strictly increasing keys, hash switch tables the entry count they
/// claim and an empty slot; weight tables are well formed. Default targets (of the switches and
/// `MATCH_ROUTES`) and `SWITCH_PROTO`'s three targets are jump targets like any other. Regexes are checked when the runtime
/// compiles them.
public enum Verifier {
    /// Verifies `program`; throws the first problem found.
    public static func verify(_ program: Program) throws(VerificationError) {
        let code = program.code
        guard !code.isEmpty else { throw VerificationError(offset: nil, "empty code") }
        guard code.count < Int(UInt32.max) else { throw VerificationError(offset: nil, "code too large") }

        // Pass 1: instruction boundaries.
        var boundaries = [Bool](repeating: false, count: code.count + 1)
        var pc = 0
        var last: Opcode?
        while pc < code.count {
            let word = code[pc]
            guard let op = Opcode(rawValue: UInt8(truncatingIfNeeded: word)) else {
                throw VerificationError(offset: pc, "unknown opcode \(word & 0xFF)")
            }
            guard word == op.headerWord else {
                throw VerificationError(offset: pc, "bad operand count or reserved bits in \(op.info.mnemonic)")
            }
            guard pc + op.length <= code.count else {
                throw VerificationError(offset: pc, "\(op.info.mnemonic) runs past the end of the code")
            }
            boundaries[pc] = true
            last = op
            pc += op.length
        }
        guard let last, last.info.isTerminator else {
            throw VerificationError(offset: nil, "the last instruction does not end evaluation")
        }
        for entry in [program.accessEntry, program.splitEntry] {
            guard Int(entry) < code.count, boundaries[Int(entry)] else {
                throw VerificationError(offset: Int(entry), "entry point is not an instruction")
            }
        }

        func checkTarget(_ target: UInt32, from pc: Int) throws(VerificationError) {
            guard Int(target) > pc, Int(target) < code.count, boundaries[Int(target)] else {
                throw VerificationError(offset: pc, "target \(target) is not a later instruction")
            }
        }

        // Pass 2: operands.
        pc = 0
        while pc < code.count {
            guard let op = Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc])) else {
                throw VerificationError(offset: pc, "unknown opcode")
            }
            for (k, kind) in op.info.operands.enumerated() {
                let value = code[pc + 1 + k]
                switch kind {
                case .switchTable:
                    // Decoding checks the form: a linear table's keys strictly increase; a hash
                    // table's count agrees with its slots and it keeps an empty slot (a miss ends
                    // there: a full table could make a lookup spin).
                    guard let entries = SwitchTable.decode(program.tables, at: Int(value)) else {
                        throw VerificationError(offset: pc, "switch table \(value) is out of bounds or malformed")
                    }
                    for entry in entries { try checkTarget(entry.target, from: pc) }
                case .routeSet:
                    guard value < program.routeSets.count else {
                        throw VerificationError(offset: pc, "route set \(value) out of bounds")
                    }
                    // MATCH_ROUTES allows with the matching candidate's grant: each must name one.
                    for candidate in program.routeSets[Int(value)].candidates where candidate.grant >= program.grants.count {
                        throw VerificationError(offset: pc, "route set \(value) has a candidate without a grant")
                    }
                case .grant:
                    guard value < program.grants.count else {
                        throw VerificationError(offset: pc, "grant \(value) out of bounds")
                    }
                case .reason:
                    guard DenyCode(rawValue: value) != nil else {
                        throw VerificationError(offset: pc, "unknown deny reason \(value)")
                    }
                case .target:
                    try checkTarget(value, from: pc)
                case .splitCondition:
                    guard value < program.splitConditions.count else {
                        throw VerificationError(offset: pc, "split condition \(value) out of bounds")
                    }
                case .weightTable:
                    guard let rows = WeightTable.decode(program.tables, at: Int(value)), !rows.isEmpty else {
                        throw VerificationError(offset: pc, "weight table \(value) is malformed")
                    }
                    for row in rows where row.name >= program.names.count {
                        throw VerificationError(offset: pc, "weight table \(value) names backend \(row.name) out of bounds")
                    }
                case .name:
                    guard value < program.names.count else {
                        throw VerificationError(offset: pc, "name \(value) out of bounds")
                    }
                }
            }
            pc += op.length
        }

        // Sections.
        let stringCount = program.strings.count
        func checkString(_ index: UInt32, _ what: String, allowNone: Bool = false) throws(VerificationError) {
            if allowNone && index == noIndex { return }
            guard index < stringCount else { throw VerificationError(offset: nil, "\(what) string \(index) out of bounds") }
        }
        for name in program.names { try checkString(name, "name") }
        for method in program.methods { try checkString(method, "method") }
        for grant in program.grants {
            try checkString(grant.trafficTarget, "grant")
            try checkString(grant.match, "grant match", allowNone: true)
        }
        for set in program.routeSets {
            for candidate in set.candidates {
                if candidate.grant != noIndex, candidate.grant >= program.grants.count {
                    throw VerificationError(offset: nil, "route candidate grant \(candidate.grant) out of bounds")
                }
                try checkString(candidate.path, "path pattern", allowNone: true)
                for method in candidate.methods where method >= program.methods.count {
                    throw VerificationError(offset: nil, "route candidate method \(method) out of bounds")
                }
                for header in candidate.headers {
                    try checkString(header.name, "header name")
                    try checkString(header.pattern, "header pattern")
                }
            }
        }
        for condition in program.splitConditions {
            if condition.routeSet != noIndex, condition.routeSet >= program.routeSets.count {
                throw VerificationError(offset: nil, "split condition route set \(condition.routeSet) out of bounds")
            }
        }
        var previousAnnotation: UInt32 = 0
        for annotation in program.annotations {
            try checkString(annotation.text, "annotation")
            guard Int(annotation.offset) < code.count, boundaries[Int(annotation.offset)] else {
                throw VerificationError(offset: Int(annotation.offset), "annotation is not at an instruction")
            }
            guard annotation.offset >= previousAnnotation else {
                throw VerificationError(offset: Int(annotation.offset), "annotations are not sorted by offset")
            }
            previousAnnotation = annotation.offset
        }
    }
}
