import Foundation
import SMIEngine
import SMIReference
import Testing

// The differential test: random policies (PolicyGenerator), written as YAML/JSON in the layout of
// each object's version (PolicyRenderer), compiled by the engine, and asked random requests
// (RequestGenerator). Every answer must equal the reference evaluator's (ReferenceEvaluator,
// ReferencePathNormalizer), which follows SEMANTICS.md on the generator's own description.
//
// Replay: the run seed is printed with every disagreement.
//     SMI_DIFF_SEED=0x... swift test --filter Differential
//     SMI_DIFF_SEED=0x... SMI_DIFF_POLICY=17 swift test --filter Differential   (one policy)

@Suite("Differential: the engine agrees with a reference evaluator written from SEMANTICS.md")
struct DifferentialTests {
    /// Policies run in shards so the two cores share the work.
    static let shards = 4
    static let policiesPerShard = 32  // 128 policies in all
    static let accessRequestsPerPolicy = 250  // 32,000 access requests in all
    static let splitRequestsPerPolicy = 60  // 7,680 split requests in all
    /// Detailed reports per policy and per shard; every disagreement is still counted.
    static let reportsPerPolicy = 4
    static let reportsPerShard = 12

    @Test(
        "random policies and requests get the same decisions from the engine and the reference",
        arguments: 0..<DifferentialTests.shards
    )
    func engineAgreesWithReference(shard: Int) {
        let only = ProcessInfo.processInfo.environment["SMI_DIFF_POLICY"].flatMap { Int($0) }
        var summary = Differential.Summary()
        for slot in 0..<Self.policiesPerShard {
            let index = slot * Self.shards + shard
            if let only, only != index { continue }
            Differential.runPolicy(index: index, into: &summary)
        }
        if only == nil {
            #expect(summary.policies == Self.policiesPerShard)
        }
        if ProcessInfo.processInfo.environment["SMI_DIFF_STATS"] != nil {
            print("shard \(shard) outcomes:\n" + Differential.tally(summary.outcomes, sortedByCount: false))
        }
        if !summary.categories.isEmpty {
            Issue.record(
                """
                shard \(shard): \(summary.disagreements) disagreement(s) in \(summary.policies) policies, \
                \(summary.accessRequests) access and \(summary.splitRequests) split requests \
                (SMI_DIFF_SEED=\(Differential.hex(Differential.runSeed))):
                \(Differential.tally(summary.categories, sortedByCount: true))
                """
            )
        }
    }

    @Test("split choices follow the weights within 1.5% over 20,000 random entropies")
    func splitProportions() throws {
        let text = """
            apiVersion: split.smi-spec.io/v1alpha1
            kind: TrafficSplit
            metadata: {name: foobar-rollout, namespace: default}
            spec:
              service: foobar
              backends:
              - {service: foobar-v1, weight: 1}
              - {service: foobar-v2, weight: 500m}
            ---
            apiVersion: split.smi-spec.io/v1alpha4
            kind: TrafficSplit
            metadata: {name: web-failover, namespace: shop}
            spec:
              service: web
              backends:
              - {service: web-v1, weight: 60}
              - {service: web-v0, weight: 0}
              - {service: web, weight: 30}
              - {service: web-v2, weight: 10}
            ---
            apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplit
            metadata: {name: thirds, namespace: mesh}
            spec:
              service: api.mesh.svc.cluster.local
              backends:
              - {service: api-a, weight: 1}
              - {service: api-b.mesh, weight: 1}
              - {service: api-c, weight: 2}
            """
        let policy = try Policy.compile(sources: [PolicySource(name: "splits.yaml", text: text)])
        let scratch = policy.makeScratch()
        let cases: [(service: String, shares: [String: Double])] = [
            ("default/foobar", ["default/foobar-v1": 2.0 / 3, "default/foobar-v2": 1.0 / 3]),
            ("shop/web", ["shop/web-v1": 0.6, "shop/web": 0.3, "shop/web-v2": 0.1]),
            ("mesh/api", ["mesh/api-a": 0.25, "mesh/api-b": 0.25, "mesh/api-c": 0.5]),
        ]
        let samples = 20_000
        var rng = Differential.SplitMix64(seed: Differential.runSeed)
        for (service, shares) in cases {
            var counts: [String: Int] = [:]
            for _ in 0..<samples {
                let backend = policy.selectBackend(
                    SplitRequest(service: service, entropy: rng.next()),
                    scratch: scratch
                ).backend
                counts[backend, default: 0] += 1
            }
            #expect(Set(counts.keys).isSubset(of: Set(shares.keys)), "\(service): unexpected backends \(counts)")
            for (backend, share) in shares {
                let observed = Double(counts[backend, default: 0]) / Double(samples)
                #expect(
                    abs(observed - share) <= 0.015,
                    "\(service) → \(backend): observed \(observed), expected \(share) (SMI_DIFF_SEED=\(Differential.hex(Differential.runSeed)))"
                )
            }
        }
    }
}

