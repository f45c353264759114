import SMIBytecode
import SMIEngine
import SMIRuntime

extension FuzzEntries {
    /// Decodes a Program from fuzz bytes: a compiled fixed policy's program (so that most inputs
    /// stay close to valid) changed by a list of edits, each an (area, index, value) triple.
    /// Every section can be edited, grown and shrunk: code words, tables, entries, grants,
    /// names, methods, route sets and their candidates, split conditions, strings (which hold
    /// regexes) and options.
    public static func decodeProgram(_ input: inout FuzzInput) -> Program {
        let fixed = FuzzSubject.fixed
        var p =
            fixed.isEmpty
            ? Program(
                options: ProgramOptions(
                    fullPathMatch: false,
                    normalization: .all,
                    matchLimit: 1000,
                    depthLimit: 100,
                    trustDomain: nil
                )
            )
            : fixed[input.below(fixed.count)].policy.program
        func value(_ old: UInt32, _ input: inout FuzzInput) -> UInt32 {
            switch input.below(6) {
            case 0: return input.uint32()
            case 1: return old &+ 1
            case 2: return old &- 1
            case 3: return 0
            case 4: return .max
            default: return UInt32(input.byte())
            }
        }
        func edit(_ list: inout [UInt32], _ input: inout FuzzInput) {
            switch input.below(8) {
            case 0: list.append(value(0, &input))
            case 1: if !list.isEmpty { list.removeLast(input.below(list.count) + 1) }
            default:
                guard !list.isEmpty else { return }
                let i = input.below(list.count)
                list[i] = value(list[i], &input)
            }
        }
        let edits = input.below(8) + 1
        for _ in 0..<edits where !input.isExhausted {
            switch input.below(14) {
            case 0, 1, 2: edit(&p.code, &input)
            case 3, 4: edit(&p.tables, &input)
            case 5:
                if input.oneIn(2) {
                    p.accessEntry = value(p.accessEntry, &input)
                } else {
                    p.splitEntry = value(p.splitEntry, &input)
                }
            case 6:
                guard !p.grants.isEmpty else { break }
                let i = input.below(p.grants.count)
                switch input.below(3) {
                case 0: p.grants[i].trafficTarget = value(p.grants[i].trafficTarget, &input)
                case 1: p.grants[i].match = value(p.grants[i].match, &input)
                default: p.grants.removeLast()
                }
            case 7: edit(&p.names, &input)
            case 8: edit(&p.methods, &input)
            case 9:
                guard !p.routeSets.isEmpty else { break }
                let s = input.below(p.routeSets.count)
                guard !p.routeSets[s].candidates.isEmpty else { p.routeSets.removeLast(); break }
                let c = input.below(p.routeSets[s].candidates.count)
                switch input.below(5) {
                case 0: p.routeSets[s].candidates[c].grant = value(p.routeSets[s].candidates[c].grant, &input)
                case 1: p.routeSets[s].candidates[c].path = value(p.routeSets[s].candidates[c].path, &input)
                case 2: edit(&p.routeSets[s].candidates[c].methods, &input)
                case 3:
                    let h = HeaderTest(name: value(0, &input), pattern: value(0, &input))
                    p.routeSets[s].candidates[c].headers.append(h)
                default: p.routeSets[s].candidates.removeAll()
                }
            case 10:
                guard !p.splitConditions.isEmpty else { break }
                let i = input.below(p.splitConditions.count)
                p.splitConditions[i].routeSet = value(p.splitConditions[i].routeSet, &input)
                if input.oneIn(2) { p.splitConditions[i].anyPort.toggle() }
                edit(&p.splitConditions[i].ports, &input)
            case 11:
                // A string replaced by raw bytes: names, and regexes (unbalanced, huge, invalid UTF-8).
                guard !p.strings.isEmpty else { break }
                p.strings[input.below(p.strings.count)] = String(decoding: input.raw(upTo: 24), as: UTF8.self)
            case 12:
                p.options.fullPathMatch.toggle()
                p.options.normalization = PathNormalization(rawValue: UInt32(input.byte()))
                p.options.matchLimit = value(p.options.matchLimit, &input) % 200_000
                p.options.depthLimit = value(p.options.depthLimit, &input) % 20_000
            default:
                // Two code words swapped: jumps that go backwards, operands out of place.
                guard p.code.count > 1 else { break }
                let i = input.below(p.code.count)
                let j = input.below(p.code.count)
                p.code.swapAt(i, j)
            }
        }
        return p
    }

