import Foundation
import SMIBytecode
import SMIEngine
import SMIReference
import Testing

/// Compiled policy bundles (docs/BUNDLE.md): round trips, determinism, and every refusal.
@Suite("Policy bundles")
struct BundleTests {
    /// The fields the bundle format serializes, per type. A field added to one of these types
    /// fails `everyFieldIsSerialized` until Bundle.swift, docs/BUNDLE.md and this list learn it.
    static let serializedFields: [String: [String]] = [
        "Program": ["options", "strings", "names", "methods", "grants", "routeSets", "splitConditions", "code", "tables",
                    "accessEntry", "splitEntry", "annotations"],
        "ProgramOptions": ["fullPathMatch", "normalization", "matchLimit", "depthLimit", "trustDomain"],
        "Grant": ["trafficTarget", "ruleKind", "match"],
        "RouteSet": ["candidates"],
        "RouteCandidate": ["grant", "path", "methods", "headers"],
        "HeaderTest": ["name", "pattern"],
        "SplitCondition": ["routeSet", "anyPort", "ports"],
        "Annotation": ["offset", "text"],
    ]

    static func labels(_ value: Any) -> [String] { Mirror(reflecting: value).children.compactMap(\.label) }

    /// A program with every field set away from its default, so that a field the writer forgot
    /// would come back different.
    static var everyFieldProgram: Program {
        var p = Program(options: ProgramOptions(
            fullPathMatch: true, normalization: [.stripQuery, .mergeSlashes], matchLimit: 77, depthLimit: 55,
            trustDomain: "cluster.local"))
        p.strings = ["default/a", "default/b", "GET", "/x.*", "x-h", "v[0-9]", "note é", ""]
        p.names = [0, 1]
        p.methods = [2]
        p.grants = [
            Grant(trafficTarget: 0, ruleKind: .httpRouteGroup, match: 7),
            Grant(trafficTarget: 1, ruleKind: .udpRoute, match: noIndex),
        ]
        p.routeSets = [RouteSet(candidates: [
            RouteCandidate(grant: 0, path: 3, methods: [0], headers: [HeaderTest(name: 4, pattern: 5)]),
            RouteCandidate(grant: 1, path: noIndex, methods: [], headers: []),
        ])]
        p.splitConditions = [SplitCondition(routeSet: 0, anyPort: true, ports: [80, 443])]
        p.code = [Opcode.allow.headerWord, 1, Opcode.answerRoot.headerWord]
        p.tables = [0, 0, 0xFFFF_FFFF, 0]
        p.accessEntry = 0
        p.splitEntry = 2
        p.annotations = [Annotation(offset: 0, text: 6), Annotation(offset: 2, text: 6)]
        return p
    }

    static func golden(_ name: String) throws -> Policy {
        let input = try String(contentsOf: GoldenCase.folder(name).appendingPathComponent("input.yaml"), encoding: .utf8)
        return try Policy.compile(text: input, name: "input.yaml")
    }

    static func decisions(_ name: String, _ policy: Policy) throws -> [String] {
        let requests = try String(contentsOf: GoldenCase.folder(name).appendingPathComponent("requests.jsonl"), encoding: .utf8)
        var out: [String] = []
        for (number, line) in requests.split(separator: "\n").enumerated() where !line.hasPrefix("#") {
            out.append(try GoldenCase.decide(String(line), policy: policy, lineNumber: number + 1))
        }
        return out
    }

