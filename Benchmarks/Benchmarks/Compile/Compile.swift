import BenchSupport
import Benchmark
import SMIEngine

#if canImport(Glibc)
    import Glibc
#endif

// Compile time per size (`Policy.compile(paths:)` of the generated policy folder: reading the
// YAML files, loading, compiling, verifying and compiling the regexes), and the compiled size
// per TrafficTarget. Generation happens in setup (files are reused between runs).

func compileConfiguration(_ size: Int) -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: BenchSettings.smoke ? 0 : 1,
        scalingFactor: .one,
        maxDuration: BenchSettings.smoke ? .milliseconds(500) : .seconds(size >= 10_000 ? 60 : 10),
        maxIterations: BenchSettings.smoke ? 2 : (size >= 100_000 ? 5 : size >= 10_000 ? 10 : 200)
    )
}

let bytesPerTarget = BenchmarkMetric.custom("compiled bytes per TT", polarity: .prefersSmaller, useScalingFactor: false)
let totalKB = BenchmarkMetric.custom("compiled KB", polarity: .prefersSmaller, useScalingFactor: false)
let regexKB = BenchmarkMetric.custom("regex code KB", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    for size in BenchSettings.sizes {
        Benchmark("compile N=\(size)", configuration: compileConfiguration(size)) {
            (benchmark: Benchmark, fixture: MeshFixture) in
            do {
                blackHole(try fixture.compile())
            } catch {
                benchmark.error("N=\(size): \(error)")
            }
        } setup: {
            do {
                return try MeshFixture(size: size)
            } catch {
                fatal("N=\(size): \(error)")
            }
        }

        // Not a timing: one sample of the compiled size, as custom metrics.
        Benchmark(
            "compiled-size N=\(size)",
            configuration: .init(
                metrics: [bytesPerTarget, totalKB, regexKB], warmupIterations: 0, scalingFactor: .one,
                maxDuration: .seconds(600), maxIterations: 1)
        ) { (benchmark: Benchmark, size: (total: Int, regexCode: Int, targets: Int)) in
            benchmark.measurement(bytesPerTarget, size.total / max(1, size.targets))
            benchmark.measurement(totalKB, size.total / 1024)
            benchmark.measurement(regexKB, size.regexCode / 1024)
        } setup: {
            do {
                let fixture = try MeshFixture(size: size)
                let policy = try fixture.compile()
                let measured = policy.footprint
                let annotated = try fixture.compile(annotations: true).footprint
                let report =
                    "N=\(size) TrafficTargets=\(fixture.mesh.targets.count) bytes/TT=\(measured.total / max(1, fixture.mesh.targets.count)) \(measured); with annotations kept: +\(annotated.annotations) B\n"
                printError("compiled size: " + report)
                if let f = fopen(fixture.directory + "/compiled-size.txt", "w") {
                    fputs(report, f)
                    fclose(f)
                }
                return (total: measured.total, regexCode: measured.regexCode, targets: fixture.mesh.targets.count)
            } catch {
                fatal("N=\(size): \(error)")
            }
        }
    }
}
