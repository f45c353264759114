import SMILoader
import SMIModel
import SMITestSupport
import Testing

@Suite("errors and warnings at their values")
struct ValidationTests {
    @Test("bad YAML syntax: the missing colon points at the key")
    func missingColon() {
        expectDiagnostics(
            """
            apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplit
            metadata:
              name: s
              1️⃣namespace server
            spec:
              service: web
            """,
            [("1️⃣", .syntax, .error)]
        )
    }

    @Test("bad YAML syntax: a mapping value inside a plain scalar")
    func mappingValueInScalar() {
        let result = expectDiagnostics(
            """
            spec:
              sources:
              - kind: ServiceAccount
                  name1️⃣: curl
            """,
            [("1️⃣", .syntax, .error)]
        )
        #expect(errors(result).first?.message.contains("mapping values are not allowed") == true)
    }

    @Test("duplicate match name, at the second name")
    func duplicateMatchName() {
        let result = expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: ns}
            spec:
              matches:
              - name: metrics
              - name: 1️⃣metrics
                pathRegex: /x
            """,
            [("1️⃣", .duplicateMatchName, .error)]
        )
        #expect(errors(result).first?.field == "spec.matches[1].name")
        #expect(errors(result).first?.resource?.description == "HTTPRouteGroup ns/g")
        #expect(result.model.httpRouteGroups.isEmpty)
    }

    @Test("wrong types: a number where a string belongs, null where an object belongs")
    func wrongTypes() {
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g}
            spec:
              matches:
              - name: m
                headers:
                  x-debug: 1️⃣1
                pathRegex: 2️⃣[a]
                methods: 3️⃣GET
            """,
            [("1️⃣", .wrongType, .error), ("2️⃣", .wrongType, .error), ("3️⃣", .wrongType, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplit
            1️⃣metadata:
            2️⃣spec:
            """,
            [("1️⃣", .wrongType, .error), ("2️⃣", .wrongType, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: 1️⃣42}
            spec:
              destination: {kind: ServiceAccount, name: 2️⃣true}
              sources: 3️⃣{kind: ServiceAccount, name: a}
            """,
            [("1️⃣", .wrongType, .error), ("2️⃣", .wrongType, .error), ("3️⃣", .wrongType, .error)]
        )
    }

