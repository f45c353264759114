import Foundation
import SMIEngine
import Testing

@Suite("PolicyHolder: hot reload while other threads decide")
struct PolicyHolderTests {
    static func policy(allowing path: String) throws -> Policy {
        try Policy.compile(text: """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: routes}
            spec:
              matches:
              - name: open
                pathRegex: \(path)
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: web-to-api}
            spec:
              destination: {kind: ServiceAccount, name: api}
              sources: [{kind: ServiceAccount, name: web}]
              rules: [{kind: HTTPRouteGroup, name: routes}]
            """)
    }

    @Test("an empty holder has no policy and decides nothing")
    func empty() {
        let holder = PolicyHolder()
        let scratch = DecisionScratch()
        #expect(holder.decide(AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http), scratch: scratch) == nil)
        #expect(holder.policy(scratch: scratch) == nil)
    }

    @Test("4 threads decide continuously while another swaps policies 1,000 times; every answer is one of the two")
    func swapUnderLoad() throws {
        let a = try Self.policy(allowing: "/a")
        let b = try Self.policy(allowing: "/b")
        let holder = PolicyHolder(a)
        // Requests the two policies answer differently, the same, and with different deny reasons.
        let requests = ["/a/x", "/b/y", "/c", "/a/%2e%2e/b", "/a%2Fb"].map {
            AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http, path: $0)
        } + [AccessRequest(source: "default/other", destination: "default/api", port: 80, transport: .http, path: "/a")]
        let answersA = requests.map { a.decide($0) }
        let answersB = requests.map { b.decide($0) }
        #expect(answersA[0].allowed && !answersB[0].allowed)
        #expect(!answersA[1].allowed && answersB[1].allowed)

        let stop = ManagedAtomicFlag()
        let counts = Counters()
        let done = DispatchGroup()
        for reader in 0..<4 {
            done.enter()
            let t = Thread {
                let scratch = DecisionScratch()
                var seenA = 0, seenB = 0, other = 0
                var i = reader
                while !stop.isSet {
                    let k = i % requests.count
                    i += 1
                    guard let d = holder.decide(requests[k], scratch: scratch) else { other += 1; continue }
                    if d == answersA[k] { seenA += 1 } else if d == answersB[k] { seenB += 1 } else { other += 1 }
                }
                counts.add(a: seenA, b: seenB, other: other)
                done.leave()
            }
            t.start()
        }
        let checker = DecisionScratch()
        for i in 0..<1_000 {
            let next = i % 2 == 0 ? b : a
            holder.swap(next)
            if i % 50 == 0 {
                // A reload whose compilation fails never reaches the holder: the policy just swapped
                // in stays in force.
                #expect(throws: PolicyCompileError.self) { try Self.policy(allowing: "\"(unclosed\"") }
                let inForce = requests.map { holder.decide($0, scratch: checker) }
                let expected = next === a ? answersA : answersB
                #expect(inForce == expected.map { Optional($0) })
                usleep(200)
            }
        }
        stop.set()
        done.wait()
        let (seenA, seenB, other) = counts.totals
        #expect(other == 0, "a decision matched neither policy")
        #expect(seenA > 0 && seenB > 0, "both policies were seen in force (a: \(seenA), b: \(seenB))")
        // Once the readers are gone, a further swap releases every retired policy.
        holder.swap(a)
        #expect(holder.retiredCount == 0)
    }

    @Test("a retired policy stays alive while a reader holds it, and is released after")
    func retiredWhileInUse() throws {
        let b = try Self.policy(allowing: "/b")
        weak var weakA: Policy?
        let holder: PolicyHolder = try {
            let a = try Self.policy(allowing: "/a")
            weakA = a
            return PolicyHolder(a)
        }()
        let scratch = DecisionScratch()
        let answer: Bool? = holder.withPolicy(scratch: scratch) { inForce in
            holder.swap(b)  // the first policy is retired but published in this reader's hazard slot
            #expect(holder.retiredCount == 1)
            #expect(weakA != nil)
            let request = AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http, path: "/a")
            return inForce.decide(request, scratch: DecisionScratch()).allowed
        }
        #expect(answer == true)
        #expect(weakA != nil, "released only by a later swap")
        holder.swap(b)
        #expect(holder.retiredCount == 0)
        #expect(weakA == nil, "the retired policy was freed once no reader used it")
    }
}

/// A flag set once by the swapping thread and read by the deciding threads.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

final class Counters: @unchecked Sendable {
    private let lock = NSLock()
    private var a = 0, b = 0, other = 0
    func add(a: Int, b: Int, other: Int) {
        lock.lock()
        self.a += a
        self.b += b
        self.other += other
        lock.unlock()
    }
    var totals: (Int, Int, Int) { lock.lock(); defer { lock.unlock() }; return (a, b, other) }
}
