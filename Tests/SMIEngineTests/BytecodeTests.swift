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
    let switchDestAt = 0, switchSourceAt = 3, switchProtoAt = 6, switchPortAt = 10, switchMethodAt = 13
    let matchRoutesAt = 16, jumpAt = 19, allowAt = 21, denyAt = 23
    let switchServiceAt = 25, splitWhenAt = 28, pickAt = 31, rootAt = 34
    var weightTableOffset = 0
    var destTableOffset = 0

    /// `hashSource`: write SWITCH_SOURCE's one-entry table in the hash form instead of the linear
    /// one the compiler would choose (both must decide alike).
    init(hashSource: Bool = false) {
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
        let dest = table(SwitchTable.encode([(key: 1, target: 3)]))
        let sourceEntries: [(key: UInt32, target: UInt32)] = [(key: 0, target: 6)]
        let source = table(hashSource ? SwitchTable.encodeHash(sourceEntries) : SwitchTable.encode(sourceEntries))
        let port = table(SwitchTable.encode([(key: 80, target: 13)]))
        let method = table(SwitchTable.encode([(key: 0, target: 16)]))
        let service = table(SwitchTable.encode([(key: 1, target: 28)]))
        let weights = table(WeightTable.encode([(name: 0, weight: 1), (name: 1, weight: 3)]) ?? [])
        p.tables = tables
        weightTableOffset = Int(weights)
        destTableOffset = Int(dest)
        func op(_ o: Opcode, _ operands: UInt32...) -> [UInt32] { [o.headerWord] + operands }
        // Every default goes to the one DENY at 23, as the compiler shares it.
        p.code = op(.switchDestination, dest, 23)  // 0
            + op(.switchSource, source, 23)  // 3
            + op(.switchProtocol, 10, 23, 23)  // 6: http, tcp, udp
            + op(.switchPort, port, 23)  // 10
            + op(.switchMethod, method, 23)  // 13
            + op(.matchRoutes, 0, 19)  // 16
            + op(.jump, 23)  // 19 (ALLOW at 21 is dead code, kept so every opcode appears)
            + op(.allow, 0)  // 21
            + op(.deny, DenyCode.noRouteMatched.rawValue)  // 23
            + op(.switchService, service, 34)  // 25
            + op(.splitWhen, 0, 34)  // 28
            + op(.pick, weights, 1)  // 31
            + op(.answerRoot)  // 34
        p.accessEntry = 0
        p.splitEntry = 25
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
        for hash in [false, true] {
            let hand = HandProgram(hashSource: hash)
            let used = Set(decodeOpcodes(hand.program.code))
            #expect(used == Set(Opcode.allCases), "the hand program must cover every opcode")
            try Verifier.verify(hand.program)
            let executable = try ExecutablePolicy(program: hand.program)
            let scratch = try #require(EvaluationScratch())
            func access(_ path: String, userAgent: String, source: String = "default/a") -> AccessResult {
                var path = path, method = "GET", name = "User-Agent", value = userAgent, a = source, b = "default/b"
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
            // A source the table lacks takes SWITCH_SOURCE's default target, in either table form.
            let miss = access("/x/y", userAgent: "Firefox", source: "default/b")
            #expect(!miss.allowed && miss.reason == .noRouteMatched)
            let none = UnsafeBufferPointer<RawHeader>(start: nil, count: 0)
            let split = executable.selectBackend(
                SplitQuery(service: 1, entropy: .max, method: nil, target: nil, headers: none, port: 80), scratch: scratch)
            #expect(split.backend == 1 && split.split == 1)
            let root = executable.selectBackend(
                SplitQuery(service: 1, entropy: 0, method: nil, target: nil, headers: none, port: 81), scratch: scratch)
            #expect(root.backend == noIndex && root.split == noIndex)
        }
    }

    @Test("the disassembler prints every opcode's mnemonic, resolved operands and notes")
    func disassemblerPrintsEveryOpcode() {
        let text = Disassembler.disassemble(HandProgram().program)
        for op in Opcode.allCases {
            #expect(text.contains(" \(op.info.mnemonic)"), "the disassembly lacks \(op.info.mnemonic):\n\(text)")
        }
        #expect(text.contains("SWITCH_DEST {default/b->3} ->23"))
        #expect(text.contains("SWITCH_PROTO http->10 tcp->23 udp->23"))
        #expect(text.contains("MATCH_ROUTES routes 0 ->19"))
        #expect(text.contains("SWITCH_SERVICE {default/b->28} ->34"))
        #expect(text.contains("ALLOW default/t HTTPRouteGroup match=m"))
        #expect(text.contains("DENY no-route-matched"))
        #expect(text.contains("JUMP ->23"))
        #expect(text.contains("SPLIT_WHEN condition 0 ->34"))
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
        p.code[22] = 42  // grant
        p.code[24] = 77  // reason
        p.code[33] = 50  // name
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
        p.code[20] = 2
        expectRefused(p, "backward jump")
    }

    @Test("a jump to itself is refused")
    func selfJump() {
        var p = HandProgram().program
        p.code[20] = 19
        expectRefused(p, "jump to itself")
    }

    @Test("a jump into the middle of an instruction is refused")
    func jumpIntoInstruction() {
        var p = HandProgram().program
        p.code[20] = 22
        expectRefused(p, "jump into ALLOW's operand")
    }

    @Test("a jump or split target past the end of the code is refused")
    func targetPastEnd() {
        var p = HandProgram().program
        p.code[20] = UInt32(p.code.count)
        expectRefused(p, "jump to the end")
        p = HandProgram().program
        p.code[30] = 1000
        expectRefused(p, "SPLIT_WHEN target past the end")
        p = HandProgram().program
        p.code[30] = 32
        expectRefused(p, "SPLIT_WHEN target inside PICK")
        p = HandProgram().program
        p.code[30] = 28
        expectRefused(p, "SPLIT_WHEN target to itself")
    }

    @Test("a switch table whose target is backward, itself or past the end is refused")
    func badSwitchTargets() {
        for target: UInt32 in [0, 1, 1000, 3, 4] {
            var p = HandProgram().program
            let offset = p.code[4]  // SWITCH_SOURCE at 3: its table
            var entries = SwitchTable.decode(p.tables, at: Int(offset)) ?? []
            entries[0].target = target
            let encoded = SwitchTable.encode(entries)
            p.tables.replaceSubrange(Int(offset)..<(Int(offset) + encoded.count), with: encoded)
            expectRefused(p, "switch target \(target) from offset 3")
        }
    }

    @Test("a default target (of a switch or MATCH_ROUTES) that is backward, itself, inside an instruction or past the end is refused")
    func badDefaultTargets() {
        let hand = HandProgram()
        for at in [hand.switchDestAt, hand.switchSourceAt, hand.switchPortAt, hand.switchMethodAt, hand.matchRoutesAt, hand.switchServiceAt] {
            for target in [0, at, at + 1, hand.program.code.count, 1000] where target != 0 || at != 0 {
                var p = hand.program
                p.code[at + 2] = UInt32(target)
                expectRefused(p, "default target \(target) of the instruction at \(at)")
            }
        }
    }

    @Test("a SWITCH_PROTO target that is backward, itself, inside an instruction or past the end is refused")
    func badProtocolTargets() {
        let hand = HandProgram()
        for k in 1...3 {
            for target in [2, hand.switchProtoAt, hand.switchProtoAt + 2, hand.program.code.count] {
                var p = hand.program
                p.code[hand.switchProtoAt + k] = UInt32(target)
                expectRefused(p, "SWITCH_PROTO target \(k) = \(target)")
            }
        }
    }

    @Test("format 1's switch and MATCH_ROUTES forms (no default target, SWITCH_PROTO with a table) are refused")
    func formatOneInstructions() {
        let hand = HandProgram()
        for (at, op) in [(hand.switchDestAt, Opcode.switchDestination), (hand.switchProtoAt, .switchProtocol), (hand.matchRoutesAt, .matchRoutes)] {
            var p = hand.program
            p.code[at] = UInt32(op.rawValue) | 1 << 8
            expectRefused(p, "\(op.info.mnemonic) with one operand")
        }
    }

    @Test("a linear switch table whose keys do not strictly increase is refused")
    func unsortedLinearTable() {
        for keys: [UInt32] in [[5, 2], [2, 2]] {
            var p = HandProgram().program
            let offset = UInt32(p.tables.count)
            p.tables += [SwitchTable.linearTag | 2, keys[0], 3, keys[1], 3]
            p.code[1] = offset
            expectRefused(p, "linear keys \(keys)")
        }
        var p = HandProgram().program
        let offset = UInt32(p.tables.count)
        p.tables += [SwitchTable.linearTag | 2, 1, 3, 2, 3]
        p.code[1] = offset
        #expect(throws: Never.self) { try Verifier.verify(p) }
    }

    @Test("an unknown opcode is refused")
    func unknownOpcode() {
        for raw: UInt32 in [0, 14, 0xFF] {
            var p = HandProgram().program
            p.code[23] = raw | 1 << 8
            expectRefused(p, "opcode \(raw)")
        }
    }

    @Test("a wrong operand count or set reserved bits are refused")
    func badOperandCountBits() {
        var p = HandProgram().program
        p.code[21] = UInt32(Opcode.allow.rawValue) | 2 << 8
        expectRefused(p, "ALLOW with 2 operands")
        p = HandProgram().program
        p.code[34] = UInt32(Opcode.answerRoot.rawValue) | 1 << 8
        expectRefused(p, "ROOT with 1 operand")
        p = HandProgram().program
        p.code[21] |= 1 << 20
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
        p.tables[hand.destTableOffset] = SwitchTable.linearTag | 1000
        expectRefused(p, "linear table whose count runs past the tables")
        // Hash form: an entry count that disagrees with the slots.
        p = HandProgram().program
        let hashed = UInt32(p.tables.count)
        p.tables += SwitchTable.encodeHash([(key: 1, target: 3)])
        p.code[1] = hashed
        #expect(throws: Never.self) { try Verifier.verify(p) }
        p.tables[Int(hashed) + 1] = 5
        expectRefused(p, "entry count that disagrees with the slots")
        p = HandProgram().program
        p.tables.removeLast(p.tables.count - hand.destTableOffset - 2)
        p.code = [Opcode.switchDestination.headerWord, UInt32(hand.destTableOffset), 3, Opcode.deny.headerWord, 1]
        p.splitEntry = 3
        p.annotations = []
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
        p.code[17] = 1
        expectRefused(p, "route set 1")
        p = HandProgram().program
        p.code[22] = 1
        expectRefused(p, "grant 1")
        p = HandProgram().program
        p.code[29] = 1
        expectRefused(p, "split condition 1")
        p = HandProgram().program
        p.code[33] = 2
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
        p.code += [Opcode.matchRoutes.headerWord, 0, UInt32(p.code.count + 3)]
        expectRefused(p, "MATCH_ROUTES last")
        p = HandProgram().program
        p.code.removeLast()  // ROOT; SPLIT_WHEN now targets the end
        expectRefused(p, "ROOT removed")
    }

    @Test("an unknown deny reason is refused")
    func badDenyReason() {
        var p = HandProgram().program
        p.code[24] = UInt32(DenyCode.allCases.count)
        expectRefused(p, "deny reason past the table")
        p.code[24] = .max
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

@Suite("Bytecode: the runtime's relocated words decide as the program does")
struct RelocatedProgramTests {
    @Test("a SPLIT_WHEN fall-through that another instruction also jumps to works from both")
    func sharedFallThrough() throws {
        var hand = HandProgram()
        // SWITCH_SERVICE's default (an unknown service) now goes to the PICK that SPLIT_WHEN
        // falls through to: the runtime copies the PICK after SPLIT_WHEN and keeps one for the jump.
        hand.program.code[hand.switchServiceAt + 2] = UInt32(hand.pickAt)
        try Verifier.verify(hand.program)
        let executable = try ExecutablePolicy(program: hand.program)
        let scratch = try #require(EvaluationScratch())
        let none = UnsafeBufferPointer<RawHeader>(start: nil, count: 0)
        func split(_ service: UInt32, port: UInt32?, entropy: UInt64) -> SplitResult {
            executable.selectBackend(
                SplitQuery(service: service, entropy: entropy, method: nil, target: nil, headers: none, port: port), scratch: scratch)
        }
        // Weights 1 and 3: entropy 0 picks backend 0, the top entropy backend 1.
        for (service, port) in [(UInt32(1), UInt32?(80)), (ExecutablePolicy.unknownName, nil)] {
            let low = split(service, port: port, entropy: 0)
            let high = split(service, port: port, entropy: .max)
            #expect(low.backend == 0 && low.split == 1, "service \(service)")
            #expect(high.backend == 1 && high.split == 1, "service \(service)")
        }
        // The known service on another port fails SPLIT_WHEN and answers the root.
        #expect(split(1, port: 81, entropy: 0).backend == noIndex)
    }
}

extension RelocatedProgramTests {
    @Test("tables, weight tables and split conditions that many instructions share are copied once")
    func sharedTablesCopiedOnce() throws {
        // 2,000 PICKs naming one weight table of 1,000 backends, 2,000 SPLIT_WHENs naming one
        // condition of 1,000 ports and 2,000 SWITCH_SERVICEs naming one table: copying per use
        // would take millions of words.
        var p = Program(options: ProgramOptions(
            fullPathMatch: false, normalization: .all, matchLimit: 100_000, depthLimit: 10_000, trustDomain: nil))
        p.strings = ["default/a", "default/b"]
        p.names = [0, 1]
        let backends = (0..<1_000).map { _ in (name: UInt32(0), weight: UInt64(1)) }
        p.splitConditions = [SplitCondition(routeSet: noIndex, anyPort: false, ports: Array(0..<1_000))]
        let count = 2_000
        let switchesEnd = UInt32(count * 3)
        let root = switchesEnd + UInt32(count * 6)
        var tables = WeightTable.encode(backends) ?? []
        let serviceTable = UInt32(tables.count)
        tables += SwitchTable.encode([(key: 0, target: root)])  // service 0 answers the root at once
        var code: [UInt32] = []
        for i in 0..<count {  // SWITCH_SERVICE chain: any other service goes on to the next
            code += [Opcode.switchService.headerWord, serviceTable, UInt32(i * 3 + 3)]
        }
        for i in 0..<count {  // SPLIT_WHEN + PICK blocks: a failed condition goes on to the next
            code += [Opcode.splitWhen.headerWord, 0, switchesEnd + UInt32(i * 6 + 6)]
            code += [Opcode.pick.headerWord, 0, 0]
        }
        code += [Opcode.answerRoot.headerWord]
        p.code = code
        p.tables = tables
        p.accessEntry = root
        p.splitEntry = 0
        try Verifier.verify(p)
        let layout = DecisionLayout(p) { $0 }
        #expect(layout.words.count < p.code.count + p.tables.count + 1_000 + 2 * count + 10)
        let executable = try ExecutablePolicy(program: p)
        let scratch = try #require(EvaluationScratch())
        let none = UnsafeBufferPointer<RawHeader>(start: nil, count: 0)
        func split(_ service: UInt32, port: UInt32) -> SplitResult {
            executable.selectBackend(
                SplitQuery(service: service, entropy: .max, method: nil, target: nil, headers: none, port: port), scratch: scratch)
        }
        let hit = split(1, port: 999)
        #expect(hit.backend == 0 && hit.split == 0)
        #expect(split(1, port: 5_000).backend == noIndex)
        #expect(split(0, port: 999).backend == noIndex)
    }
}
