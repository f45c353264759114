// swift-tools-version: 6.1
//
// SMIEngine: an SMI (Service Mesh Interface) policy compiler and decision engine.
//
// Pipeline, one module per stage, dependencies pointing one way:
//
//   SMIModel  <-  SMILoader (YAML/JSON bytes -> model + diagnostics; libyaml via CYAML)
//   SMIModel  <-  SMICompiler (model -> normalized IR -> decision tree -> bytecode)
//                 SMIBytecode (opcode table, Program, verifier, disassembler)
//                 SMIRegex    (the only module that touches PCRE2, via CPCRE2)
//   SMIBytecode + SMIRegex <- SMIRuntime (executable policy, scratch, evaluator)
//   everything  <-  SMIEngine (Swift facade)  <-  smi (command-line tool)
//
// Only the `smi` tool and the tests may import Foundation: the modules a C program links
// stay Foundation-free so the embedded library stays small.
import PackageDescription

// The decision path's modules (and the facade, whose DecisionScratch is likewise one thread's):
// scratch objects belong to one thread, so Swift's dynamic
// exclusivity checks there (swift_beginAccess, about 90 instructions per decision) prove
// nothing and are turned off. Static exclusivity checking stays on.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "SMIEngine",
    products: [
        .library(name: "SMIEngine", targets: ["SMIEngine"]),
        .executable(name: "smi", targets: ["smi"]),
        // The C ABI (include/smi_engine.h). scripts/build-lib.sh builds the deployable
        // libsmiengine.so/.a (Swift runtime linked in, exports limited by include/smi_engine.map).
        .library(name: "smiengine", type: .dynamic, targets: ["SMIEngineC"]),
        // Deterministic synthetic meshes for benchmarks (`smi generate`, Benchmarks/).
        .library(name: "SMIGenerate", targets: ["SMIGenerate"]),
        // The fuzz targets' entry functions, for the separate fuzzing package in Fuzz/ (built
        // with -sanitize=fuzzer there); `swift test` replays their corpus through the same
        // functions. Not part of the engine: nothing in the SMIEngine product depends on it.
        .library(name: "SMIFuzzEntries", targets: ["SMIFuzzEntries"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        .target(name: "SMIModel"),
        .target(name: "SMILoader", dependencies: ["SMIModel", "CYAML"]),
        .target(name: "SMIRegex", dependencies: ["CPCRE2"], swiftSettings: hotPath),
        .target(name: "SMIBytecode"),
        .target(name: "SMICompiler", dependencies: ["SMIModel", "SMIBytecode", "SMIRegex"]),
        .target(name: "SMIRuntime", dependencies: ["SMIBytecode", "SMIRegex"], swiftSettings: hotPath),
        .target(
            name: "SMIEngine",
            dependencies: ["SMIModel", "SMILoader", "SMICompiler", "SMIBytecode", "SMIRuntime", "SMIRegex"],
            swiftSettings: hotPath
        ),
        // The hand-written public header as a C module, so that Swift sees exactly the structs,
        // constants and prototypes C callers see.
        .target(
            name: "CSMIEngine",
            path: "include",
            exclude: ["smi_engine.map", "smiengine.pc.in"],
            sources: ["smi_engine_anchor.c"],
            publicHeadersPath: "."
        ),
        // The only module with @c exports and raw C pointers (STYLE.md habit 8).
        .target(name: "SMIEngineC", dependencies: ["CSMIEngine", "SMIEngine", "SMIRuntime", "SMIBytecode"]),
        // Synthetic meshes of any size with requests and their expected outcomes; depends on
        // nothing, so the benchmarks and `smi generate` share it without the engine's internals.
        .target(name: "SMIGenerate"),
        .executableTarget(
            name: "smi",
            dependencies: [
                "SMIEngine",
                "SMIBytecode",
                "SMIGenerate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "SMITestSupport",
            dependencies: ["SMIEngine", "SMIModel", "SMILoader"],
            path: "Tests/SMITestSupport"
        ),
        // The differential test's reference evaluator and generators (SEMANTICS.md written
        // plainly), shared by the differential test and the decision fuzz target.
        .target(name: "SMIReference", dependencies: ["SMIEngine", "SMIRegex"], path: "Tests/SMIReference"),
        .target(
            name: "SMIFuzzEntries",
            dependencies: ["SMIEngine", "SMIEngineC", "CSMIEngine", "SMICompiler", "SMIBytecode", "SMIRuntime", "SMIReference"],
            path: "Tests/SMIFuzzEntries"
        ),
        .testTarget(name: "SMILoaderTests", dependencies: ["SMILoader", "SMIModel", "SMITestSupport"]),
        .testTarget(name: "SMIRegexTests", dependencies: ["SMIRegex"]),
        .testTarget(name: "SMIGenerateTests", dependencies: ["SMIGenerate", "SMIEngine"]),
        .testTarget(
            name: "SMIEngineTests",
            dependencies: [
                "SMIEngine", "SMICompiler", "SMIBytecode", "SMIRuntime", "SMILoader", "SMIModel", "SMIRegex", "SMITestSupport",
                "SMIReference", "SMIFuzzEntries",
            ],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "SMIEngineCTests",
            dependencies: ["SMIEngineC", "CSMIEngine", "SMIEngine", "SMIBytecode", "SMITestSupport"]
        ),
    ]
)
