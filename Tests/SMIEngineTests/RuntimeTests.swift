import Foundation
import SMIBytecode
import SMIEngine
import SMIReference
import SMIRuntime
import Testing

/// Policies used by the runtime tests.
private enum Fixture {
    /// web may reach /public/ and /b$; admin-tool may reach /admin; both on api.
    static let paths = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: routes, namespace: default}
        spec:
          matches:
          - name: public
            pathRegex: /public/
          - name: b
            pathRegex: /b$
          - name: admin
            pathRegex: /admin
          - name: metrics
            pathRegex: /metrics
            methods: [GET]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules:
          - kind: HTTPRouteGroup
            name: routes
            matches: [public, b, metrics]
          sources:
          - {kind: ServiceAccount, name: web}
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: admin, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules:
          - kind: HTTPRouteGroup
            name: routes
            matches: [admin]
          sources:
          - {kind: ServiceAccount, name: admin-tool}
        """

    static func policy(_ text: String, _ configure: (inout PolicyOptions) -> Void = { _ in }) throws -> Policy {
        var options = PolicyOptions()
        configure(&options)
        return try Policy.compile(text: text, options: options)
    }

    static func http(_ path: String, source: String = "default/web", destination: String = "default/api",
                     port: Int = 80, method: String = "GET", headers: [HTTPHeader] = []) -> AccessRequest {
        AccessRequest(source: source, destination: destination, port: port, transport: .http, method: method, path: path, headers: headers)
    }

    /// The decision and the normalized path.
    static func run(_ policy: Policy, _ request: AccessRequest) -> (AccessDecision, String?) {
        let scratch = policy.makeScratch()
        let d = policy.decide(request, scratch: scratch)
        return (d, scratch.normalizedPath)
    }
}

/// Decides a request whose target is raw bytes (possibly invalid UTF-8) through SMIRuntime.
private func decideRawTarget(_ policy: Policy, _ target: [UInt8]) throws -> AccessResult {
    let executable = try ExecutablePolicy(program: policy.program)
    let scratch = try #require(EvaluationScratch())
    var source = "default/web", destination = "default/api", method = "GET"
    return source.withUTF8 { s in destination.withUTF8 { d in method.withUTF8 { m in target.withUnsafeBytes { t in
        executable.decide(AccessQuery(
            source: executable.resolveIdentity(UnsafeRawBufferPointer(s)),
            destination: executable.resolveIdentity(UnsafeRawBufferPointer(d)),
            port: 80, proto: .http, method: UnsafeRawBufferPointer(m), target: t,
            headers: UnsafeBufferPointer(start: nil, count: 0)), scratch: scratch)
    } } } }
}

@Suite("Runtime: path normalization (SEMANTICS.md §5)")
struct PathNormalizationTests {
    @Test("paths are normalized as §5 says, and the decision sees the normalized path", arguments: [
        ("/a//../b", "/b", "allow b"),
        ("/public/%2e%2e/admin", "/admin", "deny no-route-matched"),
        ("/public/%2E%2E/admin", "/admin", "deny no-route-matched"),
        ("/%70ublic/x", "/public/x", "allow public"),
        ("/public/a%20b", "/public/a%20b", "allow public"),
        ("/public/%252e%252e/admin", "/public/%252e%252e/admin", "allow public"),
        ("/public/%09%0A%7F", "/public/%09%0A%7F", "allow public"),
        ("/public/%7e%41", "/public/~A", "allow public"),
        ("/a/b/..", "/a/", "deny no-route-matched"),
        ("/..", "/", "deny no-route-matched"),
        ("/../../public/x", "/public/x", "allow public"),
        ("/public/./x/.", "/public/x/", "allow public"),
        ("/public/x/../../b", "/b", "allow b"),
        ("//public//x", "/public/x", "allow public"),
        ("/admin?x=/../public/", "/admin", "deny no-route-matched"),
        ("/public/x#/../../admin", "/public/x", "allow public"),
        ("/public/x?a=%2F&b=\\&c=d e", "/public/x", "allow public"),
        ("/b?x", "/b", "allow b"),
        ("/public/é", "/public/é", "allow public"),
    ])
    func normalized(_ target: String, _ path: String, _ outcome: String) throws {
        let policy = try Fixture.policy(Fixture.paths)
        let (d, normalized) = Fixture.run(policy, Fixture.http(target))
        #expect(normalized == path, "\(target)")
        #expect(describe(d) == outcome, "\(target)")
    }

    @Test("unsafe paths are denied with path-rejected whatever the grants", arguments: [
        "/public/%2F", "/public/%2f", "/public/%5c", "/public/%5C", "/public/%00", "/public/%zz", "/public/%4",
        "/public/%4/x", "/public/%", "/public/a\\b", "/public/a b", "/public/\u{01}", "/public/\u{7F}", "/public/\u{1F}",
        "public/x", "", "*", "?x", "/public/%2F?x",
    ])
    func rejected(_ target: String) throws {
        let policy = try Fixture.policy(Fixture.paths)
        let (d, normalized) = Fixture.run(policy, Fixture.http(target))
        #expect(d == AccessDecision(allowed: false, reason: .pathRejected, trafficTarget: nil, ruleKind: nil, match: nil), "\(target)")
        #expect(normalized == nil)
        // Even for a source no TrafficTarget lists and an unknown destination.
        let (other, _) = Fixture.run(policy, Fixture.http(target, source: "x/y", destination: "x/z"))
        #expect(other.reason == .pathRejected, "\(target)")
    }

    @Test("invalid and overlong UTF-8 bytes in the path are rejected", arguments: [
        [0xFF], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF], [0xED, 0xA0, 0x80],
        [0xF4, 0x90, 0x80, 0x80], [0xC3], [0xE2, 0x82], [0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ] as [[UInt8]])
    func invalidUTF8(_ bytes: [UInt8]) throws {
        let policy = try Fixture.policy(Fixture.paths)
        let result = try decideRawTarget(policy, Array("/public/".utf8) + bytes)
        #expect(!result.allowed)
        #expect(result.reason == .pathRejected, "\(bytes)")
        // The same bytes in the query are never checked.
        let inQuery = try decideRawTarget(policy, Array("/public/x?".utf8) + bytes)
        #expect(inQuery.allowed, "\(bytes) in the query")
        // Valid multi-byte UTF-8 passes.
        let valid = try decideRawTarget(policy, Array("/public/".utf8) + [0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80])
        #expect(valid.allowed)
    }

    @Test("turning off the query cut leaves the query in the path and checks it")
    func withoutStripQuery() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.normalization.remove(.stripQuery) }
        #expect(Fixture.run(policy, Fixture.http("/public/x?y=1")).1 == "/public/x?y=1")
        #expect(describe(Fixture.run(policy, Fixture.http("/b?x")).0) == "deny no-route-matched")
        #expect(Fixture.run(policy, Fixture.http("/public/x?a=%2F")).0.reason == .pathRejected)
        #expect(Fixture.run(policy, Fixture.http("/public/x#a b")).0.reason == .pathRejected)
    }

    @Test("turning off the rejection lets unsafe paths through to matching")
    func withoutRejectUnsafe() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.normalization.remove(.rejectUnsafe) }
        #expect(describe(Fixture.run(policy, Fixture.http("/public/%2F")).0) == "allow public")
        #expect(describe(Fixture.run(policy, Fixture.http("/public/a b")).0) == "allow public")
        #expect(describe(Fixture.run(policy, Fixture.http("/public/a\\b")).0) == "allow public")
        let (d, path) = Fixture.run(policy, Fixture.http("admin"))
        #expect(describe(d) == "deny no-route-matched")
        #expect(path == "admin")
    }

    @Test("a path that does not start with / still loses its dot segments as RFC 3986 §5.2.4 says (found by fuzzing)")
    func relativeDotSegments() throws {
        let noCutNoReject = try Fixture.policy(Fixture.paths) {
            $0.normalization.remove(.stripQuery)
            $0.normalization.remove(.rejectUnsafe)
        }
        let noReject = try Fixture.policy(Fixture.paths) { $0.normalization.remove(.rejectUnsafe) }
        let cases: [(PolicyOptionsProbe, String, String)] = [
            (.noCut, "?x=/../admin", "/admin"),
            (.noCut, "a/../b", "/b"),
            (.noCut, "x/y/../../public/z", "/public/z"),
            (.cut, "../public/x", "public/x"),
            (.cut, "./a/./b/.", "a/b/"),
            (.cut, "a/..", "/"),
            (.cut, "..", ""),
            (.cut, "a/b/../../..", "/"),
            (.cut, "a/./b", "a/b"),
        ]
        for (which, target, expected) in cases {
            let policy = which == .noCut ? noCutNoReject : noReject
            let (decision, normalized) = Fixture.run(policy, Fixture.http(target))
            #expect(decision.reason != .pathRejected, "\(target)")
            let path = normalized ?? ""  // an empty normalized path is reported as none
            #expect(path == expected, "\(target)")
            #expect(path == {
                if case .path(let p) = Differential.normalize(target, steps: policy.options.normalization) {
                    return p
                }
                return nil
            }(), "\(target) against the reference")
        }
    }

    @Test("turning off unreserved decoding keeps escapes, so an encoded dot-dot is no longer resolved")
    func withoutDecode() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.normalization.remove(.decodeUnreserved) }
        #expect(Fixture.run(policy, Fixture.http("/%70ublic/x")) .1 == "/%70ublic/x")
        #expect(describe(Fixture.run(policy, Fixture.http("/%70ublic/x")).0) == "deny no-route-matched")
        let (d, path) = Fixture.run(policy, Fixture.http("/public/%2e%2e/admin"))
        #expect(path == "/public/%2e%2e/admin")
        #expect(describe(d) == "allow public")
    }

    @Test("turning off slash merging changes how dot segments resolve")
    func withoutMergeSlashes() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.normalization.remove(.mergeSlashes) }
        let (d, path) = Fixture.run(policy, Fixture.http("/a//../b"))
        #expect(path == "/a/b")
        #expect(describe(d) == "deny no-route-matched")
        #expect(Fixture.run(policy, Fixture.http("//public/x")).1 == "//public/x")
        #expect(describe(Fixture.run(policy, Fixture.http("//public/x")).0) == "deny no-route-matched")
    }

    @Test("turning off dot-segment removal lets /public/../admin match the public prefix")
    func withoutRemoveDots() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.normalization.remove(.removeDotSegments) }
        let (d, path) = Fixture.run(policy, Fixture.http("/public/../admin"))
        #expect(path == "/public/../admin")
        #expect(describe(d) == "allow public")
        let all = try Fixture.policy(Fixture.paths)
        #expect(describe(Fixture.run(all, Fixture.http("/public/../admin")).0) == "deny no-route-matched")
        #expect(describe(Fixture.run(all, Fixture.http("/public/../admin", source: "default/admin-tool")).0) == "allow admin")
    }

    @Test("with no normalization at all the raw target is matched as given")
    func noNormalization() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.normalization = [] }
        let (d, path) = Fixture.run(policy, Fixture.http("/public/%2F/../x?y#z"))
        #expect(path == "/public/%2F/../x?y#z")
        #expect(describe(d) == "allow public")
    }
}

@Suite("Runtime: matching options, budgets and headers")
struct MatchingTests {
    @Test("fullPathMatch anchors both ends: /metrics no longer matches /metrics/x")
    func fullPathMatch() throws {
        let open = try Fixture.policy(Fixture.paths)
        #expect(describe(Fixture.run(open, Fixture.http("/metrics/x")).0) == "allow metrics")
        let full = try Fixture.policy(Fixture.paths) { $0.fullPathMatch = true }
        #expect(describe(Fixture.run(full, Fixture.http("/metrics")).0) == "allow metrics")
        #expect(describe(Fixture.run(full, Fixture.http("/metrics/x")).0) == "deny no-route-matched")
        #expect(describe(Fixture.run(full, Fixture.http("/public/")).0) == "allow public")
        #expect(describe(Fixture.run(full, Fixture.http("/public/x")).0) == "deny no-route-matched")
        #expect(full.program.options.fullPathMatch)
    }

    @Test("with a trust domain, SPIFFE ids of another trust domain are unknown identities")
    func trustDomain() throws {
        let policy = try Fixture.policy(Fixture.paths) { $0.trustDomain = "cluster.local" }
        func run(_ source: String, _ destination: String) -> String {
            describe(Fixture.run(policy, Fixture.http("/public/x", source: source, destination: destination)).0)
        }
        #expect(run("spiffe://cluster.local/ns/default/sa/web", "default/api") == "allow public")
        #expect(run("spiffe://cluster.local/ns/default/sa/web", "spiffe://cluster.local/ns/default/sa/api") == "allow public")
        #expect(run("spiffe://evil.org/ns/default/sa/web", "default/api") == "deny source-not-allowed")
        #expect(run("spiffe://cluster.local.evil.org/ns/default/sa/web", "default/api") == "deny source-not-allowed")
        #expect(run("spiffe://cluster/ns/default/sa/web", "default/api") == "deny source-not-allowed")
        #expect(run("default/web", "spiffe://evil.org/ns/default/sa/api") == "deny no-traffic-target")
        #expect(run("spiffe://cluster.local/ns/default/sa/web/x", "default/api") == "deny source-not-allowed")
        let any = try Fixture.policy(Fixture.paths)
        #expect(describe(Fixture.run(any, Fixture.http("/public/x", source: "spiffe://evil.org/ns/default/sa/web")).0) == "allow public")
    }

    static let catastrophic = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: slow, namespace: default}
        spec:
          matches:
          - name: slow
            pathRegex: "/(a+)+$"
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: slow}]
          sources: [{kind: ServiceAccount, name: web}]
        """

    @Test("a catastrophic pattern ends and denies with regex-budget-exceeded, with the default and a small match limit")
    func regexBudget() throws {
        let path = "/" + String(repeating: "a", count: 30) + "!"
        for limit: UInt32 in [100_000, 1_000] {
            let policy = try Fixture.policy(Self.catastrophic) { $0.matchLimit = limit }
            let clock = ContinuousClock()
            let start = clock.now
            let d = policy.decide(Fixture.http(path))
            #expect(clock.now - start < .seconds(5))
            #expect(describe(d) == "deny regex-budget-exceeded", "matchLimit \(limit)")
            // A short subject is decided within the budget.
            #expect(describe(policy.decide(Fixture.http("/aaa"))) == "allow slow")
            #expect(describe(policy.decide(Fixture.http("/aaa!"))) == "deny no-route-matched")
        }
        // The scratch forgets the budget flag between decisions.
        let policy = try Fixture.policy(Self.catastrophic)
        let scratch = policy.makeScratch()
        _ = policy.decide(Fixture.http(path), scratch: scratch)
        #expect(describe(policy.decide(Fixture.http("/aaa!"), scratch: scratch)) == "deny no-route-matched")
    }

    @Test("a match after one that exceeded its budget still grants (the budgeted one just does not match)")
    func budgetThenLaterMatch() throws {
        let text = Self.catastrophic.replacingOccurrences(
            of: "    pathRegex: \"/(a+)+$\"\n", with: "    pathRegex: \"/(a+)+$\"\n  - name: fallback\n    pathRegex: /a\n")
        let policy = try Fixture.policy(text)
        let path = "/" + String(repeating: "a", count: 30) + "!"
        #expect(describe(policy.decide(Fixture.http(path))) == "allow fallback")
        // And a TrafficTarget by another name that grants it by an L4 rule.
        let withL4 = try Fixture.policy(Self.catastrophic + """

            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: z-l4, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api}
              rules: [{kind: TCPRoute, name: all}]
              sources: [{kind: ServiceAccount, name: web}]
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: all, namespace: default}
            spec: {matches: {ports: []}}
            """)
        let d = withL4.decide(Fixture.http(path))
        #expect(d.allowed && d.trafficTarget == "default/z-l4")
    }

    static let headers = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: h, namespace: default}
        spec:
          matches:
          - name: env
            headers:
              X-Env: "a, b"
          - name: any-trace
            headers:
            - x-trace: ".*"
          - name: agent
            headers: {user-agent: "curl.*"}
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: h}]
          sources: [{kind: ServiceAccount, name: web}]
        """

    @Test("header rules: names compare case-insensitively, duplicates join with a comma, NUL/CR/LF never match, the value must match whole")
    func headerRules() throws {
        let policy = try Fixture.policy(Self.headers)
        func run(_ headers: [HTTPHeader]) -> String { describe(policy.decide(Fixture.http("/", headers: headers))) }
        #expect(run([HTTPHeader("x-env", "a"), HTTPHeader("X-ENV", "b")]) == "allow env")
        #expect(run([HTTPHeader("X-Env", "a, b")]) == "allow env")
        #expect(run([HTTPHeader("x-env", "a")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("x-env", "b"), HTTPHeader("x-env", "a")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("X-TRACE", "")]) == "allow any-trace")
        #expect(run([HTTPHeader("x-trace", "abc")]) == "allow any-trace")
        #expect(run([HTTPHeader("x-trace", "a\u{0}b")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("x-trace", "a\rb")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("x-trace", "a\nb")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("x-trace", "ok"), HTTPHeader("x-trace", "\n")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("x-tracer", "abc")]) == "deny no-route-matched")
        #expect(run([HTTPHeader("User-Agent", "curl/8.0")]) == "allow agent")
        #expect(run([HTTPHeader("User-Agent", "xcurl/8.0")]) == "deny no-route-matched")
        #expect(run([]) == "deny no-route-matched")
        // Many headers, long values: the scratch grows.
        var many = (0..<100).map { HTTPHeader("x-pad-\($0)", String(repeating: "v", count: 100)) }
        many.append(HTTPHeader("x-env", "a"))
        many.append(HTTPHeader("x-env", "b"))
        #expect(run(many) == "allow env")
    }

    static let methods = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: m, namespace: default}
        spec:
          matches:
          - name: get-only
            pathRegex: /get
            methods: [GET]
          - name: star
            pathRegex: /star
            methods: [GET, "*"]
          - name: empty
            pathRegex: /empty
            methods: []
          - name: post-api
            pathRegex: /api
            methods: [POST]
          - name: any-api
            pathRegex: /api
          - name: api-v1
            pathRegex: /api/v1
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: m}]
          sources: [{kind: ServiceAccount, name: web}]
        """

    @Test("methods are case-sensitive; * anywhere or an empty list means any; the first match in group order is reported")
    func methodRules() throws {
        let policy = try Fixture.policy(Self.methods)
        func run(_ method: String, _ path: String) -> String { describe(policy.decide(Fixture.http(path, method: method))) }
        #expect(run("GET", "/get") == "allow get-only")
        #expect(run("get", "/get") == "deny no-route-matched")
        #expect(run("POST", "/get") == "deny no-route-matched")
        #expect(run("FOO", "/star") == "allow star")
        #expect(run("get", "/star") == "allow star")
        #expect(run("DELETE", "/empty") == "allow empty")
        #expect(run("POST", "/api/v1/x") == "allow post-api")
        #expect(run("GET", "/api/v1/x") == "allow any-api")
        #expect(run("PATCH", "/api") == "allow any-api")
    }

    static let selection = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: g, namespace: default}
        spec:
          matches:
          - name: one
            pathRegex: /one
          - name: two
            pathRegex: "/(two|one)"
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: none-selected, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: g, matches: []}]
          sources: [{kind: ServiceAccount, name: a}]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: all-selected, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: g}]
          sources: [{kind: ServiceAccount, name: b}]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: b-second, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: g, matches: [two]}]
          sources: [{kind: ServiceAccount, name: c}, {kind: ServiceAccount, name: b}]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: a-first, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          rules: [{kind: HTTPRouteGroup, name: g, matches: [two, one]}]
          sources: [{kind: ServiceAccount, name: c}]
        """

    @Test("matches: [] selects none, omitted matches selects all, the first granting TrafficTarget by name is reported")
    func selectionAndOrder() throws {
        let policy = try Fixture.policy(Self.selection)
        func run(_ source: String, _ path: String) -> String {
            let d = policy.decide(Fixture.http(path, source: source))
            return d.allowed ? "\(d.trafficTarget ?? "?") \(d.match ?? "-")" : "deny \(d.reason?.rawValue ?? "?")"
        }
        #expect(run("default/a", "/one") == "deny no-route-matched")
        #expect(run("default/a", "/two") == "deny no-route-matched")
        #expect(run("default/b", "/one") == "default/all-selected one")
        // all-selected < b-second by name.
        #expect(run("default/b", "/two") == "default/all-selected two")
        // a-first < b-second; a-first lists [two, one] but the match reported for /one (which
        // both match) is the first in the group's order.
        #expect(run("default/c", "/two") == "default/a-first two")
        #expect(run("default/c", "/one") == "default/a-first one")
        #expect(run("default/b", "/one") == "default/all-selected one")
        #expect(run("default/c", "/three") == "deny no-route-matched")
    }

    static let stages = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: x, namespace: default}
        spec:
          matches: [{name: x, pathRegex: /x}]
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: p9000, namespace: default}
        spec: {matches: {ports: [9000]}}
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: p80, namespace: default}
        spec: {matches: {ports: [80]}}
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: UDPRoute
        metadata: {name: dns, namespace: default}
        spec: {matches: {ports: [53]}}
        ---
        apiVersion: access.smi-spec.io/v1alpha2
        kind: TrafficTarget
        metadata: {name: t1, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: d, port: 8080}
          rules: [{kind: HTTPRouteGroup, name: x}]
          sources: [{kind: ServiceAccount, name: s1}]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: t2, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: d}
          rules: [{kind: TCPRoute, name: p9000}, {kind: HTTPRouteGroup, name: x}]
          sources: [{kind: ServiceAccount, name: s2}]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: l4, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: l4}
          rules: [{kind: TCPRoute, name: p80}]
          sources: [{kind: ServiceAccount, name: s}]
        ---
        apiVersion: access.smi-spec.io/v1alpha4
        kind: TrafficTarget
        metadata: {name: udp, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: dns}
          rules: [{kind: UDPRoute, name: dns}]
          sources: [{kind: ServiceAccount, name: s}]
        """

    @Test("the deny reason is the furthest stage any TrafficTarget of the destination reached")
    func denyReasonOrdering() throws {
        let policy = try Fixture.policy(Self.stages)
        func run(_ source: String, _ port: Int, _ path: String = "/y", destination: String = "default/d") -> String {
            describe(policy.decide(Fixture.http(path, source: source, destination: destination, port: port)))
        }
        #expect(run("default/s2", 9000) == "deny no-route-matched")
        #expect(run("default/s2", 9000, "/x") == "allow x")
        #expect(run("default/s2", 8080) == "deny port-not-allowed")
        #expect(run("default/s1", 8081) == "deny port-not-allowed")
        #expect(run("default/s1", 8080) == "deny no-route-matched")
        #expect(run("default/s1", 8080, "/x") == "allow x")
        #expect(run("default/s3", 8080) == "deny source-not-allowed")
        #expect(run("default/s1", 8080, destination: "default/nobody") == "deny no-traffic-target")
        #expect(describe(policy.decide(AccessRequest(source: "default/s2", destination: "default/d", port: 9000, transport: .tcp))) == "deny no-route-matched")
        #expect(describe(policy.decide(AccessRequest(source: "default/s2", destination: "default/d", port: 9001, transport: .tcp))) == "deny port-not-allowed")
    }

    @Test("a TCPRoute-only TrafficTarget grants HTTP and TCP on its ports only")
    func l4Grants() throws {
        let policy = try Fixture.policy(Self.stages)
        func run(_ transport: TransportProtocol, _ port: Int) -> String {
            describe(policy.decide(AccessRequest(source: "default/s", destination: "default/l4", port: port, transport: transport, method: "DELETE", path: "/anything")))
        }
        #expect(run(.http, 80) == "allow TCPRoute")
        #expect(run(.tcp, 80) == "allow TCPRoute")
        #expect(run(.http, 81) == "deny port-not-allowed")
        #expect(run(.tcp, 81) == "deny port-not-allowed")
        #expect(run(.udp, 80) == "deny no-route-matched")
    }

    @Test("UDPRoute rules grant udp on their ports and nothing else")
    func udpRules() throws {
        let policy = try Fixture.policy(Self.stages)
        func run(_ transport: TransportProtocol, _ port: Int) -> String {
            describe(policy.decide(AccessRequest(source: "default/s", destination: "default/dns", port: port, transport: transport)))
        }
        #expect(run(.udp, 53) == "allow UDPRoute")
        #expect(run(.udp, 54) == "deny port-not-allowed")
        #expect(run(.tcp, 53) == "deny no-route-matched")
        #expect(run(.http, 53) == "deny no-route-matched")
    }

    @Test("IdentityBinding subjects match no identity and are warned about")
    func identityBinding() throws {
        let policy = try Fixture.policy("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: all, namespace: default}
            spec: {matches: {ports: []}}
            ---
            apiVersion: access.smi-spec.io/v1alpha4
            kind: TrafficTarget
            metadata: {name: ib, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api}
              rules: [{kind: TCPRoute, name: all}]
              sources: [{kind: IdentityBinding, name: web}, {kind: ServiceAccount, name: other}]
            ---
            apiVersion: access.smi-spec.io/v1alpha4
            kind: TrafficTarget
            metadata: {name: ib-dest, namespace: default}
            spec:
              destination: {kind: IdentityBinding, name: api2}
              rules: [{kind: TCPRoute, name: all}]
              sources: [{kind: ServiceAccount, name: web}]
            """)
        #expect(policy.decide(AccessRequest(source: "default/web", destination: "default/api", port: 1, transport: .tcp)).reason == .sourceNotAllowed)
        #expect(policy.decide(AccessRequest(source: "default/other", destination: "default/api", port: 1, transport: .tcp)).allowed)
        #expect(policy.decide(AccessRequest(source: "default/web", destination: "default/api2", port: 1, transport: .tcp)).reason == .noTrafficTarget)
        let warnings = policy.diagnostics.filter { $0.code == .identityBinding && $0.severity == .warning }
        #expect(warnings.count == 2)
    }

    @Test("the explanation names every TrafficTarget of the destination and why it did or did not grant")
    func explanation() throws {
        let policy = try Fixture.policy(Self.stages)
        let e = policy.explain(Fixture.http("/y", source: "default/s2", destination: "default/d", port: 9000))
        #expect(e.decision.reason == .noRouteMatched)
        #expect(e.targets.map(\.trafficTarget) == ["default/t1", "default/t2"])
        #expect(e.targets.map(\.stoppedAt) == [.sourceNotAllowed, .noRouteMatched])
        let text = e.description
        #expect(text.contains("default/t1") && text.contains("default/t2"))
        #expect(text.contains("DENY: no-route-matched"))
        #expect(text.contains("normalized path: /y"))
        let allowed = policy.explain(Fixture.http("/x/../x", source: "default/s1", destination: "default/d", port: 8080))
        #expect(allowed.description.contains("ALLOW by TrafficTarget default/t1 (HTTPRouteGroup, match `x`)"))
        #expect(allowed.targets.first?.granted == true)
        #expect(allowed.normalizedPath == "/x")
        let nobody = policy.explain(Fixture.http("/x", destination: "default/nobody"))
        #expect(nobody.description.contains("no TrafficTarget names this destination"))
        // The explanation's verdicts agree with the decision on every stage.
        for (source, port) in [("default/s1", 8081), ("default/s2", 8080), ("default/s3", 8080), ("default/s1", 8080)] {
            let x = policy.explain(Fixture.http("/y", source: source, destination: "default/d", port: port))
            let furthest = x.targets.compactMap(\.stoppedAt).max { rank($0) < rank($1) }
            #expect(furthest == x.decision.reason, "\(source) :\(port)")
        }
    }
}

@Suite("Runtime: traffic splits (SEMANTICS.md §6)")
struct SplitRuntimeTests {
    static let policy = """
        apiVersion: split.smi-spec.io/v1alpha2
        kind: TrafficSplit
        metadata: {name: canary, namespace: default}
        spec:
          service: web
          backends: [{service: web-v1, weight: 1}, {service: web-v2, weight: 1}, {service: web-v3, weight: 2}]
        ---
        apiVersion: split.smi-spec.io/v1alpha2
        kind: TrafficSplit
        metadata: {name: zero, namespace: default}
        spec:
          service: zero
          backends: [{service: zero-v1, weight: 0}, {service: zero-v2, weight: 0}]
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: by-path, namespace: default}
        spec:
          matches: [{name: p, pathRegex: /beta}]
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: everyone, namespace: default}
        spec:
          matches: [{name: all}]
        ---
        apiVersion: split.smi-spec.io/v1alpha4
        kind: TrafficSplit
        metadata: {name: path-split, namespace: default}
        spec:
          service: paths
          matches: [{kind: HTTPRouteGroup, name: by-path}]
          backends: [{service: paths-beta, weight: 1}]
        ---
        apiVersion: split.smi-spec.io/v1alpha4
        kind: TrafficSplit
        metadata: {name: all-split, namespace: default}
        spec:
          service: all
          matches: [{kind: HTTPRouteGroup, name: everyone}]
          backends: [{service: all-v2, weight: 1}]
        ---
        apiVersion: split.smi-spec.io/v1alpha4
        kind: TrafficSplit
        metadata: {name: zero-matched, namespace: default}
        spec:
          service: zm
          matches: [{kind: HTTPRouteGroup, name: everyone}]
          backends: [{service: zm-v2, weight: 0}]
        """

    @Test("the same entropy always picks the same backend, across scratches and compilations, and shares follow the weights")
    func determinism() throws {
        let a = try Fixture.policy(Self.policy)
        let b = try Fixture.policy(Self.policy)
        let scratch = a.makeScratch()
        var counts: [String: Int] = [:]
        var state: UInt64 = 42
        for _ in 0..<8000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let entropy = state ^ (state >> 29)
            let request = SplitRequest(service: "default/web", entropy: entropy)
            let first = a.selectBackend(request, scratch: scratch)
            #expect(first == a.selectBackend(request, scratch: a.makeScratch()))
            #expect(first == b.selectBackend(request, scratch: b.makeScratch()))
            #expect(first.trafficSplit == "default/canary")
            counts[first.backend, default: 0] += 1
        }
        #expect(abs(Double(counts["default/web-v1", default: 0]) / 8000 - 0.25) < 0.03)
        #expect(abs(Double(counts["default/web-v2", default: 0]) / 8000 - 0.25) < 0.03)
        #expect(abs(Double(counts["default/web-v3", default: 0]) / 8000 - 0.5) < 0.03)
        #expect(a.selectBackend(SplitRequest(service: "default/web", entropy: 0), scratch: scratch).backend == "default/web-v1")
        #expect(a.selectBackend(SplitRequest(service: "default/web", entropy: .max), scratch: scratch).backend == "default/web-v3")
    }

    @Test("all-zero weights answer the root service; an unknown service answers itself")
    func zeroAndUnknown() throws {
        let policy = try Fixture.policy(Self.policy)
        for entropy: UInt64 in [0, 1, .max / 2, .max] {
            #expect(policy.selectBackend(SplitRequest(service: "default/zero", entropy: entropy), scratch: policy.makeScratch()).backend == "default/zero")
            let matched = SplitRequest(service: "default/zm", entropy: entropy, method: "GET", path: "/")
            #expect(policy.selectBackend(matched, scratch: policy.makeScratch()).backend == "default/zm")
            let unknown = policy.selectBackend(SplitRequest(service: "nowhere/svc", entropy: entropy), scratch: policy.makeScratch())
            #expect(unknown == SplitDecision(backend: "nowhere/svc", trafficSplit: nil))
        }
    }

    @Test("a split with path matches goes to the root for a request without a path; a match with no conditions applies to it")
    func matchesWithoutPath() throws {
        let policy = try Fixture.policy(Self.policy)
        func backend(_ service: String, method: String? = nil, path: String? = nil) -> String {
            policy.selectBackend(SplitRequest(service: service, entropy: 7, method: method, path: path), scratch: policy.makeScratch()).backend
        }
        #expect(backend("default/paths", method: "GET", path: "/beta/x") == "default/paths-beta")
        #expect(backend("default/paths", method: "GET", path: "/alpha") == "default/paths")
        #expect(backend("default/paths") == "default/paths")
        #expect(backend("default/paths", method: "GET") == "default/paths")
        #expect(backend("default/paths", path: "/beta%2F") == "default/paths")
        #expect(backend("default/all") == "default/all-v2")
        #expect(backend("default/all", method: "GET", path: "/x") == "default/all-v2")
    }
}

/// `allow <match or rule kind>` or `deny <reason>`.
private func describe(_ d: AccessDecision) -> String {
    d.allowed ? "allow \(d.match ?? d.ruleKind ?? "?")" : "deny \(d.reason?.rawValue ?? "?")"
}

private func rank(_ r: DenyReason) -> Int {
    switch r {
    case .pathRejected: return 5
    case .noTrafficTarget: return 0
    case .sourceNotAllowed: return 1
    case .portNotAllowed: return 2
    case .noRouteMatched: return 3
    case .regexBudgetExceeded: return 4
    case .requestTooLarge: return 6
    }
}

/// Which of the two policies of `relativeDotSegments` a case uses.
enum PolicyOptionsProbe { case noCut, cut }