extension Differential {
    /// What one shard saw.
    struct Summary {
        var policies = 0
        var accessRequests = 0
        var splitRequests = 0
        var disagreements = 0
        var reported = 0
        /// Disagreements by kind, e.g. `reason: reference no-route-matched, engine port-not-allowed`.
        var categories: [String: Int] = [:]
        /// The reference's answers by kind, to see what the requests exercise (SMI_DIFF_STATS=1).
        var outcomes: [String: Int] = [:]
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// One `count× key` line per key.
    static func tally(_ counts: [String: Int], sortedByCount: Bool) -> String {
        let entries = counts.sorted { sortedByCount ? ($0.value, $1.key) > ($1.value, $0.key) : $0.key < $1.key }
        return entries.map { "  \($0.value)× \($0.key)" }.joined(separator: "\n")
    }

    /// Generates, renders and compiles policy number `index`, then compares the engine with the
    /// reference on its requests.
    static func runPolicy(index: Int, into summary: inout Summary) {
        let seed = policySeed(run: runSeed, index: index)
        var generator = PolicyGenerator(seed: seed)
        let description = generator.make()
        var renderer = PolicyRenderer(rng: SplitMix64(seed: seed ^ 0x5EED_5EED))
        let files = renderer.render(description)
        let place = "SMI_DIFF_SEED=\(hex(runSeed)) SMI_DIFF_POLICY=\(index)"
        let policyText = files.map { "--- \($0.name)\n\($0.text)" }.joined(separator: "\n")
        let optionsText = describe(description.options)

        summary.policies += 1
        let policy: Policy
        do {
            policy = try Policy.compile(
                sources: files.map { PolicySource(name: $0.name, text: $0.text) },
                options: description.options
            )
        } catch {
            summary.disagreements += 1
            summary.categories["the engine refused a generated (valid) policy", default: 0] += 1
            Issue.record(
                """
                the engine refused generated policy #\(index) (\(place)), options \(optionsText):
                \(error.diagnostics.map(\.description).joined(separator: "\n"))
                \(policyText)
                """
            )
            return
        }

        let reference = ReferenceEvaluator(description)
        let scratch = policy.makeScratch()
        let secondScratch = policy.makeScratch()
        var requests = RequestGenerator(
            rng: SplitMix64(seed: seed ^ 0xC0FF_EE00),
            universe: generator.universe,
            policy: description
        )
        var details: [String] = []
        var failingRequests: [String] = []

        func disagree(_ categories: [String], _ text: @autoclosure () -> String) {
            summary.disagreements += 1
            for category in categories { summary.categories[category, default: 0] += 1 }
            if details.count < DifferentialTests.reportsPerPolicy
                && summary.reported < DifferentialTests.reportsPerShard
            {
                summary.reported += 1
                details.append(text())
            }
        }

        for _ in 0..<DifferentialTests.accessRequestsPerPolicy {
            let request = requests.accessRequest()
            summary.accessRequests += 1
            let decision = policy.decide(request, scratch: scratch)
            let actual = ExpectedAccess(
                allowed: decision.allowed,
                reason: decision.reason,
                trafficTarget: decision.trafficTarget,
                ruleKind: decision.ruleKind,
                match: decision.match
            )
            let expected = reference.decide(request)
            summary.outcomes[outcome(of: expected, request.transport), default: 0] += 1
            guard actual != expected else { continue }
            failingRequests.append(describe(request, forCLI: true))
            disagree(
                categories(expected, actual),
                """
                request:   \(describe(request))\(request.transport == .http ? "" : " (path \(jsonQuoted(request.path)) given, not read)")
                engine:    \(describe(actual))
                reference: \(describe(expected))
                reference trace: \(reference.trace.joined(separator: "; "))
                """
            )
        }

        for _ in 0..<DifferentialTests.splitRequestsPerPolicy {
            let request = requests.splitRequest()
            summary.splitRequests += 1
            let decision = policy.selectBackend(request, scratch: scratch)
            let again = policy.selectBackend(request, scratch: secondScratch)
            let expected = reference.split(request)
            summary.outcomes[outcome(of: expected, request), default: 0] += 1
            var problems: [String] = []
            if again != decision {
                problems.append("split: not deterministic (same entropy, different answers)")
            }
            if let split = expected.trafficSplit, decision.trafficSplit != split {
                // Another split decided (or none): the backend follows from that, so it is not
                // compared on its own.
                problems.append(
                    "split: the deciding split differs (reference \(split ?? "none"), engine \(decision.trafficSplit ?? "none"))"
                )
            } else if !expected.possible.contains(decision.backend) {
                problems.append("split: backend not possible per §6")
            } else if decision.backend != expected.backend {
                problems.append("split: backend differs from the documented rule r = hi64(entropy × total)")
            }
            guard !problems.isEmpty else { continue }
            failingRequests.append(describe(request, forCLI: true))
            disagree(
                problems,
                """
                split request: \(describe(request))
                engine:    backend \(decision.backend), trafficSplit \(decision.trafficSplit ?? "nil"); again: \(again.backend)
                reference: backend \(expected.backend) (possible: \(expected.possible.sorted().joined(separator: ", "))), \
                trafficSplit \(expected.trafficSplit.map { $0 ?? "nil" } ?? "either")
                reference trace: \(reference.trace.joined(separator: "; "))
                """
            )
        }

        if !details.isEmpty {
            let dump = dumpForCLI(index: index, files: files, options: description.options, requests: failingRequests)
            Issue.record(
                """
                engine and reference disagree on policy #\(index) (\(place)), options \(optionsText)\(dump):
                \(details.joined(separator: "\n\n"))

                engine diagnostics:
                \(policy.diagnostics.map(\.description).joined(separator: "\n"))

                policy:
                \(policyText)
                """
            )
        }
    }