    /// The bytes with the checksum recomputed, as a forger would.
    static func resigned(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        for i in 20..<24 { b[i] = 0 }
        let crc = b.withUnsafeBytes { CRC32C.checksum($0) }
        for i in 0..<4 { b[20 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        return b
    }

    static func putWord(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    static func section(_ kind: BundleSectionKind, of bytes: [UInt8]) throws -> BundleSection {
        try #require(try BundleReader.info(bytes).sections.first { $0.kind == kind })
    }

    static func decodeError(_ bytes: [UInt8]) -> BundleError? {
        do {
            _ = try BundleReader.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    static func loadCode(_ bytes: [UInt8]) -> String? {
        do {
            _ = try Policy.load(bundle: bytes, name: "test.smib")
            return nil
        } catch {
            return error.diagnostics.first?.code.rawValue
        }
    }

    // MARK: Round trips

    @Test("CRC-32C gives the standard check value")
    func crcCheckValue() {
        let crc = Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) }
        #expect(crc == 0xE306_9283)
    }

    @Test("every field of Program and its parts is serialized")
    func everyFieldIsSerialized() throws {
        let p = Self.everyFieldProgram
        let set = p.routeSets[0]
        let samples: [String: Any] = [
            "Program": p, "ProgramOptions": p.options, "Grant": p.grants[0], "RouteSet": set,
            "RouteCandidate": set.candidates[0], "HeaderTest": set.candidates[0].headers[0],
            "SplitCondition": p.splitConditions[0], "Annotation": p.annotations[0],
        ]
        for (type, value) in samples {
            #expect(
                Self.labels(value) == Self.serializedFields[type],
                "\(type) gained or lost a field: serialize it in BundleWriter/BundleReader.swift and docs/BUNDLE.md, bump the format version")
        }
        let bytes = BundleWriter.encode(p)
        let decoded = try BundleReader.decode(bytes)
        #expect(decoded == p)
        #expect(BundleWriter.encode(decoded) == bytes)
        #expect(throws: Never.self) { try Verifier.verify(p) }
    }

    @Test("each golden policy survives a round trip: same program, same bytes, same decisions", arguments: GoldenTests.cases)
    func goldenRoundTrip(_ name: String) throws {
        let compiled = try Self.golden(name)
        let bytes = compiled.bundle()
        let decoded = try BundleReader.decode(bytes)
        #expect(decoded == compiled.program)
        #expect(BundleWriter.encode(decoded) == bytes)
        let loaded = try Policy.load(bundle: bytes, name: "\(name).smib")
        #expect(loaded.isFromBundle && !compiled.isFromBundle)
        #expect(loaded.bundle() == bytes)
        #expect(loaded.disassembly() == compiled.disassembly())
        let fromBundle = try Self.decisions(name, loaded)
        #expect(!fromBundle.isEmpty)
        #expect(fromBundle == (try Self.decisions(name, compiled)))
    }

    @Test("compiling twice gives identical bundle bytes", arguments: GoldenTests.cases)
    func deterministic(_ name: String) throws {
        #expect(try Self.golden(name).bundle() == (try Self.golden(name).bundle()))
    }

    @Test("a bundle file loads by path; a missing file is an io diagnostic naming it")
    func fileLoad() throws {
        let compiled = try Self.golden("seed-v1alpha1")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("smi-bundle-\(UUID().uuidString).smib").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(compiled.bundle()).write(to: URL(fileURLWithPath: path))
        let loaded = try Policy.load(bundleAt: path)
        #expect(loaded.program == compiled.program)
        let error = try #require(throws: PolicyCompileError.self) { try Policy.load(bundleAt: path + ".missing") }
        #expect(error.diagnostics.map(\.code) == [.io])
        #expect(error.diagnostics.first?.location?.file == path + ".missing")
        let small = try #require(throws: PolicyCompileError.self) { try Policy.load(bundleAt: path, maxBytes: 10) }
        #expect(small.diagnostics.map(\.code) == [.limitExceeded])
    }

    @Test("explain on a bundle policy says so and walks the program")
    func explainFromBundle() throws {
        let loaded = try Policy.load(bundle: try Self.golden("seed-v1alpha1").bundle())
        let request = AccessRequest(
            source: "default/prometheus", destination: "default/api-service", port: 9090, transport: .http, method: "GET",
            path: "/metrics")
        let explanation = loaded.explain(request)
        #expect(explanation.fromBundle && explanation.targets.isEmpty)
        #expect(explanation.decision == loaded.decide(request))
        let last = try #require(explanation.decisionPath.last)
        #expect(last.contains(explanation.decision.allowed ? "allow" : "DENY"))
        #expect(explanation.description.contains("bundle"))
    }

    @Test("a policy compiled without its source model decides the same and explains by its program")
    func withoutSourceModel() throws {
        let input = try String(contentsOf: GoldenCase.folder("seed-v1alpha1").appendingPathComponent("input.yaml"), encoding: .utf8)
        var options = PolicyOptions()
        options.keepsSourceModel = false
        let lean = try Policy.compile(text: input, options: options)
        let full = try Policy.compile(text: input)
        #expect(lean.normalized == nil && full.normalized != nil)
        #expect(!lean.isFromBundle && !full.isFromBundle)
        let request = AccessRequest(
            source: "default/prometheus", destination: "default/api-service", port: 9090, transport: .http, method: "GET",
            path: "/metrics")
        #expect(lean.decide(request) == full.decide(request))
        let explanation = lean.explain(request)
        #expect(explanation.fromBundle && explanation.targets.isEmpty && !explanation.decisionPath.isEmpty)
        #expect(!full.explain(request).targets.isEmpty)
    }

    // MARK: Refusals

    @Test("another format version is refused, naming both versions: the older format 1 and a newer one")
    func otherVersion() throws {
        #expect(BundleLayout.formatVersion == 2)
        for other: UInt32 in [1, 3] {
            var bytes = try Self.golden("seed-v1alpha1").bundle()
            Self.putWord(other, at: BundleLayout.formatVersionOffset, in: &bytes)
            #expect(Self.decodeError(bytes) == .unsupportedFormatVersion(found: other, supported: 2))
            #expect(Self.decodeError(Self.resigned(bytes)) == .unsupportedFormatVersion(found: other, supported: 2))
            #expect(Self.loadCode(bytes) == "bundle-unsupported-version")
            let message = try #require(Self.decodeError(Self.resigned(bytes))).description
            #expect(message.contains("version \(other)") && message.contains("version 2"), "\(message)")
        }
    }

    @Test("every truncation of a small bundle is refused; one byte more is trailing")
    func truncations() throws {
        let bytes = try Self.golden("seed-v1alpha1").bundle()
        for length in 0..<bytes.count {
            let error = Self.decodeError(Array(bytes[0..<length]))
            let expected = length < BundleLayout.headerLength ? BundleLayout.headerLength : bytes.count
            #expect(error == .truncated(expected: expected, actual: length), "length \(length)")
        }
        #expect(Self.decodeError(bytes + [0]) == .trailingBytes(expected: bytes.count, actual: bytes.count + 1))
        #expect(Self.loadCode(Array(bytes.dropLast())) == "bundle-truncated")
        #expect(Self.decodeError(Array("not a bundle at all, just some text".utf8)) == .badMagic)
    }

    @Test("every single-byte corruption is refused; past the length fields by the checksum")
    func corruptions() throws {
        let bytes = try Self.golden("seed-v1alpha1").bundle()
        for offset in 0..<bytes.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[offset] ^= flip
                let error = Self.decodeError(damaged)
                #expect(error != nil, "offset \(offset) ^ \(flip) was accepted")
                if offset >= BundleLayout.checksumOffset {
                    if case .checksumMismatch = error {} else {
                        Issue.record("offset \(offset) ^ \(flip): \(String(describing: error)), expected a checksum mismatch")
                    }
                }
            }
        }
    }

