import SMIEngine
import SMIGenerate
import Testing

/// The generator's requests as the engine's.
extension GeneratedAccess {
    var engineRequest: AccessRequest {
        AccessRequest(
            source: source, destination: destination, port: port,
            transport: TransportProtocol(rawValue: transport) ?? .http, method: method, path: path,
            headers: headers.map { HTTPHeader($0.name, $0.value) })
    }
}

extension GeneratedSplit {
    var engineRequest: SplitRequest {
        SplitRequest(
            service: service, entropy: entropy, method: method, path: path, headers: headers.map { HTTPHeader($0.name, $0.value) }
        )
    }
}

func compile(_ mesh: Mesh) throws -> Policy {
    try Policy.compile(sources: mesh.policyFiles().map { PolicySource(name: $0.name, bytes: Array($0.text.utf8)) })
}

@Suite("SMIGenerate: deterministic meshes whose expected outcomes are the engine's")
struct MeshGeneratorTests {
    @Test("the same size and seed give the same files; another seed gives others")
    func deterministic() {
        let a = MeshGenerator(targets: 100, seed: 42).generate()
        let b = MeshGenerator(targets: 100, seed: 42).generate()
        let c = MeshGenerator(targets: 100, seed: 43).generate()
        #expect(a.policyFiles().map(\.text) == b.policyFiles().map(\.text))
        #expect(a.rulesJSONL() == b.rulesJSONL())
        #expect(a.requests(count: 500).map(\.jsonLine) == b.requests(count: 500).map(\.jsonLine))
        #expect(a.policyFiles().map(\.text) != c.policyFiles().map(\.text))
    }

    @Test("the mesh has the asked number of TrafficTargets and compiles without a warning", arguments: [1, 10, 100, 333])
    func shape(targets: Int) throws {
        let mesh = MeshGenerator(targets: targets, seed: 7).generate()
        #expect(mesh.targets.count == targets)
        #expect(mesh.namespaces.count == max(2, targets / 20))
        #expect(mesh.splits.count >= 1)
        let policy = try compile(mesh)
        #expect(policy.diagnostics.isEmpty, "\(policy.diagnostics.map(\.description))")
    }

    @Test("every expected outcome, grant and backend is what the engine decides (N = 100)", arguments: [UInt64(1), 2])
    func agreesWithEngine(seed: UInt64) throws {
        let mesh = MeshGenerator(targets: 100, seed: seed).generate()
        let policy = try compile(mesh)
        let scratch = policy.makeScratch()
        let requests = mesh.requests(count: 4_000)
        var mismatches: [String] = []
        for r in requests {
            if let a = r.access {
                let d = policy.decide(a.engineRequest, scratch: scratch)
                let outcome = d.allowed ? "allow" : "deny:" + (d.reason?.rawValue ?? "")
                if outcome != r.outcome || (d.allowed && (d.trafficTarget != r.trafficTarget || d.match != r.match)) {
                    mismatches.append(
                        "\(r.jsonLine) → \(outcome) \(d.trafficTarget ?? "") \(d.match ?? ""), expected \(r.expectedLine)")
                }
            } else if let s = r.split {
                let d = policy.selectBackend(s.engineRequest, scratch: scratch)
                if d.backend != r.backend { mismatches.append("\(r.jsonLine) → \(d.backend), expected \(r.expectedLine)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5))")
    }

    @Test("the mix: each access class half allowed, every deny reason of its class present")
    func mix() {
        let requests = MeshGenerator(targets: 100, seed: 3).generate().requests(count: 10_000)
        var count: [String: Int] = [:]
        for r in requests { count[r.requestClass.rawValue + " " + r.outcome, default: 0] += 1 }
        let perClass: [RequestClass: Int] = [.httpPath: 3_500, .httpHeaders: 2_000, .tcp: 2_000, .split: 2_500]
        for (cls, total) in perClass {
            #expect(requests.count { $0.requestClass == cls } == total)
        }
        for cls in [RequestClass.httpPath, .httpHeaders, .tcp] {
            let allowed = count["\(cls.rawValue) allow"] ?? 0
            let total = perClass[cls] ?? 0
            #expect(allowed > total * 4 / 10 && allowed < total * 6 / 10, "\(cls): \(allowed) of \(total) allowed")
        }
        let reasons: [RequestClass: [String]] = [
            .httpPath: ["path-rejected", "no-traffic-target", "source-not-allowed", "port-not-allowed", "no-route-matched"],
            .httpHeaders: ["no-route-matched", "source-not-allowed", "port-not-allowed", "no-traffic-target"],
            .tcp: ["no-traffic-target", "source-not-allowed", "port-not-allowed", "no-route-matched"],
        ]
        for (cls, list) in reasons {
            for reason in list { #expect((count["\(cls.rawValue) deny:\(reason)"] ?? 0) > 0, "\(cls) \(reason)") }
        }
    }

    @Test("a tiny mesh still has requests of every class and outcome kind")
    func tiny() {
        let requests = MeshGenerator(targets: 10, seed: 1).generate().requests(count: 2_000)
        for cls in RequestClass.allCases where cls != .split {
            #expect(requests.contains { $0.requestClass == cls && $0.outcome == "allow" }, "\(cls)")
            #expect(requests.contains { $0.requestClass == cls && $0.outcome != "allow" }, "\(cls)")
        }
    }

    @Test("rules.jsonl: one line per granting unit, in TrafficTarget order, L4 grants also for http")
    func rules() {
        let mesh = MeshGenerator(targets: 100, seed: 5).generate()
        let lines = mesh.rulesJSONL().split(separator: "\n")
        #expect(lines.count >= mesh.targets.count)
        // Every line starts with {"tt":"namespace/name".
        let names = lines.map { line in String(line.dropFirst(7).prefix { $0 != "\"" }) }
        let order = names.map { n -> [Substring] in n.split(separator: "/") }
        #expect(zip(order, order.dropFirst()).allSatisfy { ($0[0], $0[1]) <= ($1[0], $1[1]) })
        #expect(lines.contains { $0.contains("\"protocol\":\"tcp\"") })
        #expect(lines.contains { $0.contains("\"pathRegex\":") && $0.contains("\"headers\":{\"") })
    }
}
