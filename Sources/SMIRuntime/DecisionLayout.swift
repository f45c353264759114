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
/// offsets of the relocated instructions. The instruction `SPLIT_WHEN` falls through to is
/// copied right after it (and its condition), or replaced by a `JUMP` when something else
/// placed it first. Every instruction and table is copied at most once, so the words are at
/// most about the program's size. Instructions the entries cannot reach are left out.
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

        // Where a table, weight table or split condition was copied: each is copied once, at its
        // first use, however many instructions name it (a compiled program names each once; a
        // hand-made one that shares them cannot make the copy grow).
        var switchCopies: [Int: Int] = [:]
        var weightCopies: [Int: Int] = [:]
        var conditionCopies: [Int: Int] = [:]

        // Writes a copy of the instruction at `pc` (with its tables when they are new), records
        // its targets to patch and pushes them to visit; returns the original instruction that
        // must follow directly (SPLIT_WHEN's fall-through), if any.
        func copy(_ pc: Int, successors: inout [Int]) -> Int? {
            guard let op = opcode(pc) else { return nil }
            let at = words.count
            placed[pc] = at
            words.append(code[pc])
            let operands = op.info.operands
            words.append(contentsOf: repeatElement(0, count: operands.count))
            for (k, kind) in operands.enumerated() {
                let word = code[pc + 1 + k]
                switch kind {
                case .target:
                    patches.append((at + 1 + k, Int(word)))
                    successors.append(Int(word))
                case .switchTable:
                    let offset = Int(word)
                    if let earlier = switchCopies[offset] {
                        words[at + 1 + k] = UInt32(earlier)
                        continue
                    }
                    let start = words.count
                    switchCopies[offset] = start
                    words[at + 1 + k] = UInt32(start)
                    words.append(contentsOf: tables[offset..<(offset + SwitchTable.words(tables, at: offset))])
                    for (index, target) in Self.targetPositions(tables, at: offset) {
                        patches.append((start + index, Int(target)))
                        successors.append(Int(target))
                    }
                case .routeSet:
                    words[at + 1 + k] = routeRecord(word)
                case .splitCondition:
                    // SPLIT_WHEN is followed by a skip word and, at its first use, the condition
                    // [anyPort, route set, its record line, port count, ports…]; the fall-through
                    // continues after them.
                    let index = Int(word)
                    let skip = words.count
                    words.append(0)
                    if let earlier = conditionCopies[index] {
                        words[at + 1 + k] = UInt32(earlier)
                        continue
                    }
                    let start = words.count
                    conditionCopies[index] = start
                    let condition = program.splitConditions[index]
                    words[at + 1 + k] = UInt32(start)
                    words.append(condition.anyPort ? 1 : 0)
                    words.append(condition.routeSet)
                    words.append(condition.routeSet != noIndex ? routeRecord(condition.routeSet) : noIndex)
                    words.append(UInt32(condition.ports.count))
                    words.append(contentsOf: condition.ports)
                    words[skip] = UInt32(words.count - start)
                case .weightTable:
                    let offset = Int(word)
                    if let earlier = weightCopies[offset] {
                        words[at + 1 + k] = UInt32(earlier)
                        continue
                    }
                    let start = words.count
                    weightCopies[offset] = start
                    words[at + 1 + k] = UInt32(start)
                    words.append(contentsOf: tables[offset..<(offset + 3 + Int(tables[offset]) * 3)])
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
                    guard placed[current] < 0 else {
                        // A fall-through already placed elsewhere (only in hand-made programs):
                        // jump there instead of copying it again.
                        words.append(Opcode.jump.headerWord)
                        words.append(0)
                        patches.append((words.count - 1, current))
                        break
                    }
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
