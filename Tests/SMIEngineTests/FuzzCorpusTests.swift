import Foundation
import SMIFuzzEntries
import Testing

/// The checked-in fuzz corpus (Fuzz/Corpus/TARGET), replayed through the same entry functions
/// the libFuzzer targets call (Fuzz/, scripts/fuzz.sh), with no fuzz engine: every input that
/// once crashed or broke an invariant stays fixed.
@Suite("Fuzz corpus replays without a crash or a broken invariant")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        return try names.map { ($0, Array(try Data(contentsOf: folder.appendingPathComponent($0)))) }
    }

    static func replay(_ target: String, _ entry: ([UInt8]) -> [String]) throws {
        let inputs = try inputs(target)
        #expect(inputs.count >= 5, "the \(target) corpus has seeds")
        for input in inputs {
            let problems = entry(input.bytes)
            #expect(
                problems.isEmpty,
                "Fuzz/Corpus/\(target)/\(input.name): \(problems.prefix(3).joined(separator: "\n"))"
            )
        }
    }

    @Test("loader: manifests (YAML, JSON, hostile) load and compile within the invariants")
    func loader() throws { try Self.replay("loader", FuzzEntries.loader) }

    @Test("decide: requests against fixed and generated policies keep the decision invariants")
    func decide() throws { try Self.replay("decide", FuzzEntries.decisions) }

    @Test("program: edited programs are refused by the verifier or run safely")
    func program() throws { try Self.replay("program", FuzzEntries.program) }

    @Test("bundle: bundles (valid, truncated, damaged) are refused or load and run safely")
    func bundle() throws { try Self.replay("bundle", FuzzEntries.bundle) }

    @Test("the entry functions accept empty and one-byte inputs")
    func tinyInputs() {
        for bytes in [[], [0], [0x80], [0xFF], [0x7B]] as [[UInt8]] {
            #expect(FuzzEntries.loader(bytes).isEmpty)
            #expect(FuzzEntries.decisions(bytes).isEmpty)
            #expect(FuzzEntries.program(bytes).isEmpty)
            #expect(FuzzEntries.bundle(bytes).isEmpty)
        }
    }
}
