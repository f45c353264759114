import BenchSupport
import Benchmark
import SMIEngine
import SMIGenerate
import Synchronization

// Per-decision cost through the Swift API (Policy.decide / selectBackend with a per-thread
// DecisionScratch made in setup), for each request class and mesh size. Each sample runs 1,000
// decisions (scalingFactor .kilo; the text output is per decision), cycling over the class's
// generated requests (about 2,000–3,500, allowed and denied mixed as generated). Generation and
// compilation happen in setup, outside the measurement.

/// What one benchmark reads: compiled once per process and size.
final class DecisionState: @unchecked Sendable {
    let policy: Policy
    let scratch: DecisionScratch
    let access: [AccessRequest]
    let splits: [SplitRequest]
    /// Where the next sample continues in the request list.
    var cursor = 0

    init(policy: Policy, access: [AccessRequest], splits: [SplitRequest]) {
        self.policy = policy
        scratch = policy.makeScratch()
        self.access = access
        self.splits = splits
    }
}

/// The `hot` variants cycle over the class's first 8 requests only: their data stays in the
/// caches, so the difference from the full cycle (thousands of requests to hundreds of
/// destinations) is what cache and TLB misses cost at that size.
let hotCount = 8

/// One compiled policy per size, shared by the benchmarks that run in the same process.
let compiled = Mutex<[Int: (MeshFixture, Policy)]>([:])

func load(_ size: Int) -> (MeshFixture, Policy) {
    compiled.withLock { cache in
        if let hit = cache[size] { return hit }
        do {
            let fixture = try MeshFixture(size: size)
            let policy = try fixture.compile()
            cache[size] = (fixture, policy)
            return (fixture, policy)
        } catch {
            fatal("N=\(size): \(error)")
        }
    }
}

func decisionConfiguration() -> Benchmark.Configuration {
    // `.instructions` needs perf events; where the kernel or VM has none, its row is left out.
    .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        timeUnits: .nanoseconds,
        warmupIterations: BenchSettings.smoke ? 1 : 10,
        scalingFactor: .kilo,
        maxDuration: BenchSettings.smoke ? .milliseconds(200) : .seconds(3),
        maxIterations: BenchSettings.smoke ? 20 : 100_000
    )
}

/// Every class's requests, for the allocation count.
final class MixedState: @unchecked Sendable {
    let policy: Policy
    let scratch: DecisionScratch
    let access: [AccessRequest]
    let splits: [SplitRequest]

    init(policy: Policy, access: [AccessRequest], splits: [SplitRequest]) {
        self.policy = policy
        scratch = policy.makeScratch()
        self.access = access
        self.splits = splits
    }
}

let benchmarks: @Sendable () -> Void = {
    // Shows that the malloc counter counts: 1,000 small arrays per sample must read about 1,000.
    Benchmark(
        "allocations control",
        configuration: .init(
            metrics: [.mallocCountTotal], warmupIterations: 1, scalingFactor: .one, maxIterations: 5)
    ) { benchmark in
        for i in 0..<1_000 { blackHole([i, i + 1, i + 2]) }
    }
    for size in BenchSettings.sizes {
        // The scaled malloc counts above are per decision, rounded: up to 499 allocations per
        // 1,000 decisions would print as 0. This one is not scaled: each sample is 1,000 access
        // decisions (every class, in generated order) and 1,000 backend selections, and the
        // count is the raw number of mallocs of the whole sample (harness overhead included).
        Benchmark(
            "allocations N=\(size)",
            configuration: .init(
                metrics: [.mallocCountTotal], warmupIterations: 1, scalingFactor: .one,
                maxDuration: .seconds(BenchSettings.smoke ? 1 : 3),
                maxIterations: BenchSettings.smoke ? 5 : 100)
        ) { (benchmark: Benchmark, state: MixedState) in
            let policy = state.policy
            let scratch = state.scratch
            for i in 0..<1_000 {
                blackHole(policy.decide(state.access[i % state.access.count], scratch: scratch))
                blackHole(policy.selectBackend(state.splits[i % state.splits.count], scratch: scratch))
            }
        } setup: {
            let (fixture, policy) = load(size)
            let access = fixture.requests.compactMap { $0.access?.engineRequest }
            return MixedState(policy: policy, access: access, splits: fixture.splitRequests())
        }

        for requestClass in [RequestClass.httpPath, .httpHeaders, .tcp] {
            for hot in [false, true] {
                Benchmark(
                    "decide \(requestClass.rawValue)\(hot ? " hot" : "") N=\(size)",
                    configuration: decisionConfiguration()
                ) { (benchmark: Benchmark, state: DecisionState) in
                    let policy = state.policy
                    let scratch = state.scratch
                    let requests = state.access
                    var i = state.cursor
                    for _ in benchmark.scaledIterations {
                        blackHole(policy.decide(requests[i], scratch: scratch))
                        i += 1
                        if i == requests.count { i = 0 }
                    }
                    state.cursor = i
                } setup: {
                    let (fixture, policy) = load(size)
                    let requests = fixture.accessRequests(requestClass)
                    if requests.isEmpty { fatal("N=\(size): no \(requestClass.rawValue) requests") }
                    return DecisionState(
                        policy: policy, access: hot ? Array(requests.prefix(hotCount)) : requests, splits: [])
                }
            }
        }
        for hot in [false, true] {
            Benchmark(
                "select-backend split\(hot ? " hot" : "") N=\(size)",
                configuration: decisionConfiguration()
            ) { (benchmark: Benchmark, state: DecisionState) in
                let policy = state.policy
                let scratch = state.scratch
                let requests = state.splits
                var i = state.cursor
                for _ in benchmark.scaledIterations {
                    blackHole(policy.selectBackend(requests[i], scratch: scratch))
                    i += 1
                    if i == requests.count { i = 0 }
                }
                state.cursor = i
            } setup: {
                let (fixture, policy) = load(size)
                let requests = fixture.splitRequests()
                if requests.isEmpty { fatal("N=\(size): no split requests") }
                return DecisionState(
                    policy: policy, access: [], splits: hot ? Array(requests.prefix(hotCount)) : requests)
            }
        }
    }
}
