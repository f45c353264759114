import SMIBytecode

/// The words the decision loop runs: a verified program's instructions with each switch's table
/// (and each `PICK`'s weight table) copied right after its instruction, laid out depth first
/// from the entries.
///
/// In a `Program` the instructions and the tables are two arrays, and the compiler lays nodes
/// out by id, so at large N a decision reads a switch here, its table far away in `tables`, and
/// the next switch somewhere else again: about two cache lines (and, without huge pages, two
/// pages) per step. Here a switch and its table are one run of words, and a destination's
/// subtree (its source switch, protocol switch, port and method switches, route match and
/// allow) follows the destination's entry, so a decision touches a few neighbouring lines.
///
/// This is only the runtime's copy: the bundle format, the verifier and the disassembler see
/// the `Program` unchanged. Table operands here are offsets into the same words, route set
/// operands are ``RouteRecords`` lines, a `SPLIT_WHEN`'s condition is copied after it (the
/// instruction falls through past it); targets are
/// offsets of the relocated instructions. An instruction reached only by `SPLIT_WHEN`'s
/// fall-through is copied right after that `SPLIT_WHEN`, as in the program. Instructions the
/// entries cannot reach are left out.
package struct DecisionLayout {
    package private(set) var words: [UInt32] = []
    package private(set) var accessEntry = 0
    package private(set) var splitEntry = 0

    /// Lays out `program`, which the verifier has accepted: every operand read here is in bounds.
    /// `MATCH_ROUTES`'s route set operand becomes `routeRecord(set)` (a ``RouteRecords`` line).
    package init(_ program: Program, routeRecord: (UInt32) -> UInt32) {
        let code = program.code
        let tables = program.tables
        // The relocated offset of each original instruction, -1 until placed.
        var placed = [Int](repeating: -1, count: code.count)
        // (word in `words`, original target instruction) to patch once everything is placed.
        var patches: [(at: Int, target: Int)] = []
        var stack: [Int] = []
        words.reserveCapacity(code.count + tables.count)

        func opcode(_ pc: Int) -> Opcode? {
            Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc]))
        }

        // Writes a copy of the instruction at `pc` (and its table), records its targets to
        // patch and pushes them to visit; returns the original instruction that must follow
        // directly (SPLIT_WHEN's fall-through), if any.
        func copy(_ pc: Int, successors: inout [Int]) -> Int? {
            guard let op = opcode(pc) else { return nil }
            let at = words.count
            if placed[pc] < 0 { placed[pc] = at }
            words.append(code[pc])
            let operands = op.info.operands
            words.append(contentsOf: repeatElement(0, count: operands.count))
            var tableStart = at + op.length
            for (k, kind) in operands.enumerated() {
                let word = code[pc + 1 + k]
                switch kind {
                case .target:
                    patches.append((at + 1 + k, Int(word)))
                    successors.append(Int(word))
                case .switchTable:
                    let offset = Int(word)
                    let size = SwitchTable.words(tables, at: offset)
                    words[at + 1 + k] = UInt32(tableStart)
                    words.append(contentsOf: tables[offset..<(offset + size)])
                    for (index, target) in Self.targetPositions(tables, at: offset) {
                        patches.append((tableStart + index, Int(target)))
                        successors.append(Int(target))
                    }
                    tableStart += size
                case .routeSet:
                    words[at + 1 + k] = routeRecord(word)
                case .splitCondition:
                    // [size, anyPort, route set, its record line, port count, ports…]; SPLIT_WHEN
                    // falls through to the words after it.
                    let condition = program.splitConditions[Int(word)]
                    let hasSet = condition.routeSet != noIndex
                    let size = 5 + condition.ports.count
                    words[at + 1 + k] = UInt32(tableStart)
                    words.append(UInt32(size))
                    words.append(condition.anyPort ? 1 : 0)
                    words.append(condition.routeSet)
                    words.append(hasSet ? routeRecord(condition.routeSet) : noIndex)
                    words.append(UInt32(condition.ports.count))
                    words.append(contentsOf: condition.ports)
                    tableStart += size
                case .weightTable:
                    let offset = Int(word)
                    let size = 3 + Int(tables[offset]) * 3
                    words[at + 1 + k] = UInt32(tableStart)
                    words.append(contentsOf: tables[offset..<(offset + size)])
                    tableStart += size
                default:
                    words[at + 1 + k] = word
                }
            }
            return op == .splitWhen ? pc + op.length : nil
        }

        func place(_ entry: Int) {
            stack.append(entry)
            var successors: [Int] = []
            while let pc = stack.popLast() {
                guard placed[pc] < 0 else { continue }
                successors.removeAll(keepingCapacity: true)
                var next: Int? = pc
                while let current = next {
                    next = copy(current, successors: &successors)
                }
                // Depth first, in the order the instruction names them.
                for s in successors.reversed() where placed[s] < 0 { stack.append(s) }
            }
        }

        place(Int(program.accessEntry))
        place(Int(program.splitEntry))
        for (at, target) in patches { words[at] = UInt32(placed[target]) }
        accessEntry = placed[Int(program.accessEntry)]
        splitEntry = placed[Int(program.splitEntry)]
    }

    /// Where in the table at `offset` each entry's target word is (relative to `offset`).
    private static func targetPositions(_ tables: [UInt32], at offset: Int) -> [(index: Int, target: UInt32)] {
        let first = tables[offset]
        if first & SwitchTable.linearTag != 0 {
            return (0..<Int(first & ~SwitchTable.linearTag)).map { (2 + $0 * 2, tables[offset + 2 + $0 * 2]) }
        }
        let capacity = 1 << Int(first)
        return (0..<capacity).compactMap { slot in
            tables[offset + 2 + slot * 2] == SwitchTable.emptyKey ? nil : (3 + slot * 2, tables[offset + 3 + slot * 2])
        }
    }
}
