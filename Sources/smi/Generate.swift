import ArgumentParser
import SMIGenerate

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `smi generate`: a synthetic mesh of any size, with requests and expected outcomes, for
/// benchmarks (docs/BENCHMARKS.md).
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a realistic SMI mesh, requests and expected outcomes for benchmarks.",
        discussion: """
            Writes, for the same targets and seed, byte-identical files on every machine:
              DIR/policy/<namespace>.yaml  the SMI resources, one multi-document file per namespace
              DIR/requests.jsonl           requests in the `smi eval` format
              DIR/expected.jsonl           per request: {"class":...,"outcome":"allow"|"deny:<reason>"|"backend"}
              DIR/rules.jsonl              the policy flattened for baselines, one granting unit per line
              DIR/splits.jsonl             the TrafficSplits with weights and matches
            and prints counts on standard error. docs/BENCHMARKS.md describes the formats.

            Examples:
              smi generate --targets 1000 --seed 1 --out /tmp/mesh-1000
              smi eval --policy /tmp/mesh-1000/policy --requests /tmp/mesh-1000/requests.jsonl
            """
    )

    @Option(help: "The number of TrafficTargets.")
    var targets: Int

    @Option(help: "The seed (the same seed and size give the same files).")
    var seed: UInt64 = 1

    @Option(help: "The number of requests.")
    var requests: Int = 10_000

    @Option(help: ArgumentHelp("The output folder (created if missing).", valueName: "dir"))
    var out: String

    func validate() throws {
        guard targets >= 1 else { throw ValidationError("--targets must be at least 1") }
        guard requests >= 0 else { throw ValidationError("--requests must not be negative") }
    }

    func run() throws {
        let start = Self.now()
        let mesh = MeshGenerator(targets: targets, seed: seed).generate()
        let generated = mesh.requests(count: requests)
        do {
            let summary = try mesh.write(to: out, requests: generated)
            let ms = (Self.now() - start) / 1_000_000
            StandardError.writeLine("smi generate: \(out) in \(ms) ms: \(summary)")
        } catch {
            StandardError.writeLine("smi: \(error)")
            throw ExitCode.failure
        }
    }

    private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