    @Test("a duplicate key is an error at the second key")
    func duplicateKey() {
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r}
            spec:
              matches:
                ports: [80]
              1️⃣matches:
                ports: [81]
            """,
            [("1️⃣", .duplicateKey, .error)]
        )
        // The object holding the repeated key reports it and is left out; other objects stay.
        let result = load(
            """
            apiVersion: specs.smi-spec.io/v1alpha1
            kind: TCPRoute
            metadata: {name: a, name: b}
            ---
            apiVersion: specs.smi-spec.io/v1alpha1
            kind: TCPRoute
            metadata: {name: c}
            ---
            apiVersion: v1
            kind: ConfigMap
            data: {k: 1, k: 2}
            """
        )
        #expect(errors(result).map(\.field) == ["metadata.name", nil])
        #expect(errors(result).first?.resource?.description == "TCPRoute default/a")
        #expect(result.model.tcpRoutes.map(\.origin.id.name) == ["c"])
    }

    @Test("headers: a list item with two keys, and a header named twice in any case")
    func headerProblems() {
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha3
            kind: HTTPRouteGroup
            metadata: {name: g}
            spec:
              matches:
              - name: m
                headers:
                - 1️⃣user-agent: ".*Android.*"
                  cookie: "x"
              - name: n
                headers:
                - user-agent: a
                - 2️⃣User-Agent: b
              - name: o
                headers:
                  cookie: a
                  3️⃣COOKIE: b
            """,
            [("1️⃣", .invalidValue, .error), ("2️⃣", .duplicateHeader, .error), ("3️⃣", .duplicateHeader, .error)]
        )
    }

    @Test("missing names and required fields")
    func missingFields() {
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata:
              1️⃣namespace: ns
            spec:
              matches:
              - 2️⃣pathRegex: /x
            """,
            [("1️⃣", .missingField, .error), ("2️⃣", .missingField, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: t}
            spec:
              1️⃣sources: [{kind: ServiceAccount, name: a}]
            """,
            [("1️⃣", .missingField, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: split.smi-spec.io/v1alpha4
            kind: TrafficSplit
            metadata: {name: s}
            spec:
              1️⃣backends:
              - 2️⃣service: a
            """,
            [("1️⃣", .missingField, .error), ("2️⃣", .missingField, .error)]
        )
    }

    @Test("an empty name is an error")
    func emptyName() {
        expectDiagnostics(
            "apiVersion: specs.smi-spec.io/v1alpha1\nkind: TCPRoute\nmetadata: {name: 1️⃣\"\"}\n",
            [("1️⃣", .invalidValue, .error)]
        )
    }

    @Test("kinds outside each field's list are errors")
    func badKinds() {
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha2
            kind: TrafficTarget
            metadata: {name: t}
            spec:
              destination: {kind: 1️⃣Group, name: b}
              sources: [{kind: 2️⃣IdentityBinding, name: a}]
              rules: [{kind: 3️⃣UDPRoute, name: r}]
            """,
            [("1️⃣", .invalidValue, .error), ("2️⃣", .invalidValue, .error), ("3️⃣", .invalidValue, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: split.smi-spec.io/v1alpha4
            kind: TrafficSplit
            metadata: {name: s}
            spec:
              service: web
              backends: [{service: a, weight: 1}]
              matches: [{kind: 1️⃣UDPRoute, name: r}]
            """,
            [("1️⃣", .invalidValue, .error)]
        )
    }

    @Test("ports: numeric strings accepted everywhere, range checks everywhere")
    func ports() {
        let ok = load(
            """
            apiVersion: access.smi-spec.io/v1alpha2
            kind: TrafficTarget
            metadata: {name: t}
            spec:
              destination: {kind: ServiceAccount, name: b, port: "9091"}
            """
        )
        #expect(ok.diagnostics.isEmpty)
        #expect(ok.model.trafficTargets.first?.port?.value == 9091)
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha1
            kind: TrafficTarget
            metadata: {name: t}
            destination: {kind: ServiceAccount, name: b, port: 1️⃣70000}
            """,
            [("1️⃣", .invalidValue, .error)]
        )
        expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: UDPRoute
            metadata: {name: r}
            spec:
              matches:
                ports: [53, 1️⃣-1, "54", 2️⃣"x54", 3️⃣true]
            """,
            // SEMANTICS.md §1: ports may be numeric strings everywhere; other strings are not ports.
            [("1️⃣", .invalidValue, .error), ("2️⃣", .invalidValue, .error), ("3️⃣", .wrongType, .error)]
        )
    }

    @Test("a regex longer than the limit")
    func regexLimit() {
        let long = String(repeating: "a", count: 9000)
        let input = MarkedText(
            "apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: g}\nspec:\n  matches:\n  - name: m\n    pathRegex: 1️⃣\(long)\n"
        )
        let result = load(input.text)
        #expect(result.diagnostics.map(\.code) == [.limitExceeded])
        #expect(result.diagnostics.first?.location?.column == input["1️⃣"].column)
    }

    @Test("warnings keep the resource: unknown field, unknown method, root as its own backend, IdentityBinding key")
    func warningsStillLoad() {
        let result = expectDiagnostics(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, labels: {app: x}, uid: abc, resourceVersion: "1"}
            spec:
              1️⃣extra: true
              matches:
              - name: m
                methods: [GET, 2️⃣PROPFIND, 3️⃣get]
                4️⃣pathregex: /x
            status: {}
            ---
            apiVersion: split.smi-spec.io/v1alpha4
            kind: TrafficSplit
            metadata: {name: s}
            spec:
              service: web
              backends:
              - service: 5️⃣web
                weight: 1
              - service: web-v2
                weight: 1
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: UDPRoute
            metadata: {name: u}
            spec: {6️⃣foo: bar}
            """,
            [
                ("1️⃣", .unknownField, .warning), ("2️⃣", .unknownMethod, .warning), ("3️⃣", .unknownMethod, .warning),
                ("4️⃣", .unknownField, .warning), ("5️⃣", .selfBackend, .warning), ("6️⃣", .unknownField, .warning),
            ]
        )
        #expect(result.diagnostics.count == 6)
        #expect(result.model.httpRouteGroups.count == 1)
        #expect(result.model.httpRouteGroups.first?.matches.first?.methods?.map(\.value) == ["GET", "PROPFIND", "get"])
        #expect(result.model.trafficSplits.count == 1)
        #expect(result.model.udpRoutes.count == 1)
    }

    @Test("an object defined twice: a warning at the later one, which is used")
    func redefined() {
        let result = expectDiagnostics(
            """
            apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplit
            metadata: {name: s, namespace: ns}
            spec: {service: web, backends: [{service: v1, weight: 1}]}
            ---
            apiVersion: split.smi-spec.io/v1alpha4
            kind: TrafficSplit
            metadata: {name: 1️⃣s, namespace: ns}
            spec: {service: web, backends: [{service: v2, weight: 1}]}
            """,
            [("1️⃣", .redefined, .warning)]
        )
        #expect(result.model.trafficSplits.count == 1)
        #expect(result.model.trafficSplits.first?.backends.first?.service == "v2")
        #expect(result.model.trafficSplits.first?.origin.version == APIVersion(.split, 4))
    }

    @Test("all problems of a resource are reported, not only the first")
    func allProblems() {
        let result = load(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g}
            matches: []
            spec:
              matches:
              - name: 1
              - pathRegex: 2
              - name: a
                headers: [{a: 1}, {b: c, d: e}]
            """
        )
        #expect(errors(result).count == 6)
        #expect(result.model.resourceCount == 0)
    }

    @Test("a resource with errors is left out, valid ones in the same file stay")
    func partialModel() {
        let result = load(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: bad}
            spec: {matches: {ports: [x]}}
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: good}
            spec: {matches: {ports: [80]}}
            """
        )
        #expect(errors(result).count == 1)
        #expect(result.model.tcpRoutes.map(\.origin.id.name) == ["good"])
    }

    @Test("an IdentityBinding is validated")
    func identityBinding() {
        let ok = load(
            """
            apiVersion: access.smi-spec.io/v1alpha4
            kind: IdentityBinding
            metadata: {name: b}
            spec:
              schemes:
                podLabelSelector:
                  matchLabels: {app: a}
                spiffeIdentities: ["cluster.local/ns/default/sa/a"]
                serviceAccount: a
            """
        )
        #expect(ok.diagnostics.isEmpty)
        #expect(ok.model.identityBindings.first?.matchLabels.first?.value == "a")
        expectDiagnostics(
            """
            apiVersion: access.smi-spec.io/v1alpha4
            kind: IdentityBinding
            metadata: {name: b}
            spec:
              schemes:
                spiffeIdentities: 1️⃣x
                serviceAccount: 2️⃣[a]
                3️⃣selector: {}
            ---
            apiVersion: access.smi-spec.io/v1alpha4
            kind: IdentityBinding
            metadata: {name: c}
            spec:
              schemes: 4️⃣{}
            """,
            [
                ("1️⃣", .wrongType, .error), ("2️⃣", .wrongType, .error), ("3️⃣", .unknownField, .warning),
                ("4️⃣", .missingField, .error),
            ]
        )
    }
}
