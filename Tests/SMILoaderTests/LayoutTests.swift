import SMILoader
import SMIModel
import SMITestSupport
import Testing

/// Fields placed where their declared version does not have them (SEMANTICS.md §1, strict layout).
@Suite("strict layout per version")
struct LayoutTests {
    @Test("top-level matches in specs v1alpha3 and v1alpha4")
    func topLevelMatches() {
        for alpha in 3...4 {
            let result = expectDiagnostics(
                """
                apiVersion: specs.smi-spec.io/v1alpha\(alpha)
                kind: HTTPRouteGroup
                metadata:
                  name: routes
                1️⃣matches:
                - name: metrics
                  pathRegex: /metrics
                """,
                [("1️⃣", .fieldWrongVersion, .error)]
            )
            let message = errors(result).first?.message ?? ""
            #expect(
                message.contains("specs.smi-spec.io/v1alpha\(alpha)") && message.contains("belongs under `spec`"),
                "\(message)")
            #expect(errors(result).first?.resource == ResourceID(.httpRouteGroup, namespace: "default", name: "routes"))
            #expect(errors(result).first?.field == "matches")
            #expect(result.model.httpRouteGroups.isEmpty)
        }
    }

    @Test("spec in specs v1alpha1 and v1alpha2 HTTPRouteGroup")
    func specInOldGroups() {
        for alpha in 1...2 {
            expectDiagnostics(
                """
                apiVersion: specs.smi-spec.io/v1alpha\(alpha)
                kind: HTTPRouteGroup
                metadata: {name: routes}
                1️⃣spec:
                  matches:
                  - name: metrics
                """,
                [("1️⃣", .fieldWrongVersion, .error)]
            )
        }
    }

    @Test("destination.port in access v1alpha3 and v1alpha4")
    func destinationPort() {
        for alpha in 3...4 {
            let result = expectDiagnostics(
                """
                apiVersion: access.smi-spec.io/v1alpha\(alpha)
                kind: TrafficTarget
                metadata: {name: tt, namespace: ns}
                spec:
                  destination:
                    kind: ServiceAccount
                    name: b
                    1️⃣port: 9091
                  sources: [{kind: ServiceAccount, name: a}]
                  rules: [{kind: TCPRoute, name: r}]
                """,
                [("1️⃣", .fieldWrongVersion, .error)]
            )
            #expect(errors(result).first?.field == "spec.destination.port")
        }
    }

    @Test("spec in access v1alpha1")
    func specInAccessV1() {
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha1
            kind: TrafficTarget
            metadata: {name: tt}
            destination: {kind: ServiceAccount, name: b}
            1️⃣spec:
              sources: []
            """,
            [("1️⃣", .fieldWrongVersion, .error)]
        )
    }

    @Test("top-level destination, sources and specs in access v1alpha2+")
    func topLevelInAccess() {
        for alpha in 2...4 {
            expectDiagnostics(
                """
                apiVersion: access.smi-spec.io/v1alpha\(alpha)
                kind: TrafficTarget
                metadata: {name: tt}
                1️⃣destination: {kind: ServiceAccount, name: b}
                2️⃣sources: [{kind: ServiceAccount, name: a}]
                3️⃣specs: [{kind: TCPRoute, name: r}]
                spec:
                  destination: {kind: ServiceAccount, name: b}
                """,
                [
                    ("1️⃣", .fieldWrongVersion, .error), ("2️⃣", .fieldWrongVersion, .error),
                    ("3️⃣", .fieldWrongVersion, .error),
                ]
            )
        }
    }

    @Test("specs instead of rules, rules instead of specs")
    func specsVersusRules() {
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: tt}
            spec:
              destination: {kind: ServiceAccount, name: b}
              1️⃣specs: [{kind: TCPRoute, name: r}]
            """,
            [("1️⃣", .fieldWrongVersion, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha1
            kind: TrafficTarget
            metadata: {name: tt}
            destination: {kind: ServiceAccount, name: b}
            1️⃣rules: [{kind: TCPRoute, name: r}]
            """,
            [("1️⃣", .fieldWrongVersion, .error)]
        )
    }

    @Test("subject group before access v1alpha4")
    func subjectGroup() {
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: tt}
            spec:
              destination: {kind: ServiceAccount, name: b, 1️⃣group: access.smi-spec.io}
            """,
            [("1️⃣", .fieldWrongVersion, .error)]
        )
    }

    @Test("spec.matches in TCPRoute before v1alpha4")
    func tcpMatchesBeforeV4() {
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha3
            kind: TCPRoute
            metadata: {name: r}
            spec:
              1️⃣matches:
                ports: [80]
            """,
            [("1️⃣", .fieldWrongVersion, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha2
            kind: TCPRoute
            metadata: {name: r}
            1️⃣spec:
              matches:
                ports: [80]
            """,
            [("1️⃣", .fieldWrongVersion, .error)]
        )
        // An empty spec is harmless where the version has none.
        let result = load("apiVersion: specs.smi-spec.io/v1alpha1\nkind: TCPRoute\nmetadata: {name: r}\nspec: {}\n")
        #expect(result.diagnostics.isEmpty)
        #expect(result.model.tcpRoutes.count == 1)
    }

    @Test("spec.matches in TrafficSplit v1alpha1 and v1alpha2")
    func splitMatchesBeforeV3() {
        for alpha in 1...2 {
            expectDiagnostics(
                """
                apiVersion: split.smi-spec.io/v1alpha\(alpha)
                kind: TrafficSplit
                metadata: {name: s}
                spec:
                  service: web
                  backends: [{service: web-v1, weight: 1}]
                  1️⃣matches: [{kind: HTTPRouteGroup, name: g}]
                """,
                [("1️⃣", .fieldWrongVersion, .error)]
            )
        }
    }

    @Test("headers are accepted in every specs version")
    func headersEverywhere() {
        for alpha in 1...4 {
            let body = alpha <= 2 ? "matches:" : "spec:\n  matches:"
            let indent = alpha <= 2 ? "" : "  "
            let text = """
                apiVersion: specs.smi-spec.io/v1alpha\(alpha)
                kind: HTTPRouteGroup
                metadata: {name: g}
                \(body)
                \(indent)- name: m
                \(indent)  headers:
                \(indent)  - user-agent: ".*Firefox.*"
                """
            let result = load(text)
            #expect(result.diagnostics.isEmpty, "v1alpha\(alpha): \(result.diagnostics)")
            #expect(result.model.httpRouteGroups.first?.matches.first?.headers.first?.name == "user-agent")
        }
    }

    @Test("an SMI version or kind the engine does not know is an error; other groups are skipped")
    func versionsAndKinds() {
        expectDiagnostics(
            "apiVersion: 1️⃣access.smi-spec.io/v1beta1\nkind: TrafficTarget\nmetadata: {name: x}\n",
            [("1️⃣", .invalidValue, .error)])
        expectDiagnostics(
            "apiVersion: specs.smi-spec.io/v1alpha3\nkind: 1️⃣UDPRoute\nmetadata: {name: x}\n",
            [("1️⃣", .invalidValue, .error)])
        expectDiagnostics(
            "apiVersion: access.smi-spec.io/v1alpha3\nkind: 1️⃣TrafficSplit\nmetadata: {name: x}\n",
            [("1️⃣", .invalidValue, .error)])
        expectDiagnostics(
            "apiVersion: access.smi-spec.io/v1alpha3\nkind: 1️⃣IdentityBinding\nmetadata: {name: x}\n",
            [("1️⃣", .invalidValue, .error)])
        for skipped in [
            "apiVersion: v1alpha1\nkind: TrafficSplit\n", "apiVersion: apps/v1\nkind: Deployment\n",
            "kind: TrafficSplit\n",
            "apiVersion: metrics.smi-spec.io/v1alpha1\nkind: TrafficMetrics\n",
        ] {
            let result = load(skipped)
            #expect(!result.diagnostics.containsErrors, "\(skipped)")
            #expect(result.diagnostics.map(\.code) == [.skipped], "\(skipped)")
        }
    }
}
