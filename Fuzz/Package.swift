// swift-tools-version: 6.1
//
// libFuzzer targets for SMIEngine, a separate package so that the main build never sees
// -sanitize=fuzzer. The entry functions live in the root package's SMIFuzzEntries library, which
// `swift test` also uses to replay Fuzz/Corpus. Build and run with scripts/fuzz.sh (docs/FUZZING.md).
import PackageDescription

let fuzzFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "SMIEngineFuzz",
    dependencies: [.package(name: "SMIEngine", path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzLoader",
            dependencies: [.product(name: "SMIFuzzEntries", package: "SMIEngine")],
            swiftSettings: fuzzFlags
        ),
        .executableTarget(
            name: "FuzzDecide",
            dependencies: [.product(name: "SMIFuzzEntries", package: "SMIEngine")],
            swiftSettings: fuzzFlags
        ),
        .executableTarget(
            name: "FuzzProgram",
            dependencies: [.product(name: "SMIFuzzEntries", package: "SMIEngine")],
            swiftSettings: fuzzFlags
        ),
        .executableTarget(
            name: "FuzzBundle",
            dependencies: [.product(name: "SMIFuzzEntries", package: "SMIEngine")],
            swiftSettings: fuzzFlags
        ),
    ]
)
