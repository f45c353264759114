import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import SMIEngine
import SMIService
import Synchronization
import Testing

/// A grant for `default/newcomer`, dropped into the folder while the service runs.
let newcomerPolicy = """
    apiVersion: access.smi-spec.io/v1alpha1
    kind: TrafficTarget
    metadata:
      name: newcomer-reads
      namespace: default
    destination:
      kind: ServiceAccount
      name: api-service
      namespace: default
    specs:
    - kind: HTTPRouteGroup
      name: api-routes
      matches: [read-items]
    sources:
    - kind: ServiceAccount
      name: newcomer
      namespace: default

    """

/// A route group whose regex does not compile (line 8, inside the pattern).
let brokenPolicy = """
    apiVersion: specs.smi-spec.io/v1alpha1
    kind: HTTPRouteGroup
    metadata:
      name: broken-routes
      namespace: default
    matches:
    - name: bad
      pathRegex: "/api/(("

    """

@Suite struct ReloadTests {
    @Test func aNewFileChangesDecisionsAndABrokenOneKeepsTheOldPolicy() async throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("policy.yaml", basePolicy)
        let (app, parts) = try makeTestService(folder: folder)
        #expect(parts.reloader.status.generation == 1)
        try await app.test(.live) { client in
            let before = try await client.execute(uri: "/api/items", method: .get, headers: from("default/newcomer"))
            #expect(before.denyReason == DenyReason.sourceNotAllowed.rawValue)

            // A new grant: allowed as soon as the reloader has read the folder.
            try folder.write("newcomer.yaml", newcomerPolicy)
            let granted = try await eventually {
                let r = try await client.execute(uri: "/api/items", method: .get, headers: from("default/newcomer"))
                return r.status == .ok ? r : nil
            }
            #expect(granted?.trafficTarget == "default/newcomer-reads")
            // The swap comes just before the status update: the status catches up at once.
            #expect(try await eventually { parts.reloader.status.generation == 2 ? true : nil } == true)

            // A broken file: the failure is recorded with file:line:column, the old policy stays.
            try folder.write("broken.yaml", brokenPolicy)
            let failed = try await eventually {
                let s = parts.reloader.status
                return s.failedReloads >= 1 ? s : nil
            }
            let status = try #require(failed)
            #expect(status.generation == 2)
            let errors = status.lastError ?? []
            #expect(
                errors.contains { line in
                    line.contains("broken.yaml:8:") && line.contains("error")
                }, "\(errors)")
            for source in ["default/newcomer", "default/website"] {
                let still = try await client.execute(uri: "/api/items", method: .get, headers: from(source))
                #expect(still.status == .ok, "\(source)")
            }
            let stillDenied = try await client.execute(uri: "/api/items", method: .get, headers: from("default/intruder"))
            #expect(stillDenied.denyReason == DenyReason.sourceNotAllowed.rawValue)

            // The status endpoint (granted to `operator` by the policy) shows the same.
            let report = try await client.execute(uri: "/-/policy", method: .get, headers: from("default/operator"))
            #expect(report.status == .ok)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601  // as Hummingbird's default encoder writes dates
            let decoded = try decoder.decode(PolicyStatusResponse.self, from: Data(report.text.utf8))
            #expect(decoded.destination == "default/api-service")
            #expect(decoded.reload.generation == 2)
            #expect(decoded.reload.failedReloads == status.failedReloads)
            #expect(decoded.reload.lastError == status.lastError)

            // The broken version is not compiled again at every tick.
            let failures = parts.reloader.status.failedReloads
            #expect(parts.reloader.checkOnce() == .unchanged)
            #expect(parts.reloader.status.failedReloads == failures)

            // Removing the grant (the folder still fails) and then the broken file brings
            // exactly one new generation, without the grant.
            try folder.delete("newcomer.yaml")
            try folder.delete("broken.yaml")
            let revoked = try await eventually {
                let r = try await client.execute(uri: "/api/items", method: .get, headers: from("default/newcomer"))
                return r.status == .forbidden ? r : nil
            }
            #expect(revoked?.denyReason == DenyReason.sourceNotAllowed.rawValue)
            let recovered = try await eventually {
                let s = parts.reloader.status
                return s.generation == 3 ? s : nil
            }
            #expect(recovered?.lastError == nil)
        }
    }

    @Test func editingAFileInPlaceIsSeenByItsContent() throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("policy.yaml", basePolicy)
        let (_, parts) = try makeTestService(folder: folder)
        #expect(parts.reloader.checkOnce() == .unchanged)
        // Same file name and size, new content.
        let edited = basePolicy.replacingOccurrences(of: "name: website\n", with: "name: webs1te\n")
        #expect(edited.utf8.count == basePolicy.utf8.count && edited != basePolicy)
        try folder.write("policy.yaml", edited)
        #expect(parts.reloader.checkOnce() == .reloaded)
        let request = AccessRequest(
            source: "default/website", destination: "default/api-service", port: 8080, transport: .http,
            method: "GET", path: "/api/items")
        let decision = parts.pool.withScratch { parts.holder.decide(request, scratch: $0) }
        #expect(decision?.reason == .sourceNotAllowed)
    }
}

@Suite struct ScratchPoolTests {
    /// Real threads borrow concurrently; no scratch is ever lent twice at once, and decisions
    /// made with borrowed scratch while policies are swapped stay correct.
    @Test func noScratchIsLentTwiceAtOnce() throws {
        let policy = try Policy.compile(text: basePolicy)
        let holder = PolicyHolder(policy)
        let pool = DecisionScratchPool(capacity: 8)
        let tally = Tally()
        let allowed = AccessRequest(
            source: "default/website", destination: "default/api-service", port: 8080, transport: .http,
            method: "GET", path: "/api/items")
        let threads = 4
        let rounds = 2_000
        let done = DispatchGroup()
        for t in 0..<threads {
            let thread = Thread {
                for i in 0..<rounds {
                    if t == 0, i % 100 == 0 { holder.swap(policy) }
                    pool.withScratch { scratch in
                        let id = ObjectIdentifier(scratch)
                        if !tally.inUse.withLock({ $0.insert(id).inserted }) { tally.violations.add(1, ordering: .relaxed) }
                        if holder.decide(allowed, scratch: scratch)?.allowed != true { tally.wrong.add(1, ordering: .relaxed) }
                        tally.inUse.withLock { _ = $0.remove(id) }
                    }
                }
                done.leave()
            }
            done.enter()
            thread.start()
        }
        done.wait()
        #expect(tally.violations.load(ordering: .relaxed) == 0)
        #expect(tally.wrong.load(ordering: .relaxed) == 0)
        #expect(pool.overflowCount == 0)
    }

    @Test func aPoolWithEveryScratchOutLendsATemporaryOne() {
        let pool = DecisionScratchPool(capacity: 1)
        let nested = pool.withScratch { outer in
            pool.withScratch { inner in inner !== outer }
        }
        #expect(nested)
        #expect(pool.overflowCount == 1)
        #expect(DecisionScratchPool(capacity: 1000).capacity == DecisionScratchPool.maximumCapacity)
    }
}

/// What the pool test's threads record.
final class Tally: Sendable {
    let inUse = Mutex<Set<ObjectIdentifier>>([])
    let violations = Atomic<Int>(0)
    let wrong = Atomic<Int>(0)
}
