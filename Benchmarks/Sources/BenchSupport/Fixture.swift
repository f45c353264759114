import SMIEngine
import SMIGenerate

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The benchmark settings, read from the environment once.
public enum BenchSettings {
    /// `SMI_BENCH_SIZES` ("10,100"): the numbers of TrafficTargets; every size by default.
    public static let sizes: [Int] = {
        guard let text = environment("SMI_BENCH_SIZES") else { return [10, 100, 1_000, 10_000, 100_000] }
        return text.split(separator: ",").compactMap { Int($0.filter { $0 != "_" && $0 != " " }) }
    }()

    /// `SMI_BENCH_SEED`: the mesh seed (1 by default).
    public static let seed: UInt64 = environment("SMI_BENCH_SEED").flatMap { UInt64($0) } ?? 1

    /// `SMI_BENCH_SMOKE=1`: a few iterations only (CI).
    public static let smoke: Bool = environment("SMI_BENCH_SMOKE").map { $0 != "0" && !$0.isEmpty } ?? false

    /// `SMI_BENCH_DATA`: where generated meshes are kept between runs (`/tmp/smi-bench`).
    public static let dataDirectory: String = environment("SMI_BENCH_DATA") ?? "/tmp/smi-bench"

    /// The requests generated per mesh (the same as `smi generate`'s default).
    public static let requestCount = 10_000

    public static func environment(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }
}

/// A generated mesh on disk (`<data>/n<N>-s<seed>/`, the `smi generate` layout), written once and
/// reused, with its requests in memory.
public struct MeshFixture: Sendable {
    public let size: Int
    public let directory: String
    public let mesh: Mesh
    public let requests: [GeneratedRequest]

    /// Generates the mesh (deterministic) and writes its files unless they are already there.
    public init(size: Int) throws(GenerateError) {
        self.size = size
        directory = "\(BenchSettings.dataDirectory)/n\(size)-s\(BenchSettings.seed)"
        mesh = MeshGenerator(targets: size, seed: BenchSettings.seed).generate()
        requests = mesh.requests(count: BenchSettings.requestCount)
        // A stamp written last: a run interrupted while writing regenerates everything.
        let stamp = directory + "/.complete"
        if access(stamp, F_OK) != 0 {
            try mesh.write(to: directory, requests: requests)
            if let f = fopen(stamp, "w") { fclose(f) }
        }
    }

    /// The policy folder, for `Policy.compile(paths:)`.
    public var policyPath: String { directory + "/policy" }

    /// Compiles the policy folder.
    /// Compiles the policy as a proxy would: without disassembler annotations (the C API's
    /// default), which decisions never read.
    public func compile(annotations: Bool = false) throws(PolicyCompileError) -> Policy {
        var options = PolicyOptions()
        options.annotations = annotations
        return try Policy.compile(paths: [policyPath], options: options)
    }

    /// The access requests of `requestClass`, in generated order (allowed and denied mixed).
    public func accessRequests(_ requestClass: RequestClass) -> [AccessRequest] {
        requests.filter { $0.requestClass == requestClass }.compactMap { $0.access?.engineRequest }
    }

    /// The split requests.
    public func splitRequests() -> [SplitRequest] {
        requests.compactMap { $0.split?.engineRequest }
    }
}

extension GeneratedAccess {
    /// The request as the Swift API takes it.
    public var engineRequest: AccessRequest {
        AccessRequest(
            source: source, destination: destination, port: port,
            transport: TransportProtocol(rawValue: transport) ?? .http, method: method, path: path,
            headers: headers.map { HTTPHeader($0.name, $0.value) })
    }
}

extension GeneratedSplit {
    /// The request as the Swift API takes it.
    public var engineRequest: SplitRequest {
        SplitRequest(
            service: service, entropy: entropy, method: method, path: path,
            headers: headers.map { HTTPHeader($0.name, $0.value) })
    }
}

/// Fails the benchmark run loudly (setup errors must not turn into empty results).
public func fatal(_ message: String) -> Never {
    printError("benchmark setup: \(message)")
    exit(1)
}

/// Writes a line on standard error.
public func printError(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
