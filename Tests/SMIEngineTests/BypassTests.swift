import SMIEngine
import Testing

/// Public path-handling authorization bypasses, replayed against a policy that opens only
/// `/public/.*` (GET) to default/web, and `/debug` only with `x-debug: abc`. Each disguise of
/// `/admin` must be denied: `path-rejected` where SEMANTICS.md §5 rejects the path, otherwise
/// `no-route-matched` on the normalized path, which is then `/admin` or another path outside
/// `/public/`.
@Suite("Bypass corpus: disguised paths and headers never reach /admin")
struct BypassTests {
    static let policyText = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: routes, namespace: default}
        spec:
          matches:
          - name: public
            pathRegex: /public/.*
            methods: [GET]
          - name: debug
            pathRegex: /debug$
            headers: {x-debug: abc}
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web-to-api, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          sources: [{kind: ServiceAccount, name: web}]
          rules: [{kind: HTTPRouteGroup, name: routes}]
        """

    /// What a disguised path must come to.
    enum Outcome: Sendable, CustomStringConvertible {
        /// Rejected by §5 step 2.
        case rejected
        /// Denied with `no-route-matched`; the normalized path is given.
        case denied(String)
        /// Allowed (a control: normalization must not over-deny); the normalized path is given.
        case allowed(String)

        var description: String {
            switch self {
            case .rejected: return "path-rejected"
            case .denied(let path): return "denied at \(path)"
            case .allowed(let path): return "allowed at \(path)"
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var source: String
        var path: String
        var outcome: Outcome
        var testDescription: String { "\(source): \(path.debugDescription) -> \(outcome)" }
    }

    static let cases: [Case] = [
        // Controls: the open prefix stays open through harmless normalization.
        Case(source: "control", path: "/public/x", outcome: .allowed("/public/x")),
        Case(source: "control", path: "/public/./x", outcome: .allowed("/public/x")),
        Case(source: "control", path: "/public/%78?a=/../admin", outcome: .allowed("/public/x")),
        Case(source: "control", path: "/admin", outcome: .denied("/admin")),
        // Envoy CVE-2019-9901: dot segments resolved by the backend, not by the proxy.
        Case(source: "CVE-2019-9901", path: "/public/../admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/a/../admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/public/./../admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/../../public/../admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/%2e%2e/admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/public/%2e%2e/admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/public/%2e%2E/admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/public/%2E./admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/public/.%2e/admin", outcome: .denied("/admin")),
        Case(source: "CVE-2019-9901", path: "/public/%2e/../admin", outcome: .denied("/admin")),
        // Envoy CVE-2021-29492 / Istio ISTIO-SECURITY-2021-005: escaped slashes and backslashes.
        Case(source: "CVE-2021-29492", path: "/public/..%2Fadmin", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/public/..%2fadmin", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/public%2F..%2Fadmin", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/public/..%5Cadmin", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/public/..%5cadmin", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/public/%2e%2e%2Fadmin", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/admin%2fsecret", outcome: .rejected),
        Case(source: "CVE-2021-29492", path: "/public/%2f%2F/admin", outcome: .rejected),
        // Istio CVE-2021-31920: multiple slashes merged by the backend.
        Case(source: "CVE-2021-31920", path: "//admin", outcome: .denied("/admin")),
        Case(source: "CVE-2021-31920", path: "///admin//", outcome: .denied("/admin/")),
        Case(source: "CVE-2021-31920", path: "/public//../admin", outcome: .denied("/admin")),
        Case(source: "CVE-2021-31920", path: "/public/..//admin", outcome: .denied("/admin")),
        Case(source: "CVE-2021-31920", path: "//public/../admin", outcome: .denied("/admin")),
        // Raw backslashes (Istio's BASE normalization turns them into slashes).
        Case(source: "backslash", path: "/public/..\\admin", outcome: .rejected),
        Case(source: "backslash", path: "\\admin", outcome: .rejected),
        Case(source: "backslash", path: "/public\\..\\..\\admin", outcome: .rejected),
        // NUL, encoded and raw.
        Case(source: "NUL", path: "/public/%00/../../admin", outcome: .rejected),
        Case(source: "NUL", path: "/admin%00/public/x", outcome: .rejected),
        Case(source: "NUL", path: "/public/\u{0}/../../admin", outcome: .rejected),
        // Overlong UTF-8 escapes of `/` and `.` are neither decoded nor rejected (§5 step 2 lists
        // the escapes it rejects): they stay literal, so they never turn into /admin.
        Case(source: "overlong UTF-8", path: "/%c0%afadmin", outcome: .denied("/%c0%afadmin")),
        Case(source: "overlong UTF-8", path: "/%e0%80%afadmin", outcome: .denied("/%e0%80%afadmin")),
        Case(source: "overlong UTF-8", path: "/%c0%ae%c0%ae/admin", outcome: .denied("/%c0%ae%c0%ae/admin")),
        // Query and fragment: cut before matching, never read.
        Case(source: "query", path: "/admin?/public/x", outcome: .denied("/admin")),
        Case(source: "query", path: "/admin?x=/public/", outcome: .denied("/admin")),
        Case(source: "fragment", path: "/admin#/public/x", outcome: .denied("/admin")),
        Case(source: "fragment", path: "/public/../admin#x", outcome: .denied("/admin")),
        // Path parameters: `;` is an ordinary character; /admin;... is still not under /public/.
        Case(source: "path params", path: "/admin;/public/x", outcome: .denied("/admin;/public/x")),
        Case(source: "path params", path: "/admin;jsessionid=1", outcome: .denied("/admin;jsessionid=1")),
        Case(source: "path params", path: "/;/admin", outcome: .denied("/;/admin")),
        // Odd escapes, spaces, controls, no leading slash.
        Case(source: "bad escape", path: "/public/%zz/../../admin", outcome: .rejected),
        Case(source: "bad escape", path: "/public/%2/../admin", outcome: .rejected),
        Case(source: "space", path: "/public/ /../../admin", outcome: .rejected),
        Case(source: "control", path: "/public/\t/../../admin", outcome: .rejected),
        Case(source: "relative", path: "admin", outcome: .rejected),
        Case(source: "relative", path: "public/../admin", outcome: .rejected),
        Case(
            source: "double-encoding",
            path: "/public/%252e%252e/admin",
            outcome: .allowed("/public/%252e%252e/admin")
        ),
        Case(source: "case", path: "/PUBLIC/x", outcome: .denied("/PUBLIC/x")),
        Case(source: "unreserved escapes", path: "/%61dmin", outcome: .denied("/admin")),
        Case(source: "unreserved escapes", path: "/%70ublic/%2e%2e/%61dmin", outcome: .denied("/admin")),
    ]

    static let policy: Policy? = try? Policy.compile(text: policyText)

    @Test("a disguised path gets the §5 outcome, never /admin", arguments: cases)
    func disguisedPath(_ c: Case) throws {
        let policy = try #require(Self.policy)
        let scratch = policy.makeScratch()
        let request = AccessRequest(
            source: "default/web",
            destination: "default/api",
            port: 80,
            transport: .http,
            method: "GET",
            path: c.path
        )
        let decision = policy.decide(request, scratch: scratch)
        switch c.outcome {
        case .rejected:
            #expect(
                decision
                    == AccessDecision(
                        allowed: false,
                        reason: .pathRejected,
                        trafficTarget: nil,
                        ruleKind: nil,
                        match: nil
                    )
            )
            #expect(scratch.normalizedPath == nil)
        case .denied(let path):
            #expect(!decision.allowed)
            #expect(decision.reason == .noRouteMatched)
            #expect(scratch.normalizedPath == path)
        case .allowed(let path):
            #expect(decision.allowed && decision.match == "public")
            #expect(scratch.normalizedPath == path)
        }
    }

    @Test("header tricks: CR/LF or NUL in a value, a repeated name, odd case and padded names")
    func headerTricks() throws {
        let policy = try #require(Self.policy)
        func decide(_ headers: [HTTPHeader]) -> AccessDecision {
            policy.decide(
                AccessRequest(
                    source: "default/web",
                    destination: "default/api",
                    port: 80,
                    transport: .http,
                    method: "POST",
                    path: "/debug",
                    headers: headers
                )
            )
        }
        #expect(decide([HTTPHeader("x-debug", "abc")]).allowed)
        #expect(decide([HTTPHeader("X-DEBUG", "abc")]).allowed, "names compare case-insensitively")
        #expect(decide([HTTPHeader("X-Debug", "abc"), HTTPHeader("accept", "*/*")]).allowed)
        let denied: [[HTTPHeader]] = [
            [],
            [HTTPHeader("x-debug", "abc\r\nx-debug: abc")],
            [HTTPHeader("x-debug", "abc\r")],
            [HTTPHeader("x-debug", "abc\n")],
            [HTTPHeader("x-debug", "abc\u{0}")],
            [HTTPHeader("x-debug", "\u{0}abc")],
            // A name given twice is one value joined with ", " (§2): neither copy alone decides
            // (the first-value-only confusion of Istio CVE-2026-31838-style header bypasses).
            [HTTPHeader("x-debug", "abc"), HTTPHeader("x-debug", "abc")],
            [HTTPHeader("x-debug", "zzz"), HTTPHeader("X-Debug", "abc")],
            [HTTPHeader("X-DEBUG", "abc"), HTTPHeader("x-debug", "")],
            [HTTPHeader("x-debug ", "abc")],
            [HTTPHeader("x-debug\u{0}", "abc")],
            [HTTPHeader("x_debug", "abc")],
            [HTTPHeader("x-debug", " abc")],
            [HTTPHeader("x-debug", "ABC")],
        ]
        for headers in denied {
            let d = decide(headers)
            #expect(!d.allowed && d.reason == .noRouteMatched, "\(headers) -> \(d)")
        }
    }
}
