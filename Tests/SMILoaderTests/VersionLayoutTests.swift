import SMILoader
import SMIModel
import Testing

/// Each kind in each version's own layout loads cleanly into the one model shape.
@Suite("version layouts")
struct VersionLayoutTests {
    private func clean(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> PolicyModel {
        let result = load(text)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))", sourceLocation: sourceLocation)
        return result.model
    }

    @Test("TrafficTarget v1alpha1: top-level destination, sources, specs; string port")
    func trafficTargetV1() throws {
        let model = clean(
            """
            apiVersion: access.smi-spec.io/v1alpha1
            kind: TrafficTarget
            metadata: {name: t, namespace: ns}
            destination: {kind: ServiceAccount, name: b, port: "9091"}
            sources: [{kind: ServiceAccount, name: a, namespace: other}]
            specs:
            - {kind: HTTPRouteGroup, name: g, matches: [metrics]}
            - {kind: TCPRoute, name: r}
            """
        )
        let target = try #require(model.trafficTargets.first)
        #expect(target.origin.version == APIVersion(.access, 1))
        #expect(target.destination.qualifiedName == "ns/b")
        #expect(target.destination.namespaceWritten == false)
        #expect(target.sources.map(\.qualifiedName) == ["other/a"])
        #expect(target.sources.first?.namespaceWritten == true)
        #expect(target.rules.map(\.kind) == [.httpRouteGroup, .tcpRoute])
        #expect(target.rules.first?.matches?.map(\.value) == ["metrics"])
        #expect(target.rules.last?.matches == nil)
        #expect(target.port?.value == 9091)
    }

    @Test("TrafficTarget v1alpha2: spec.rules and an integer port")
    func trafficTargetV2() throws {
        let model = clean(
            """
            apiVersion: access.smi-spec.io/v1alpha2
            kind: TrafficTarget
            metadata: {name: t}
            spec:
              destination: {kind: ServiceAccount, name: b, namespace: default, port: 8080}
              sources: [{kind: ServiceAccount, name: a}]
              rules: [{kind: HTTPRouteGroup, name: g, matches: []}]
            """
        )
        let target = try #require(model.trafficTargets.first)
        #expect(target.port?.value == 8080)
        #expect(target.rules.first?.matches?.isEmpty == true)
        #expect(target.destination.namespaceWritten)
    }

    @Test("TrafficTarget v1alpha3: UDPRoute rules, absent sources and rules are empty")
    func trafficTargetV3() throws {
        let model = clean(
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: t}
            spec:
              destination: {kind: ServiceAccount, name: b}
              rules: [{kind: UDPRoute, name: u}]
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: u}
            spec:
              destination: {kind: ServiceAccount, name: b}
            """
        )
        #expect(model.trafficTargets.count == 2)
        #expect(model.trafficTargets.first?.rules.map(\.kind) == [.udpRoute])
        #expect(model.trafficTargets.first?.sources.isEmpty == true)
        #expect(model.trafficTargets.last?.rules.isEmpty == true)
    }

    @Test("TrafficTarget v1alpha4: IdentityBinding subjects and group")
    func trafficTargetV4() throws {
        let model = clean(
            """
            apiVersion: access.smi-spec.io/v1alpha4
            kind: TrafficTarget
            metadata: {name: t}
            spec:
              destination: {kind: IdentityBinding, group: access.smi-spec.io, name: b}
              sources: [{kind: ServiceAccount, name: a}]
              rules: [{kind: TCPRoute, name: r}]
            """
        )
        #expect(model.trafficTargets.first?.destination.kind == .identityBinding)
        #expect(model.trafficTargets.first?.port == nil)
    }

    @Test("HTTPRouteGroup in all four versions")
    func httpRouteGroups() throws {
        for alpha in 1...4 {
            let header = "apiVersion: specs.smi-spec.io/v1alpha\(alpha)\nkind: HTTPRouteGroup\nmetadata: {name: g}\n"
            let body =
                alpha <= 2
                ? "matches:\n- name: metrics\n  pathRegex: \"/metrics\"\n  methods: [\"GET\"]\n- name: all\n"
                : "spec:\n  matches:\n  - name: metrics\n    pathRegex: \"/metrics\"\n    methods: [\"GET\"]\n  - name: all\n"
            let model = clean(header + body)
            let group = try #require(model.httpRouteGroups.first)
            #expect(group.origin.version.alpha == alpha)
            #expect(group.matches.map(\.name) == ["metrics", "all"])
            #expect(group.matches.first?.pathRegex?.value == "/metrics")
            #expect(group.matches.first?.methods?.map(\.value) == ["GET"])
            #expect(group.matches.last?.pathRegex == nil)
            #expect(group.matches.last?.methods == nil)
        }
    }

    @Test("TCPRoute in all four versions, UDPRoute in v1alpha4")
    func portRoutes() {
        let model = clean(
            """
            apiVersion: specs.smi-spec.io/v1alpha1
            kind: TCPRoute
            metadata: {name: r1}
            ---
            apiVersion: specs.smi-spec.io/v1alpha2
            kind: TCPRoute
            metadata: {name: r2}
            ---
            apiVersion: specs.smi-spec.io/v1alpha3
            kind: TCPRoute
            metadata: {name: r3}
            spec: {}
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r4}
            spec:
              matches:
                ports: [8301, 8302]
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r5}
            spec:
              matches:
                ports: []
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: UDPRoute
            metadata: {name: u}
            spec:
              matches:
                ports: [53]
            """
        )
        #expect(model.tcpRoutes.map(\.origin.id.name) == ["r1", "r2", "r3", "r4", "r5"])
        #expect(model.tcpRoutes.map(\.coversAllPorts) == [true, true, true, false, true])
        #expect(model.tcpRoutes[3].ports.map(\.value) == [8301, 8302])
        #expect(model.udpRoutes.first?.ports.map(\.value) == [53])
    }

    @Test("TCPRoute v1alpha4 matches is one object, not a list")
    func tcpMatchesList() {
        let result = load(
            "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: r}\nspec:\n  matches:\n  - ports: [80]\n"
        )
        #expect(errors(result).map(\.code) == [.wrongType])
    }

    @Test("TrafficSplit in all four versions")
    func trafficSplits() throws {
        for alpha in 1...4 {
            let matches = alpha >= 3 ? "  matches: [{kind: HTTPRouteGroup, name: ab}]\n" : ""
            let model = clean(
                "apiVersion: split.smi-spec.io/v1alpha\(alpha)\nkind: TrafficSplit\nmetadata: {name: s, namespace: ns}\n"
                    + "spec:\n  service: web\n  backends:\n  - service: v1\n    weight: 9\n  - service: v2\n    weight: 1\n"
                    + matches
            )
            let split = try #require(model.trafficSplits.first)
            #expect(split.service.value == "web")
            #expect(split.backends.map(\.weight) == (alpha == 1 ? [9000, 1000] : [9, 1]))
            #expect(split.matches?.map(\.name) == (alpha >= 3 ? ["ab"] : nil))
        }
    }

    @Test("collections are sorted by namespace then name")
    func sorted() {
        let model = clean(
            ["b/y", "a/z", "b/x", "a/a"].map { id -> String in
                let parts = id.split(separator: "/")
                return
                    "apiVersion: specs.smi-spec.io/v1alpha3\nkind: TCPRoute\nmetadata: {namespace: \(parts[0]), name: \(parts[1])}\n"
            }.joined(separator: "---\n")
        )
        #expect(model.tcpRoutes.map(\.origin.id.qualifiedName) == ["a/a", "a/z", "b/x", "b/y"])
    }
}
