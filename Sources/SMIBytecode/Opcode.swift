// The single source of truth for the instruction set. The disassembler, the verifier and the
// opcode table in docs/BYTECODE.md are all derived from `Opcode.info` (a test checks the doc).
//
// Instruction layout: one 32-bit word `opcode | operandCount << 8` followed by the operands,
// one 32-bit word each, in the order the table lists them.
//
//   word 0   [ 31 ........ 16 | 15 ..... 8 | 7 ..... 0 ]
//            [    reserved=0   |  operands  |  opcode   ]
//   word 1.. operand 0, operand 1, ...
//
// ORDER OP: cases are append-only; their raw values are part of the bundle format. An opcode's
// operands change only with a new bundle format version (format 2 gave the switches and
// MATCH_ROUTES their default target and made SWITCH_PROTO a direct table).

/// What an operand refers to; the verifier checks each kind against its section.
public enum OperandKind: String, Sendable, CaseIterable {
    /// Offset of a switch table (linear or hash) in `tables`.
    case switchTable = "table"
    /// Index into `routeSets`.
    case routeSet = "routes"
    /// Index into `grants`.
    case grant = "grant"
    /// A ``DenyReason`` raw value.
    case reason = "reason"
    /// An absolute code offset, strictly after the instruction.
    case target = "target"
    /// Index into `splitConditions`.
    case splitCondition = "condition"
    /// Offset of a weight table in `tables`.
    case weightTable = "weights"
    /// Index into `names` (a service).
    case name = "name"
}

/// The opcodes of the decision-tree bytecode.
public enum Opcode: UInt8, Sendable, CaseIterable {
    case switchDestination = 1
    case switchSource = 2
    case switchProtocol = 3
    case switchPort = 4
    case switchMethod = 5
    case matchRoutes = 6
    case allow = 7
    case deny = 8
    case jump = 9
    case switchService = 10
    case splitWhen = 11
    case pick = 12
    case answerRoot = 13
}

/// One row of the opcode table.
public struct OpcodeInfo: Sendable {
    /// UPPER_SNAKE name printed by the disassembler.
    public var mnemonic: String
    /// The operands, in order.
    public var operands: [OperandKind]
    /// Whether evaluation ends at this instruction.
    public var isTerminator: Bool
    /// What the instruction does, in one line.
    public var summary: String
}

extension Opcode {
    /// The opcode table.
    public var info: OpcodeInfo {
        switch self {
        case .switchDestination:
            return OpcodeInfo(
                mnemonic: "SWITCH_DEST", operands: [.switchTable, .target], isTerminator: false,
                summary: "jump by the destination identity's name index; to the target when absent")
        case .switchSource:
            return OpcodeInfo(
                mnemonic: "SWITCH_SOURCE", operands: [.switchTable, .target], isTerminator: false,
                summary: "jump by the source identity's name index; to the target when absent")
        case .switchProtocol:
            return OpcodeInfo(
                mnemonic: "SWITCH_PROTO", operands: [.target, .target, .target], isTerminator: false,
                summary: "jump to the http, tcp or udp target by protocol (a direct table, no lookup)")
        case .switchPort:
            return OpcodeInfo(
                mnemonic: "SWITCH_PORT", operands: [.switchTable, .target], isTerminator: false,
                summary: "jump by destination port; to the target when absent")
        case .switchMethod:
            return OpcodeInfo(
                mnemonic: "SWITCH_METHOD", operands: [.switchTable, .target], isTerminator: false,
                summary: "jump by the HTTP method's index in `methods`; to the target when absent")
        case .matchRoutes:
            return OpcodeInfo(
                mnemonic: "MATCH_ROUTES", operands: [.routeSet, .target], isTerminator: false,
                summary: "allow with the first route candidate whose path and headers match; else jump to the target")
        case .allow:
            return OpcodeInfo(
                mnemonic: "ALLOW", operands: [.grant], isTerminator: true,
                summary: "allow, naming the grant (TrafficTarget, rule kind, match)")
        case .deny:
            return OpcodeInfo(
                mnemonic: "DENY", operands: [.reason], isTerminator: true,
                summary: "deny with the reason (regex-budget-exceeded instead when a regex hit its budget)")
        case .jump:
            return OpcodeInfo(
                mnemonic: "JUMP", operands: [.target], isTerminator: false,
                summary: "continue at the target (always forward)")
        case .switchService:
            return OpcodeInfo(
                mnemonic: "SWITCH_SERVICE", operands: [.switchTable, .target], isTerminator: false,
                summary: "jump by the root service's name index; to the target when absent")
        case .splitWhen:
            return OpcodeInfo(
                mnemonic: "SPLIT_WHEN", operands: [.splitCondition, .target], isTerminator: false,
                summary: "fall through when the request meets the split's matches; else jump to the target")
        case .pick:
            return OpcodeInfo(
                mnemonic: "PICK", operands: [.weightTable, .name], isTerminator: true,
                summary: "answer the backend chosen by entropy from the weight table, naming the split")
        case .answerRoot:
            return OpcodeInfo(
                mnemonic: "ROOT", operands: [], isTerminator: true,
                summary: "answer the root service itself")
        }
    }

    /// The instruction's length in words.
    public var length: Int { 1 + info.operands.count }

    /// The first word of an instruction with this opcode.
    public var headerWord: UInt32 { UInt32(rawValue) | UInt32(info.operands.count) << 8 }
}

/// Why a request was denied, as the bytecode encodes it. Append-only.
public enum DenyCode: UInt32, Sendable, CaseIterable {
    case pathRejected = 0
    case noTrafficTarget = 1
    case sourceNotAllowed = 2
    case portNotAllowed = 3
    case noRouteMatched = 4
    case regexBudgetExceeded = 5

    /// The reason's spelling in decisions.
    public var spelling: String {
        switch self {
        case .pathRejected: return "path-rejected"
        case .noTrafficTarget: return "no-traffic-target"
        case .sourceNotAllowed: return "source-not-allowed"
        case .portNotAllowed: return "port-not-allowed"
        case .noRouteMatched: return "no-route-matched"
        case .regexBudgetExceeded: return "regex-budget-exceeded"
        }
    }
}

/// Protocols, in the order of `SWITCH_PROTO`'s targets.
public enum ProtocolCode: UInt32, Sendable, CaseIterable {
    case http = 0
    case tcp = 1
    case udp = 2

    /// `http`, `tcp` or `udp`.
    public var spelling: String {
        switch self {
        case .http: return "http"
        case .tcp: return "tcp"
        case .udp: return "udp"
        }
    }
}

extension Opcode {
    /// The opcode table as Markdown, as docs/BYTECODE.md shows it (a test keeps them equal).
    public static var markdownTable: String {
        var lines = [
            "| code | mnemonic | operands | ends | semantics |",
            "|---:|---|---|---|---|",
        ]
        for op in allCases {
            let i = op.info
            let operands = i.operands.isEmpty ? "—" : i.operands.map(\.rawValue).joined(separator: ", ")
            lines.append("| \(op.rawValue) | `\(i.mnemonic)` | \(operands) | \(i.isTerminator ? "yes" : "") | \(i.summary) |")
        }
        return lines.joined(separator: "\n")
    }
}