    /// The program target: a Program decoded from the bytes (``decodeProgram(_:)``) is verified
    /// and, when the verifier accepts it, loaded and run on requests from the rest of the bytes.
    /// The verifier is the only guard between a bundle file and the evaluator, so anything it
    /// accepts must run without crashing. Returns the invariants that failed:
    ///
    /// - the verifier and `ExecutablePolicy(program:)` agree on verification;
    /// - an accepted program disassembles, and each decision names an existing grant when it
    ///   allows and is deterministic.
    ///
    /// Once compiled bundles exist, the same checks apply to a program read from bundle bytes.
    public static func program(_ bytes: [UInt8]) -> [String] {
        var input = FuzzInput(bytes)
        let program = decodeProgram(&input)
        return run(program, &input)
    }

    /// The checks of ``program(_:)`` on an already decoded program.
    public static func run(_ program: Program, _ input: inout FuzzInput) -> [String] {
        var verified = true
        do { try Verifier.verify(program) } catch { verified = false }
        let executable: ExecutablePolicy
        do {
            executable = try ExecutablePolicy(program: program)
        } catch {
            if case .verification = error, verified {
                return ["the verifier accepted what ExecutablePolicy refused as unverified"]
            }
            return []
        }
        guard verified else { return ["ExecutablePolicy loaded a program the verifier refuses"] }
        var problems: [String] = []
        if Disassembler.disassemble(program).isEmpty { problems.append("an empty disassembly") }
        guard let scratch = EvaluationScratch() else { return problems }
        var count = 0
        while !input.isExhausted, count < 8 {
            count += 1
            if input.oneIn(3) {
                let service = Array(input.pick(FixedPolicies.services).utf8)
                let path = HostileRequests.path(&input, pieces: 4)
                let entropy = input.uint64()
                let port: UInt32? = input.oneIn(2) ? input.pick(FixedPolicies.ports) : nil
                let result: (SplitResult, SplitResult) = service.withUnsafeBytes { s in
                    path.withUnsafeBytes { t in
                        let q = SplitQuery(
                            service: executable.resolveName(s),
                            entropy: entropy,
                            method: nil,
                            target: t,
                            headers: UnsafeBufferPointer(start: nil, count: 0),
                            port: port
                        )
                        return (
                            executable.selectBackend(q, scratch: scratch), executable.selectBackend(q, scratch: scratch)
                        )
                    }
                }
                if result.0 != result.1 { problems.append("split not deterministic on a verified program") }
                continue
            }
            let raw = RawAccessRequest(&input)
            let results = (decideRaw(executable, raw, scratch), decideRaw(executable, raw, scratch))
            if results.0 != results.1 { problems.append("access not deterministic on a verified program") }
            if results.0.allowed && Int(results.0.grant) >= program.grants.count {
                problems.append("an allow naming grant \(results.0.grant) of \(program.grants.count)")
            }
        }
        return problems
    }

    /// Decides `raw` straight on the runtime (no facade, no limits), as a bundle's program would run.
    static func decideRaw(_ executable: ExecutablePolicy, _ raw: RawAccessRequest, _ scratch: EvaluationScratch)
        -> AccessResult
    {
        // Every byte string in one arena, so that the views stay valid during the decision.
        var arena: [UInt8] = []
        var ranges: [Range<Int>] = []
        for part in [raw.source, raw.destination, raw.method, raw.target]
            + raw.headers.flatMap({ [$0.name, $0.value] })
        {
            ranges.append(arena.count..<(arena.count + part.count))
            arena += part
        }
        return arena.withUnsafeBytes { all in
            func view(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: all[ranges[i]]) }
            var headers: [RawHeader] = []
            for h in 0..<raw.headers.count { headers.append(RawHeader(name: view(4 + 2 * h), value: view(5 + 2 * h))) }
            return headers.withUnsafeBufferPointer { list in
                let proto: ProtocolCode = raw.transport == .http ? .http : raw.transport == .tcp ? .tcp : .udp
                let query = AccessQuery(
                    source: executable.resolveIdentity(view(0)),
                    destination: executable.resolveIdentity(view(1)),
                    port: raw.port,
                    proto: proto,
                    method: view(2),
                    target: view(3),
                    headers: list
                )
                return executable.decide(query, scratch: scratch)
            }
        }
    }
}