    @Test("malformed tables, lying counts, bad UTF-8 and bad values are refused even with a valid checksum")
    func forgedStructure() throws {
        let p = Self.everyFieldProgram
        let bytes = BundleWriter.encode(p)

        var overlap = bytes
        let names = try Self.section(.names, of: bytes)
        // Entry 2 (names) moved onto the strings section.
        Self.putWord(UInt32(names.offset - 8), at: BundleLayout.headerLength + 2 * 16 + 8, in: &overlap)
        guard case .badSectionTable = Self.decodeError(Self.resigned(overlap)) else {
            Issue.record("overlap accepted")
            return
        }
        var outOfRange = bytes
        Self.putWord(UInt32(bytes.count), at: BundleLayout.headerLength + 10 * 16 + 8, in: &outOfRange)
        guard case .badSectionTable = Self.decodeError(Self.resigned(outOfRange)) else {
            Issue.record("out-of-range section accepted")
            return
        }
        var unknownKind = bytes
        Self.putWord(99, at: BundleLayout.headerLength + 3 * 16, in: &unknownKind)
        guard case .badSectionTable = Self.decodeError(Self.resigned(unknownKind)) else {
            Issue.record("unknown kind accepted")
            return
        }

        var lying = bytes
        let strings = try Self.section(.strings, of: bytes)
        Self.putWord(0x7FFF_FFFF, at: strings.offset, in: &lying)
        guard case .countTooLarge(section: .strings, count: 0x7FFF_FFFF, _)? = Self.decodeError(Self.resigned(lying)) else {
            Issue.record("lying string count accepted")
            return
        }
        var lyingCode = bytes
        let code = try Self.section(.code, of: bytes)
        Self.putWord(0xFFFF_FFFF, at: code.offset, in: &lyingCode)
        guard case .countTooLarge(section: .code, _, _)? = Self.decodeError(Self.resigned(lyingCode)) else {
            Issue.record("lying code count accepted")
            return
        }

        var badUTF8 = bytes
        let text = Array("default/a".utf8)
        let at = try #require((0..<(bytes.count - text.count)).first { Array(bytes[$0..<($0 + text.count)]) == text })
        badUTF8[at] = 0xFF
        #expect(Self.decodeError(Self.resigned(badUTF8)) == .badUTF8(section: .strings, index: 0))

        var badKind = bytes
        let grants = try Self.section(.grants, of: bytes)
        Self.putWord(7, at: grants.offset + 8, in: &badKind)
        guard case .badSection(section: .grants, _)? = Self.decodeError(Self.resigned(badKind)) else {
            Issue.record("unknown rule kind accepted")
            return
        }
        var badFlags = bytes
        Self.putWord(1, at: BundleLayout.flagsOffset, in: &badFlags)
        guard case .badHeader? = Self.decodeError(Self.resigned(badFlags)) else {
            Issue.record("reserved header flags accepted")
            return
        }
    }

