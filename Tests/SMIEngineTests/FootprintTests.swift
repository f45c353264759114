import Foundation
import SMIBytecode
import SMIEngine
import Testing

@Suite("Compiled size: switch table capacity, annotations left out, the footprint")
struct FootprintTests {
    static let goldenInputs: [URL] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        let cases = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return cases.sorted().map { root.appendingPathComponent($0).appendingPathComponent("input.yaml") }
    }()

    @Test("a switch table keeps an empty slot, is at most 3/4 full past 8 slots, and finds every key")
    func switchTableCapacity() throws {
        for count in 0...300 {
            let log2 = SwitchTable.capacityLog2(count)
            let capacity = 1 << Int(log2)
            #expect(capacity > count)
            #expect(capacity <= 8 || count * 4 <= capacity * 3)
            // The smallest such capacity: half of it would break a rule.
            if capacity > 1 {
                let half = capacity / 2
                #expect(!(half > count && (half <= 8 || count * 4 <= half * 3)))
            }
            // Keys spread like name indices; each is found by probing from its first slot.
            let entries = (0..<count).map { (key: UInt32($0 * 7 + 3), target: UInt32($0)) }
            let table = SwitchTable.encodeHash(entries)
            #expect(table.count == 2 + capacity * 2)
            let decoded = try #require(SwitchTable.decode(table, at: 0))
            #expect(decoded.sorted { $0.key < $1.key }.map(\.target) == entries.map(\.target))
            for e in entries {
                var slot = Int(SwitchTable.slot(e.key, log2: log2))
                var found: UInt32?
                for _ in 0..<capacity {
                    if table[2 + slot * 2] == e.key {
                        found = table[3 + slot * 2]
                        break
                    }
                    slot = (slot + 1) & (capacity - 1)
                }
                #expect(found == e.target)
            }
        }
    }

    @Test("the first probe slot is the top log2 bits of key × 0x9E3779B1, 0 for log2 0")
    func probeSlot() {
        for log2: UInt32 in 0...30 {
            for key: UInt32 in [0, 1, 2, 3, 80, 443, 8080, 65535, 123_456_789, .max - 1, .max] {
                let expected = log2 == 0 ? 0 : (key &* 0x9E37_79B1) >> (32 - log2)
                #expect(SwitchTable.slot(key, log2: log2) == expected, "key \(key) log2 \(log2)")
                #expect(SwitchTable.slot(key, log2: log2) < 1 << log2)
            }
        }
    }

    @Test("tables of at most 8 entries are linear, sorted and 1 + 2 × count words; larger ones hash")
    func linearTables() throws {
        for count in 0...20 {
            let entries = (0..<count).reversed().map { (key: UInt32($0 * 7 + 3), target: UInt32($0)) }
            let table = SwitchTable.encode(entries)
            let decoded = try #require(SwitchTable.decode(table, at: 0))
            #expect(decoded.sorted { $0.key < $1.key }.map(\.target) == entries.reversed().map(\.target))
            #expect(SwitchTable.words(table, at: 0) == table.count)
            if count <= SwitchTable.maxLinear {
                #expect(table.count == 1 + 2 * count)
                #expect(table[0] == SwitchTable.linearTag | UInt32(count))
                #expect(decoded.map(\.key) == decoded.map(\.key).sorted())
            } else {
                #expect(table[0] & SwitchTable.linearTag == 0)
            }
            for (index, target) in SwitchTable.targetPositions(table) {
                #expect(table[index] == target)
                #expect(table[index - 1] == UInt32(target) * 7 + 3)
            }
            #expect(SwitchTable.targetPositions(table).count == count)
        }
    }

    @Test("a compiled policy holds each DENY reason once, every switch names its default, and SWITCH_PROTO has no table", arguments: goldenInputs)
    func sharedDenies(input: URL) throws {
        var options = PolicyOptions()
        options.annotations = false
        let policy = try Policy.compile(text: try String(contentsOf: input, encoding: .utf8), name: "input.yaml", options: options)
        let code = policy.program.code
        var denies: [UInt32] = []
        var pc = 0
        while pc < code.count, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc])) {
            if op == .deny { denies.append(code[pc + 1]) }
            #expect(!op.info.operands.contains(.switchTable) || op.info.operands.last == .target)
            pc += op.length
        }
        #expect(pc == code.count)
        #expect(denies.count == Set(denies).count, "DENY repeated: \(denies)")
    }

    @Test("without annotations a policy compiles to the same instructions, minus the notes", arguments: goldenInputs)
    func annotationsLeftOut(input: URL) throws {
        let text = try String(contentsOf: input, encoding: .utf8)
        var off = PolicyOptions()
        off.annotations = false
        let annotated = try Policy.compile(text: text, name: "input.yaml")
        let plain = try Policy.compile(text: text, name: "input.yaml", options: off)
        #expect(!annotated.program.annotations.isEmpty)
        #expect(plain.program.annotations.isEmpty)
        #expect(plain.program.code == annotated.program.code)
        #expect(plain.program.tables == annotated.program.tables)
        func stripped(_ disassembly: String) -> [String] {
            disassembly.split(separator: "\n").compactMap { line in
                if line.hasPrefix(";") { return line.contains(" strings, ") ? nil : String(line) }
                guard let note = line.range(of: " ; ") else { return String(line) }
                return String(line[..<note.lowerBound]).replacingOccurrences(of: " +$", with: "", options: .regularExpression)
            }
        }
        #expect(stripped(plain.disassembly()) == stripped(annotated.disassembly()))
        // The footprint counts what decisions need: the same either way; notes are apart.
        #expect(plain.footprint.total == annotated.footprint.total)
        #expect(plain.footprint.annotations == 0)
        #expect(annotated.footprint.annotations > 0)
        #expect(plain.footprint.code == plain.program.code.count * 4)
    }

    @Test("route sets with the same patterns count their regex code once")
    func sharedRegexCountedOnce() throws {
        // Two TrafficTargets grant the same group to two sources: two route sets (their grants
        // differ), one pattern list, so one compiled RegexSet.
        let group = """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: routes, namespace: shop}
            spec:
              matches:
              - {name: items, pathRegex: "/api/v[0-9]+/items/[^/]+", methods: ["GET"]}
              - {name: orders, pathRegex: "/api/v[0-9]+/orders/.*"}
            """
        func target(_ name: String, source: String) -> String {
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: \(name), namespace: shop}
            spec:
              destination: {kind: ServiceAccount, name: api, namespace: shop}
              sources: [{kind: ServiceAccount, name: \(source), namespace: shop}]
              rules: [{kind: HTTPRouteGroup, name: routes, matches: [items, orders]}]
            """
        }
        let one = try Policy.compile(text: [group, target("a", source: "web")].joined(separator: "\n---\n"))
        let two = try Policy.compile(
            text: [group, target("a", source: "web"), target("b", source: "batch")].joined(separator: "\n---\n"))
        #expect(two.program.routeSets.count > one.program.routeSets.count)
        #expect(one.footprint.regexCode > 0)
        // JIT code is reported on its own and kept out of the total.
        let f = two.footprint
        #expect(f.total == f.code + f.tables + f.strings + f.sections + f.regexCode)
        #expect(two.footprint.regexJIT == one.footprint.regexJIT)
        #expect(two.footprint.regexCode == one.footprint.regexCode)
        #expect(two.footprint.sections > one.footprint.sections)
    }
}
