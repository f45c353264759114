import Foundation
import SMIBytecode
import SMIEngine
import SMIRuntime
import Testing

/// A small hand-built program that uses every opcode once, with its section offsets, so tests
/// can corrupt one thing at a time.
private struct HandProgram {
    var program: Program
    /// Code offsets of the instructions, by name.
    let jumpAt = 12, allowAt = 14, denyAt = 16, matchRoutesAt = 10, splitWhenAt = 20, pickAt = 23, rootAt = 26
    let switchDestAt = 0, switchServiceAt = 18
    var weightTableOffset = 0
    var destTableOffset = 0

    init() {
        var p = Program(options: ProgramOptions(
            fullPathMatch: false, normalization: .all, matchLimit: 100_000, depthLimit: 10_000, trustDomain: nil))
        p.strings = ["default/a", "default/b", "default/t", "m", "/x", "GET", "user-agent", ".*Firefox.*", "note"]
        p.names = [0, 1]
        p.methods = [5]
        p.grants = [Grant(trafficTarget: 2, ruleKind: .httpRouteGroup, match: 3)]
        p.routeSets = [RouteSet(candidates: [
            RouteCandidate(grant: 0, path: 4, methods: [], headers: [HeaderTest(name: 6, pattern: 7)]),
        ])]
        p.splitConditions = [SplitCondition(routeSet: 0, anyPort: false, ports: [80])]
        var tables: [UInt32] = []
        func table(_ words: [UInt32]) -> UInt32 {
            defer { tables += words }
            return UInt32(tables.count)
        }
        let dest = table(SwitchTable.encode([(key: 1, target: 2)]))
        let source = table(SwitchTable.encode([(key: 0, target: 4)]))
        let proto = table(SwitchTable.encode([(key: ProtocolCode.http.rawValue, target: 6)]))
        let port = table(SwitchTable.encode([(key: 80, target: 8)]))
        let method = table(SwitchTable.encode([(key: 0, target: 10)]))
        let service = table(SwitchTable.encode([(key: 1, target: 20)]))
        let weights = table(WeightTable.encode([(name: 0, weight: 1), (name: 1, weight: 3)]) ?? [])
        p.tables = tables
        weightTableOffset = Int(weights)
        destTableOffset = Int(dest)
        func op(_ o: Opcode, _ operands: UInt32...) -> [UInt32] { [o.headerWord] + operands }
        p.code = op(.switchDestination, dest)  // 0
            + op(.switchSource, source)  // 2
            + op(.switchProtocol, proto)  // 4
            + op(.switchPort, port)  // 6
            + op(.switchMethod, method)  // 8
            + op(.matchRoutes, 0)  // 10
            + op(.jump, 16)  // 12 (ALLOW at 14 is dead code, kept so every opcode appears)
            + op(.allow, 0)  // 14
            + op(.deny, DenyCode.noRouteMatched.rawValue)  // 16
            + op(.switchService, service)  // 18
            + op(.splitWhen, 0, 26)  // 20
            + op(.pick, weights, 1)  // 23
            + op(.answerRoot)  // 26
        p.accessEntry = 0
        p.splitEntry = 18
        p.annotations = [Annotation(offset: 0, text: 8)]
        program = p
    }
}

/// Expects `program` to be refused by the verifier and by `ExecutablePolicy`.
private func expectRefused(_ program: Program, _ what: Comment, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(throws: VerificationError.self, what, sourceLocation: sourceLocation) { try Verifier.verify(program) }
    #expect(throws: LoadError.self, what, sourceLocation: sourceLocation) { _ = try ExecutablePolicy(program: program) }
}

@Suite("Bytecode: the opcode table, the disassembler and the verifier")
struct BytecodeTests {
    @Test("every opcode has a distinct UPPER_SNAKE mnemonic, a summary and a length matching its operands")
    func opcodeTable() {
        var seen = Set<String>()
        for op in Opcode.allCases {
            let info = op.info
            #expect(!info.mnemonic.isEmpty, "\(op) has no mnemonic")
            #expect(info.mnemonic.allSatisfy { $0.isUppercase || $0 == "_" }, "\(info.mnemonic) is not UPPER_SNAKE")
            #expect(seen.insert(info.mnemonic).inserted, "\(info.mnemonic) is used twice")
            #expect(!info.summary.isEmpty)
            #expect(op.length == 1 + info.operands.count)
            #expect(op.headerWord & 0xFF == UInt32(op.rawValue))
            #expect(op.headerWord >> 8 == UInt32(info.operands.count))
        }
        #expect(Opcode.allCases.filter { $0.info.isTerminator }.map(\.info.mnemonic).sorted() == ["ALLOW", "DENY", "PICK", "ROOT"])
    }