    @Test("a program the verifier refuses is never loaded, however valid its bundle", arguments: [
        "backward jump", "string index", "grant index", "candidate method", "header test", "route set without grant",
        "weight table name", "annotation offset", "entry", "split condition route set",
    ])
    func verifierRefuses(_ damage: String) throws {
        let splitDamage = ["backward jump", "weight table name", "split condition route set"].contains(damage)
        var p = try Self.golden(splitDamage ? "split-matches" : "seed-v1alpha1").program
        try #require(splitDamage || (!p.grants.isEmpty && !p.routeSets.isEmpty))
        switch damage {
        case "backward jump":
            // Point the first target operand (JUMP, SPLIT_WHEN) at offset 0: not strictly forward.
            var pc = 0
            var patched = false
            while pc < p.code.count, !patched {
                let op = try #require(Opcode(rawValue: UInt8(truncatingIfNeeded: p.code[pc])))
                if let k = op.info.operands.firstIndex(of: .target) {
                    p.code[pc + 1 + k] = 0
                    patched = true
                }
                pc += op.length
            }
            try #require(patched, "split-matches has a SPLIT_WHEN with a target")
        case "string index": p.grants[0].trafficTarget = UInt32(p.strings.count)
        case "grant index":
            p.routeSets[0].candidates[0].grant = UInt32(p.grants.count) + 5
        case "candidate method": p.routeSets[0].candidates[0].methods = [UInt32(p.methods.count)]
        case "header test":
            p.routeSets[0].candidates[0].headers = [HeaderTest(name: UInt32(p.strings.count) + 1, pattern: 0)]
        case "route set without grant":
            let set = try #require(p.code.indices.first { p.code[$0] == Opcode.matchRoutes.headerWord })
            p.routeSets[Int(p.code[set + 1])].candidates[0].grant = noIndex
        case "weight table name":
            let pick = try #require(p.code.indices.first { p.code[$0] == Opcode.pick.headerWord })
            let table = Int(p.code[pick + 1])
            p.tables[table + 5] = UInt32(p.names.count)
        case "annotation offset": p.annotations.append(Annotation(offset: UInt32(p.code.count), text: 0))
        case "entry": p.accessEntry = UInt32(p.code.count)
        case "split condition route set":
            try #require(!p.splitConditions.isEmpty)
            p.splitConditions[0].routeSet = UInt32(p.routeSets.count)
        default: Issue.record("unknown damage \(damage)")
        }
        #expect(throws: VerificationError.self) { try Verifier.verify(p) }
        let bytes = BundleWriter.encode(p)
        #expect(try BundleReader.decode(bytes) == p)  // a well-formed bundle ...
        #expect(Self.loadCode(bytes) == "bundle-invalid-program")  // ... of a program that never runs
        #expect(try BundleReader.info(bytes).verification != nil)
    }

    @Test("a pattern that does not compile refuses the bundle")
    func badRegex() throws {
        var p = try Self.golden("seed-v1alpha1").program
        let path = try #require(p.routeSets.flatMap(\.candidates).first { $0.path != noIndex }?.path)
        p.strings[Int(path)] = "(unclosed"
        #expect(Self.loadCode(BundleWriter.encode(p)) == "bundle-invalid-regex")
    }

    @Test("random damage with a recomputed checksum never traps the reader or the verifier")
    func randomDamage() throws {
        let bytes = try Self.golden("split-matches").bundle()
        var rng = Differential.SplitMix64(seed: 0x5EED_B0B)
        var refused = 0
        for _ in 0..<1500 {
            var damaged = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: BundleLayout.sectionCountOffset..<damaged.count, using: &rng)
                damaged[at] = UInt8.random(in: 0...255, using: &rng)
            }
            if Self.loadCode(Self.resigned(damaged)) != nil { refused += 1 }
            _ = try? BundleReader.info(Self.resigned(damaged))
        }
        #expect(refused > 0)
    }
}
