// swift-tools-version: 6.1
//
// Benchmarks for SMIEngine, kept out of the main package so that `swift build`/`swift test` there
// never build the benchmark stack (docs/BENCHMARKS.md).
//
//   cd Benchmarks && swift package benchmark                        # every size, every benchmark
//   SMI_BENCH_SIZES=10,100 SMI_BENCH_SMOKE=1 swift package benchmark  # the CI smoke run
//
// ordo-one/benchmark needs the MallocInterposer trait alone: its default traits add a runtime
// interposer package that is not available offline.
import PackageDescription

let benchmarkDependencies: [Target.Dependency] = [
    .product(name: "Benchmark", package: "benchmark"),
    "BenchSupport",
]

let package = Package(
    name: "SMIEngineBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:` keeps the product references below independent of the checkout's folder name.
        .package(name: "SMIEngine", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Mesh generation, caching on disk and compiled-size accounting shared by the benchmarks.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "SMIEngine", package: "SMIEngine"),
                .product(name: "SMIGenerate", package: "SMIEngine"),
            ]
        ),
        .executableTarget(
            name: "Decisions",
            dependencies: benchmarkDependencies,
            path: "Benchmarks/Decisions",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Compile",
            dependencies: benchmarkDependencies,
            path: "Benchmarks/Compile",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
