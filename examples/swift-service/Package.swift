// swift-tools-version: 6.1
//
// smi-service: an example Hummingbird 2 service that enforces SMI access policy in-process with
// the SMIEngine Swift API and reloads its policy folder when it changes. See README.md.
//
// Its own package (own .build), so the engine's package and CI do not build Hummingbird and
// SwiftNIO unless examples/swift-service/test.sh runs. swift-http-types, swift-log, swift-nio and
// swift-service-lifecycle are Hummingbird's own dependencies, named here because the library
// target uses their types (Logger, Channel, Service) directly.
import PackageDescription

let package = Package(
    name: "smi-service",
    products: [
        .library(name: "SMIService", targets: ["SMIService"]),
        .executable(name: "smi-service", targets: ["smi-service"]),
    ],
    dependencies: [
        // The engine, by path. `name:` pins the package's name: otherwise SwiftPM names a path
        // dependency after its folder, which differs between checkouts and worktrees.
        .package(name: "SMIEngine", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // The access middleware, the scratch pool, the policy reloader and the application
        // builder; the executable and the tests both use them.
        .target(
            name: "SMIService",
            dependencies: [
                .product(name: "SMIEngine", package: "SMIEngine"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "smi-service",
            dependencies: [
                "SMIService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SMIServiceTests",
            dependencies: [
                "SMIService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
