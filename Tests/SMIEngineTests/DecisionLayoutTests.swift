import Foundation
import SMIBytecode
import SMIEngine
import SMIRuntime
import Testing

@Suite("Decision layout: the runtime's words keep each switch table next to its instruction")
struct DecisionLayoutTests {
    /// Every instruction reachable from the entries of `layout`, with the table and condition
    /// offsets it names, followed through targets, table targets and SPLIT_WHEN's fall-through.
    private static func walk(_ layout: DecisionLayout) -> [(pc: Int, op: Opcode)] {
        let words = layout.words
        var seen = Set<Int>()
        var stack = [layout.accessEntry, layout.splitEntry]
        var visited: [(pc: Int, op: Opcode)] = []
        while let pc = stack.popLast() {
            guard seen.insert(pc).inserted, pc < words.count, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: words[pc])) else { continue }
            visited.append((pc, op))
            for (k, kind) in op.info.operands.enumerated() {
                let word = words[pc + 1 + k]
                switch kind {
                case .target:
                    stack.append(Int(word))
                case .switchTable:
                    let entries = SwitchTable.decode(words, at: Int(word)) ?? []
                    stack += entries.map { Int($0.target) }
                case .splitCondition:
                    // [SPLIT_WHEN, condition, target, skip, condition words…], then the fall-through.
                    stack.append(pc + op.length + 1 + Int(words[pc + op.length]))
                default:
                    break
                }
            }
        }
        return visited
    }

    @Test("in every golden policy each table, weight table and split condition sits right after its instruction", arguments: GoldenTests.cases)
    func tablesInline(_ name: String) throws {
        let input = try String(contentsOf: GoldenCase.folder(name).appendingPathComponent("input.yaml"), encoding: .utf8)
        let program = try Policy.compile(text: input, name: "input.yaml").program
        let layout = DecisionLayout(program) { $0 }
        let visited = Self.walk(layout)
        #expect(!visited.isEmpty)
        var switches = 0
        for (pc, op) in visited {
            let operands = op.info.operands
            for (k, kind) in operands.enumerated() where [.switchTable, .weightTable, .splitCondition].contains(kind) {
                // A split condition comes after SPLIT_WHEN's skip word.
                let expected = pc + op.length + (kind == .splitCondition ? 1 : 0)
                #expect(Int(layout.words[pc + 1 + k]) == expected, "\(name): \(op.info.mnemonic) at \(pc) has its table elsewhere")
                switches += 1
            }
        }
        #expect(switches > 0)
    }

    @Test("depth first: each destination's subtree is one run of words, not interleaved with another's")
    func depthFirst() throws {
        // Two destinations with a source, port and route switch each: depth first, the second
        // destination's instructions all come after the first's.
        let text = """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: db, namespace: default}
            spec:
              matches:
                ports: [5432]
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: a, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: a}
              rules:
              - {kind: TCPRoute, name: db}
              sources:
              - {kind: ServiceAccount, name: x}
              - {kind: ServiceAccount, name: y}
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: b, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: b}
              rules:
              - {kind: TCPRoute, name: db}
              sources:
              - {kind: ServiceAccount, name: y}
            """
        let policy = try Policy.compile(text: text)
        let layout = DecisionLayout(policy.program) { $0 }
        let words = layout.words
        let root = layout.accessEntry
        #expect(Opcode(rawValue: UInt8(truncatingIfNeeded: words[root])) == .switchDestination)
        let destinations = SwitchTable.decode(words, at: Int(words[root + 1])) ?? []
        #expect(destinations.count == 2)
        // The span of each destination's subtree (its instructions not shared with the other).
        func span(_ start: Int) -> ClosedRange<Int> {
            var low = start, high = start
            var stack = [start]
            var seen = Set<Int>()
            while let pc = stack.popLast() {
                guard seen.insert(pc).inserted, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: words[pc])) else { continue }
                if op == .deny { continue }  // the shared DENY terminals
                low = min(low, pc)
                high = max(high, pc + op.length - 1)
                for (k, kind) in op.info.operands.enumerated() {
                    if kind == .target { stack.append(Int(words[pc + 1 + k])) }
                    if kind == .switchTable { stack += (SwitchTable.decode(words, at: Int(words[pc + 1 + k])) ?? []).map { Int($0.target) } }
                }
            }
            return low...high
        }
        let spans = destinations.map { span(Int($0.target)) }.sorted { $0.lowerBound < $1.lowerBound }
        #expect(spans.count == 2)
        if spans.count == 2 { #expect(!spans[0].overlaps(spans[1]) || spans[0] == spans[1]) }
    }
}