    /// What kind of answer the reference gave, for SMI_DIFF_STATS.
    static func outcome(of expected: ExpectedAccess, _ transport: TransportProtocol) -> String {
        guard expected.allowed else { return "access \(transport.rawValue) denied \(expected.reason?.rawValue ?? "?")" }
        return "access \(transport.rawValue) allowed by \(expected.ruleKind ?? "?")"
            + (expected.match == nil ? "" : " match")
    }

    static func outcome(of expected: ExpectedSplit, _ request: SplitRequest) -> String {
        switch expected.trafficSplit {
        case nil: return "split: all weights 0"
        case .some(nil): return "split: no split applies"
        case .some(.some):
            return expected.backend == request.service ? "split: the root as backend" : "split: a backend"
        }
    }

    /// The kinds of a disagreement, one per differing field.
    static func categories(_ expected: ExpectedAccess, _ actual: ExpectedAccess) -> [String] {
        var result: [String] = []
        if expected.allowed != actual.allowed {
            result.append("allowed: reference \(expected.allowed), engine \(actual.allowed)")
        }
        if expected.reason != actual.reason {
            result.append(
                "reason: reference \(expected.reason?.rawValue ?? "nil"), engine \(actual.reason?.rawValue ?? "nil")"
            )
        }
        if expected.allowed && actual.allowed {
            if expected.trafficTarget != actual.trafficTarget { result.append("trafficTarget differs") }
            if expected.ruleKind != actual.ruleKind {
                result.append("ruleKind: reference \(expected.ruleKind ?? "nil"), engine \(actual.ruleKind ?? "nil")")
            }
            if expected.match != actual.match { result.append("match differs") }
        } else if !expected.allowed && !actual.allowed
            && (actual.trafficTarget != nil || actual.ruleKind != nil || actual.match != nil)
        {
            result.append("a deny carries grant fields")
        }
        return result
    }

    /// With SMI_DIFF_DUMP=<folder>, writes a disagreeing policy and its requests where
    /// `smi eval` can replay them; returns the command line to do so.
    static func dumpForCLI(index: Int, files: [RenderedFile], options: PolicyOptions, requests: [String]) -> String {
        guard let root = ProcessInfo.processInfo.environment["SMI_DIFF_DUMP"] else { return "" }
        let folder = root + "/policy-\(index)"
        do {
            try FileManager.default.createDirectory(atPath: folder + "/policy", withIntermediateDirectories: true)
            for file in files {
                try file.text.write(toFile: folder + "/policy/" + file.name, atomically: true, encoding: .utf8)
            }
            try (requests.joined(separator: "\n") + "\n").write(
                toFile: folder + "/requests.jsonl",
                atomically: true,
                encoding: .utf8
            )
        } catch {
            return " (could not write \(folder): \(error))"
        }
        var flags: [String] = []
        if options.fullPathMatch { flags.append("--full-path-match") }
        if options.allowCrossNamespaceDestinations { flags.append("--allow-cross-namespace") }
        if let trustDomain = options.trustDomain { flags.append("--trust-domain \(trustDomain)") }
        if options.matchLimit != PolicyOptions().matchLimit { flags.append("--match-limit \(options.matchLimit)") }
        let steps: [(PathNormalization, String)] = [
            (.stripQuery, "strip-query"), (.rejectUnsafe, "reject-unsafe"), (.decodeUnreserved, "decode-unreserved"),
            (.mergeSlashes, "merge-slashes"), (.removeDotSegments, "remove-dot-segments"),
        ]
        for (step, name) in steps where !options.normalization.contains(step) {
            flags.append("--skip-normalization \(name)")
        }
        return
            "\nreplay: smi eval --policy \(folder)/policy \(flags.joined(separator: " ")) --requests \(folder)/requests.jsonl"
    }

