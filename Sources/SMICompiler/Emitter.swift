import SMIBytecode

/// Pass 3: decision DAG -> bytecode. Nodes are laid out in decreasing id order, so every parent
/// precedes its children and every jump is forward. Switches and MATCH_ROUTES name their
/// default as a target, so a terminal every switch falls back to (the DENY of each reason) is
/// written once and shared; only SPLIT_WHEN still falls through, to a terminal copied inline.
struct Emitter {
    var program: Program
    let tree: DecisionTree
    private var weightTables: [Int: UInt32] = [:]
    /// The interner that filled `program.strings`, when the caller has it (saves re-hashing
    /// every string of the program).
    private let interner: StringInterner?

    init(program: Program, tree: DecisionTree, strings: StringInterner? = nil) {
        self.program = program
        self.tree = tree
        self.interner = strings.flatMap { $0.strings.count == program.strings.count ? $0 : nil }
    }

    mutating func emit(accessRoot: Int, splitRoot: Int) {
        let count = tree.nodes.count
        var offsets = [Int](repeating: -1, count: count)
        // Patch list: (code index, node id) for jump operands, (table index, node id) for tables.
        var codePatches: [(Int, Int)] = []
        var tablePatches: [(Int, Int)] = []
        var strings = interner ?? StringInterner(program: program)

        // Only nodes something jumps to get a block of their own; terminals reached only by
        // fall-through are copied inline.
        // A flag per node id (ids are dense) instead of a set: no hashing, one byte per node.
        var needed = [Bool](repeating: false, count: count)
        for id in [accessRoot, splitRoot, 0] where id < count { needed[id] = true }
        for node in tree.nodes {
            switch node {
            case .switchOn(.switchProtocol, let cases, let otherwise):
                for p in ProtocolCode.allCases { needed[Self.protocolTarget(p, cases, otherwise)] = true }
            case .switchOn(_, let cases, let otherwise):
                for c in cases { needed[c.node] = true }
                needed[otherwise] = true
            case .routes(_, let otherwise):
                needed[otherwise] = true
            case .splitWhen(_, let then, let otherwise):
                needed[otherwise] = true
                if !tree.nodes[then].isInlineTerminal { needed[then] = true }
            default:
                break
            }
        }
        let hasNotes = !tree.notes.isEmpty
        for id in stride(from: count - 1, through: 0, by: -1) where needed[id] {
            offsets[id] = program.code.count
            if hasNotes, let note = tree.notes[id] {
                program.annotations.append(Annotation(offset: UInt32(program.code.count), text: strings.intern(note)))
            }
            emitNode(id, codePatches: &codePatches, tablePatches: &tablePatches)
        }
        program.strings = strings.strings
        for (index, id) in codePatches { program.code[index] = UInt32(offsets[id]) }
        for (index, id) in tablePatches { program.tables[index] = UInt32(offsets[id]) }
        program.accessEntry = UInt32(offsets[accessRoot])
        program.splitEntry = UInt32(offsets[splitRoot])
    }

    private mutating func emitNode(_ id: Int, codePatches: inout [(Int, Int)], tablePatches: inout [(Int, Int)]) {
        switch tree.nodes[id] {
        case .deny(let reason):
            program.code.append(Opcode.deny.headerWord)
            program.code.append(reason.rawValue)
        case .allow(let grant):
            program.code.append(Opcode.allow.headerWord)
            program.code.append(grant)
        case .root:
            program.code.append(Opcode.answerRoot.headerWord)
        case .pick(_, let split):
            program.code.append(Opcode.pick.headerWord)
            program.code.append(weightTable(id))
            program.code.append(split)
        case .routes(let set, let otherwise):
            program.code.append(Opcode.matchRoutes.headerWord)
            program.code.append(set)
            program.code.append(0)
            codePatches.append((program.code.count - 1, otherwise))
        case .splitWhen(let condition, let then, let otherwise):
            program.code.append(Opcode.splitWhen.headerWord)
            program.code.append(condition)
            program.code.append(0)
            codePatches.append((program.code.count - 1, otherwise))
            emitOtherwise(then, codePatches: &codePatches)
        case .switchOn(.switchProtocol, let cases, let otherwise):
            // A direct table: one target per protocol, in ProtocolCode order.
            program.code.append(Opcode.switchProtocol.headerWord)
            for p in ProtocolCode.allCases {
                program.code.append(0)
                codePatches.append((program.code.count - 1, Self.protocolTarget(p, cases, otherwise)))
            }
        case .switchOn(let op, let cases, let otherwise):
            let offset = program.tables.count
            // Encode with node ids as targets, then record where each target word landed.
            let encoded = SwitchTable.encode(cases.map { ($0.key, UInt32($0.node)) })
            program.tables += encoded
            for (index, target) in SwitchTable.targetPositions(encoded) {
                tablePatches.append((offset + index, Int(target)))
            }
            program.code.append(op.headerWord)
            program.code.append(UInt32(offset))
            program.code.append(0)
            codePatches.append((program.code.count - 1, otherwise))
        }
    }

    /// The node SWITCH_PROTO jumps to for `proto`: its case, else the switch's default.
    private static func protocolTarget(_ proto: ProtocolCode, _ cases: [SwitchCase], _ otherwise: Int) -> Int {
        cases.first { $0.key == proto.rawValue }?.node ?? otherwise
    }

    /// The weight table of PICK node `id`, written once however often the node is copied.
    private mutating func weightTable(_ id: Int) -> UInt32 {
        if let offset = weightTables[id] { return offset }
        guard case .pick(let rows, _) = tree.nodes[id] else { return 0 }
        let offset = UInt32(program.tables.count)
        var backends: [(name: UInt32, weight: UInt64)] = []
        var i = 0
        while i + 1 < rows.count {
            backends.append((UInt32(truncatingIfNeeded: rows[i]), rows[i + 1]))
            i += 2
        }
        // Sums were checked when the node was built.
        program.tables += WeightTable.encode(backends) ?? [0, 0, 0]
        weightTables[id] = offset
        return offset
    }

    /// SPLIT_WHEN's fall-through continuation: a terminal inline, anything else through a JUMP.
    private mutating func emitOtherwise(_ id: Int, codePatches: inout [(Int, Int)]) {
        switch tree.nodes[id] {
        case .deny(let reason):
            program.code.append(Opcode.deny.headerWord)
            program.code.append(reason.rawValue)
            return
        case .allow(let grant):
            program.code.append(Opcode.allow.headerWord)
            program.code.append(grant)
            return
        case .root:
            program.code.append(Opcode.answerRoot.headerWord)
            return
        case .pick(_, let split):
            program.code.append(Opcode.pick.headerWord)
            program.code.append(weightTable(id))
            program.code.append(split)
            return
        default:
            break
        }
        program.code.append(Opcode.jump.headerWord)
        program.code.append(0)
        codePatches.append((program.code.count - 1, id))
    }
}

/// Adds strings to a program's string table without duplicates.
struct StringInterner {
    private(set) var strings: [String]
    private var index: [String: UInt32] = [:]

    init(program: Program) {
        strings = program.strings
        for (i, s) in strings.enumerated() where index[s] == nil { index[s] = UInt32(i) }
    }

    init() { strings = [] }

    mutating func intern(_ s: String) -> UInt32 {
        let i = lookUpOrAdd(&index, s, next: UInt32(strings.count))
        if i == strings.count { strings.append(s) }
        return i
    }
}