    @Test("the hand-built program that uses every opcode verifies, loads and runs")
    func handProgramIsValid() throws {
        let hand = HandProgram()
        let used = Set(decodeOpcodes(hand.program.code))
        #expect(used == Set(Opcode.allCases), "the hand program must cover every opcode")
        try Verifier.verify(hand.program)
        let executable = try ExecutablePolicy(program: hand.program)
        let scratch = try #require(EvaluationScratch())
        func access(_ path: String, userAgent: String) -> AccessResult {
            var path = path, method = "GET", name = "User-Agent", value = userAgent, a = "default/a", b = "default/b"
            return a.withUTF8 { a in b.withUTF8 { b in method.withUTF8 { m in path.withUTF8 { p in name.withUTF8 { n in value.withUTF8 { v in
                let headers = [RawHeader(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v))]
                return headers.withUnsafeBufferPointer { h in
                    executable.decide(AccessQuery(
                        source: executable.resolveIdentity(UnsafeRawBufferPointer(a)),
                        destination: executable.resolveIdentity(UnsafeRawBufferPointer(b)),
                        port: 80, proto: .http, method: UnsafeRawBufferPointer(m), target: UnsafeRawBufferPointer(p),
                        headers: h), scratch: scratch)
                }
            } } } } } }
        }
        let granted = access("/x/y", userAgent: "Firefox")
        #expect(granted.allowed && granted.grant == 0)
        #expect(access("/x/y", userAgent: "Chrome").allowed == false)
        #expect(access("/y", userAgent: "Firefox").allowed == false)
        let none = UnsafeBufferPointer<RawHeader>(start: nil, count: 0)
        let split = executable.selectBackend(
            SplitQuery(service: 1, entropy: .max, method: nil, target: nil, headers: none, port: 80), scratch: scratch)
        #expect(split.backend == 1 && split.split == 1)
        let root = executable.selectBackend(
            SplitQuery(service: 1, entropy: 0, method: nil, target: nil, headers: none, port: 81), scratch: scratch)
        #expect(root.backend == noIndex && root.split == noIndex)
    }

    @Test("the disassembler prints every opcode's mnemonic, resolved operands and notes")
    func disassemblerPrintsEveryOpcode() {
        let text = Disassembler.disassemble(HandProgram().program)
        for op in Opcode.allCases {
            #expect(text.contains(" \(op.info.mnemonic)"), "the disassembly lacks \(op.info.mnemonic):\n\(text)")
        }
        #expect(text.contains("SWITCH_DEST {default/b->2}"))
        #expect(text.contains("ALLOW default/t HTTPRouteGroup match=m"))
        #expect(text.contains("DENY no-route-matched"))
        #expect(text.contains("JUMP ->16"))
        #expect(text.contains("SPLIT_WHEN condition 0 ->26"))
        #expect(text.contains("PICK {default/a:1, default/b:3} default/b"))
        #expect(text.contains("ROOT"))
        #expect(text.contains("; note"))
        #expect(text.contains("header user-agent=`.*Firefox.*`"))
        #expect(text.contains("; condition 0: routes 0 or ports 80"))
        #expect(text.contains("access:") && text.contains("split:"))
    }

    @Test("the disassembler prints a corrupted program without crashing, marking what is out of range")
    func disassemblerSurvivesCorruption() {
        var p = HandProgram().program
        p.code[1] = 9999  // table offset
        p.code[15] = 42  // grant
        p.code[17] = 77  // reason
        p.code[25] = 50  // name
        p.code.append(0xEE)  // unknown opcode
        let text = Disassembler.disassemble(p)
        #expect(text.contains("table?9999"))
        #expect(text.contains("grant?42"))
        #expect(text.contains("reason?77"))
        #expect(text.contains("name?50"))
        #expect(text.contains(".word 0xee"))
    }

    // MARK: The verifier refuses corrupted programs

    @Test("a backward jump is refused")
    func backwardJump() {
        var p = HandProgram().program
        p.code[13] = 2
        expectRefused(p, "backward jump")
    }

    @Test("a jump to itself is refused")
    func selfJump() {
        var p = HandProgram().program
        p.code[13] = 12
        expectRefused(p, "jump to itself")
    }

    @Test("a jump into the middle of an instruction is refused")
    func jumpIntoInstruction() {
        var p = HandProgram().program
        p.code[13] = 15
        expectRefused(p, "jump into ALLOW's operand")
    }

    @Test("a jump or split target past the end of the code is refused")
    func targetPastEnd() {
        var p = HandProgram().program
        p.code[13] = UInt32(p.code.count)
        expectRefused(p, "jump to the end")
        p = HandProgram().program
        p.code[22] = 1000
        expectRefused(p, "SPLIT_WHEN target past the end")
        p = HandProgram().program
        p.code[22] = 24
        expectRefused(p, "SPLIT_WHEN target inside PICK")
        p = HandProgram().program
        p.code[22] = 20
        expectRefused(p, "SPLIT_WHEN target to itself")
    }

    @Test("a switch table whose target is backward, itself or past the end is refused")
    func badSwitchTargets() {
        for target: UInt32 in [0, 1, 1000, 3] {
            var p = HandProgram().program
            let offset = p.code[3]  // SWITCH_SOURCE at 2: its table
            var entries = SwitchTable.decode(p.tables, at: Int(offset)) ?? []
            entries[0].target = target
            let encoded = SwitchTable.encode(entries)
            p.tables.replaceSubrange(Int(offset)..<(Int(offset) + encoded.count), with: encoded)
            expectRefused(p, "switch target \(target) from offset 2")
        }
    }

    @Test("an unknown opcode is refused")
    func unknownOpcode() {
        for raw: UInt32 in [0, 14, 0xFF] {
            var p = HandProgram().program
            p.code[16] = raw | 1 << 8
            expectRefused(p, "opcode \(raw)")
        }
    }

    @Test("a wrong operand count or set reserved bits are refused")
    func badOperandCountBits() {
        var p = HandProgram().program
        p.code[14] = UInt32(Opcode.allow.rawValue) | 2 << 8
        expectRefused(p, "ALLOW with 2 operands")
        p = HandProgram().program
        p.code[26] = UInt32(Opcode.answerRoot.rawValue) | 1 << 8
        expectRefused(p, "ROOT with 1 operand")
        p = HandProgram().program
        p.code[14] |= 1 << 20
        expectRefused(p, "reserved bits")
    }

    @Test("an instruction running past the end of the code is refused")
    func truncatedInstruction() {
        var p = HandProgram().program
        p.code.append(Opcode.allow.headerWord)
        expectRefused(p, "ALLOW without its operand")
    }

    @Test("a table offset out of range or a malformed switch table is refused")
    func tableOutOfRange() {
        let hand = HandProgram()
        var p = hand.program
        p.code[1] = UInt32(p.tables.count)
        expectRefused(p, "table at the end")
        p.code[1] = .max
        expectRefused(p, "table at UInt32.max")
        p = HandProgram().program
        p.tables[hand.destTableOffset] = 31
        expectRefused(p, "log2 capacity 31")
        p = HandProgram().program
        p.tables[hand.destTableOffset + 1] = 5
        expectRefused(p, "entry count that disagrees with the slots")
        p = HandProgram().program
        p.tables.removeLast(p.tables.count - hand.destTableOffset - 3)
        p.code = Array(p.code[0..<2]) + [Opcode.deny.headerWord, 1]
        p.splitEntry = 2
        expectRefused(p, "switch table cut short")
    }

    @Test("a switch table with no empty slot is refused, since a lookup of an absent key would never end")
    func fullSwitchTable() {
        var p = HandProgram().program
        // log2 = 0: one slot, holding the only entry. Probing for any other key never meets an
        // empty slot.
        let offset = UInt32(p.tables.count)
        p.tables += [0, 1, 1, 2]
        p.code[1] = offset
        expectRefused(p, "a full switch table (the format says tables are at most half full)")
    }

    @Test("route set, grant, split condition and name operands out of range are refused")
    func operandIndicesOutOfRange() {
        var p = HandProgram().program
        p.code[11] = 1
        expectRefused(p, "route set 1")
        p = HandProgram().program
        p.code[15] = 1
        expectRefused(p, "grant 1")
        p = HandProgram().program
        p.code[21] = 1
        expectRefused(p, "split condition 1")
        p = HandProgram().program
        p.code[25] = 2
        expectRefused(p, "name 2")
    }

    @Test("string, name, method, grant and route set indices out of range in the sections are refused")
    func sectionIndicesOutOfRange() {
        let count = UInt32(HandProgram().program.strings.count)
        var p = HandProgram().program
        p.names[0] = count
        expectRefused(p, "name string")
        p = HandProgram().program
        p.methods[0] = count
        expectRefused(p, "method string")
        p = HandProgram().program
        p.grants[0].trafficTarget = count
        expectRefused(p, "grant TrafficTarget string")
        p = HandProgram().program
        p.grants[0].match = count
        expectRefused(p, "grant match string")
        p = HandProgram().program
        p.routeSets[0].candidates[0].path = count
        expectRefused(p, "path pattern string")
        p = HandProgram().program
        p.routeSets[0].candidates[0].headers[0].pattern = count
        expectRefused(p, "header pattern string")
        p = HandProgram().program
        p.routeSets[0].candidates[0].headers[0].name = count
        expectRefused(p, "header name string")
        p = HandProgram().program
        p.routeSets[0].candidates[0].grant = 5
        expectRefused(p, "candidate grant")
        p = HandProgram().program
        p.routeSets[0].candidates[0].methods = [3]
        expectRefused(p, "candidate method")
        p = HandProgram().program
        p.splitConditions[0].routeSet = 4
        expectRefused(p, "split condition route set")
        p = HandProgram().program
        p.annotations[0].text = count
        expectRefused(p, "annotation string")
    }

    @Test("a last instruction that does not end evaluation is refused")
    func lastNotTerminator() {
        var p = HandProgram().program
        p.code += [Opcode.matchRoutes.headerWord, 0]
        expectRefused(p, "MATCH_ROUTES last")
        p = HandProgram().program
        p.code.removeLast()  // ROOT; SPLIT_WHEN now targets the end
        expectRefused(p, "ROOT removed")
    }

    @Test("an unknown deny reason is refused")
    func badDenyReason() {
        var p = HandProgram().program
        p.code[17] = UInt32(DenyCode.allCases.count)
        expectRefused(p, "deny reason past the table")
        p.code[17] = .max
        expectRefused(p, "deny reason UInt32.max")
    }

    @Test("malformed weight tables are refused: non-increasing cumulative weights, a wrong total, a bad count, no rows, a backend out of range")
    func malformedWeightTables() {
        let hand = HandProgram()
        let w = hand.weightTableOffset
        // Layout: [count, totalHigh, totalLow, (cumHigh, cumLow, name) x count]; here cum = 1, 4.
        var p = hand.program
        p.tables[w + 3 + 3 + 1] = 1  // second cumulative equal to the first
        p.tables[w + 2] = 1
        expectRefused(p, "non-increasing cumulative weights")
        p = hand.program
        p.tables[w + 3 + 3 + 1] = 0  // decreasing
        p.tables[w + 2] = 0
        expectRefused(p, "decreasing cumulative weights")
        p = hand.program
        p.tables[w + 2] = 5
        expectRefused(p, "total larger than the last cumulative weight")
        p = hand.program
        p.tables[w + 1] = 1
        expectRefused(p, "total high word set")
        p = hand.program
        p.tables[w] = 1000
        expectRefused(p, "count past the tables")
        p = hand.program
        p.tables[w] = 0
        p.tables[w + 2] = 0
        expectRefused(p, "no rows")
        p = hand.program
        p.tables[w + 3 + 2] = 7
        expectRefused(p, "backend name out of range")
        p = hand.program
        p.code[hand.pickAt + 1] = UInt32(p.tables.count - 2)
        expectRefused(p, "weight table cut by the end of the tables")
    }

    @Test("entry points that are not instruction boundaries, and empty code, are refused")
    func badEntries() {
        var p = HandProgram().program
        p.accessEntry = 1
        expectRefused(p, "access entry inside SWITCH_DEST")
        p = HandProgram().program
        p.splitEntry = UInt32(p.code.count)
        expectRefused(p, "split entry at the end")
        p = HandProgram().program
        p.code = []
        expectRefused(p, "empty code")
    }

    @Test("random single-word corruptions of a compiled policy are refused or still verify, never crash the verifier")
    func randomCorruptionsNeverCrash() throws {
        let input = try String(contentsOf: GoldenCase.folder("l4-and-l7-v1alpha3").appendingPathComponent("input.yaml"), encoding: .utf8)
        let policy = try Policy.compile(text: input)
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for _ in 0..<2000 {
            var p = policy.program
            let value = UInt32(truncatingIfNeeded: next())
            if next() % 2 == 0 {
                let i = Int(next() % UInt64(p.code.count))
                p.code[i] = next() % 3 == 0 ? value : p.code[i] ^ (1 << (value % 32))
            } else {
                let i = Int(next() % UInt64(p.tables.count))
                p.tables[i] = next() % 3 == 0 ? value : p.tables[i] ^ (1 << (value % 32))
            }
            _ = try? Verifier.verify(p)
            _ = Disassembler.disassemble(p)
        }
    }
}

private func decodeOpcodes(_ code: [UInt32]) -> [Opcode] {
    var result: [Opcode] = []
    var pc = 0
    while pc < code.count, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc])) {
        result.append(op)
        pc += op.length
    }
    return result
}