    // MARK: Descriptions for failure reports

    /// A request as an `smi eval` line. `forCLI` folds header names that differ only in case into
    /// one, joined with `, ` as §2 does, since a JSON object cannot repeat a key.
    static func describe(_ request: AccessRequest, forCLI: Bool = false) -> String {
        var fields = [
            "\"type\":\"access\"", "\"source\":\(jsonQuoted(request.source))",
            "\"destination\":\(jsonQuoted(request.destination))",
            "\"port\":\(request.port)", "\"protocol\":\"\(request.transport.rawValue)\"",
        ]
        if request.transport == .http {
            fields += [
                "\"method\":\(jsonQuoted(request.method))", "\"path\":\(jsonQuoted(request.path))",
                "\"headers\":\(describe(request.headers, folded: forCLI))",
            ]
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func describe(_ request: SplitRequest, forCLI: Bool = false) -> String {
        var fields = [
            "\"type\":\"split\"", "\"service\":\(jsonQuoted(request.service))", "\"entropy\":\(request.entropy)",
        ]
        if let method = request.method { fields.append("\"method\":\(jsonQuoted(method))") }
        if let path = request.path { fields.append("\"path\":\(jsonQuoted(path))") }
        fields.append("\"headers\":\(describe(request.headers, folded: forCLI))")
        if let port = request.port { fields.append("\"port\":\(port)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func describe(_ headers: [HTTPHeader], folded: Bool) -> String {
        var pairs: [(name: String, value: String)] = []
        for header in headers {
            if folded, let i = pairs.firstIndex(where: { asciiLowercased($0.name) == asciiLowercased(header.name) }) {
                pairs[i].value += ", " + header.value
            } else {
                pairs.append((header.name, header.value))
            }
        }
        return "{" + pairs.map { "\(jsonQuoted($0.name)):\(jsonQuoted($0.value))" }.joined(separator: ",") + "}"
    }

    static func describe(_ decision: ExpectedAccess) -> String {
        if decision.allowed {
            return
                "allowed, trafficTarget \(decision.trafficTarget ?? "nil"), rule \(decision.ruleKind ?? "nil"), match \(decision.match ?? "nil")"
                + (decision.reason.map { ", reason \($0.rawValue)" } ?? "")
        }
        var text = "denied, reason \(decision.reason?.rawValue ?? "nil")"
        if decision.trafficTarget != nil || decision.ruleKind != nil || decision.match != nil {
            text +=
                ", trafficTarget \(decision.trafficTarget ?? "nil"), rule \(decision.ruleKind ?? "nil"), match \(decision.match ?? "nil")"
        }
        return text
    }

    static func describe(_ options: PolicyOptions) -> String {
        var parts: [String] = []
        if options.fullPathMatch { parts.append("fullPathMatch") }
        if options.allowCrossNamespaceDestinations { parts.append("allowCrossNamespaceDestinations") }
        if let trustDomain = options.trustDomain { parts.append("trustDomain=\(trustDomain)") }
        if options.matchLimit != PolicyOptions().matchLimit { parts.append("matchLimit=\(options.matchLimit)") }
        if options.normalization != .all {
            let names: [(PathNormalization, String)] = [
                (.stripQuery, "stripQuery"), (.rejectUnsafe, "rejectUnsafe"), (.decodeUnreserved, "decodeUnreserved"),
                (.mergeSlashes, "mergeSlashes"), (.removeDotSegments, "removeDotSegments"),
            ]
            parts.append(
                "normalization=["
                    + names.filter { options.normalization.contains($0.0) }.map(\.1).joined(separator: ",") + "]"
            )
        }
        return parts.isEmpty ? "default" : parts.joined(separator: " ")
    }
}
