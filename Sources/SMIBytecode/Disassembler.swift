/// Prints a program for people: sections, then each instruction with its operands resolved and
/// the resource it came from. The output is stable (golden tests compare it).
public enum Disassembler {
    /// The whole program as text.
    public static func disassemble(_ program: Program) -> String {
        var out: [String] = []
        let o = program.options
        out.append("; smi program, format \(Program.formatVersion)")
        out.append(
            "; options: fullPathMatch=\(o.fullPathMatch) normalization=0x\(String(o.normalization.rawValue, radix: 16)) "
                + "matchLimit=\(o.matchLimit) depthLimit=\(o.depthLimit) trustDomain=\(o.trustDomain ?? "*")")
        out.append("; \(program.code.count) code words, \(program.tables.count) table words, \(program.strings.count) strings, "
            + "\(program.names.count) names, \(program.routeSets.count) route sets")
        if !program.methods.isEmpty {
            out.append("; methods: " + program.methods.enumerated().map { "\($0.offset)=\(program.string($0.element) ?? "?")" }.joined(separator: " "))
        }
        for (i, set) in program.routeSets.enumerated() {
            out.append("; routes \(i):")
            for (k, c) in set.candidates.enumerated() {
                out.append(";   \(k): " + describe(c, program))
            }
        }
        for (i, condition) in program.splitConditions.enumerated() {
            var parts: [String] = []
            if condition.routeSet != noIndex { parts.append("routes \(condition.routeSet)") }
            if condition.anyPort { parts.append("any port") }
            if !condition.ports.isEmpty { parts.append("ports " + condition.ports.map(String.init).joined(separator: ",")) }
            out.append("; condition \(i): " + (parts.isEmpty ? "never" : parts.joined(separator: " or ")))
        }
        var notes: [UInt32: [String]] = [:]
        for a in program.annotations { notes[a.offset, default: []].append(program.string(a.text) ?? "?") }
        var pc = 0
        while pc < program.code.count {
            if pc == Int(program.accessEntry) { out.append("access:") }
            if pc == Int(program.splitEntry) { out.append("split:") }
            let (text, length) = instruction(at: pc, in: program)
            var line = String(repeating: " ", count: max(0, 6 - String(pc).count)) + "\(pc)  " + text
            if let note = notes[UInt32(pc)] { line += pad(line) + "; " + note.joined(separator: "; ") }
            out.append(line)
            pc += length
        }
        return out.joined(separator: "\n") + "\n"
    }

    private static func pad(_ line: String) -> String {
        String(repeating: " ", count: max(1, 56 - line.count))
    }

    /// One instruction as text and its length; `?` marks anything out of range.
    public static func instruction(at pc: Int, in program: Program) -> (String, Int) {
        let code = program.code
        guard pc < code.count, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc])) else {
            return (".word 0x" + String(pc < code.count ? code[pc] : 0, radix: 16), 1)
        }
        var parts = [op.info.mnemonic]
        for (k, kind) in op.info.operands.enumerated() {
            guard pc + 1 + k < code.count else { parts.append("?"); continue }
            let text = operand(code[pc + 1 + k], kind: kind, opcode: op, program: program)
            // SWITCH_PROTO's operands are its direct table: label each target with its protocol.
            if op == .switchProtocol, let proto = ProtocolCode(rawValue: UInt32(k)) {
                parts.append(proto.spelling + text)
            } else {
                parts.append(text)
            }
        }
        return (parts.joined(separator: " "), op.length)
    }

    private static func operand(_ value: UInt32, kind: OperandKind, opcode: Opcode, program: Program) -> String {
        switch kind {
        case .switchTable:
            guard let entries = SwitchTable.decode(program.tables, at: Int(value)) else { return "table?\(value)" }
            let rows = entries.sorted { $0.target < $1.target }.map { entry -> String in
                "\(key(entry.key, opcode: opcode, program: program))->\(entry.target)"
            }
            return "{" + rows.joined(separator: ", ") + "}"
        case .routeSet:
            return "routes \(value)"
        case .grant:
            guard value < program.grants.count else { return "grant?\(value)" }
            let g = program.grants[Int(value)]
            var text = "\(program.string(g.trafficTarget) ?? "?") \(g.ruleKind.spelling)"
            if g.match != noIndex { text += " match=\(program.string(g.match) ?? "?")" }
            return text
        case .reason:
            return DenyCode(rawValue: value)?.spelling ?? "reason?\(value)"
        case .target:
            return "->\(value)"
        case .splitCondition:
            return "condition \(value)"
        case .weightTable:
            guard let rows = WeightTable.decode(program.tables, at: Int(value)) else { return "weights?\(value)" }
            return "{" + rows.map { "\(program.name($0.name) ?? "?"):\($0.weight)" }.joined(separator: ", ") + "}"
        case .name:
            return program.name(value) ?? "name?\(value)"
        }
    }

    private static func key(_ key: UInt32, opcode: Opcode, program: Program) -> String {
        switch opcode {
        case .switchDestination, .switchSource, .switchService:
            return program.name(key) ?? "?\(key)"
        case .switchMethod:
            return key < program.methods.count ? (program.string(program.methods[Int(key)]) ?? "?") : "?\(key)"
        default:
            return String(key)
        }
    }

    private static func describe(_ c: RouteCandidate, _ program: Program) -> String {
        var parts: [String] = []
        if c.grant != noIndex, c.grant < program.grants.count {
            let g = program.grants[Int(c.grant)]
            parts.append("grant \(program.string(g.trafficTarget) ?? "?")/\(program.string(g.match) ?? "-")")
        }
        parts.append("path " + (c.path == noIndex ? "*" : "`\(program.string(c.path) ?? "?")`"))
        if !c.methods.isEmpty {
            parts.append("methods " + c.methods.map { $0 < program.methods.count ? (program.string(program.methods[Int($0)]) ?? "?") : "?" }.joined(separator: ","))
        }
        for h in c.headers {
            parts.append("header \(program.string(h.name) ?? "?")=`\(program.string(h.pattern) ?? "?")`")
        }
        return parts.joined(separator: " ")
    }
}
