import SMILoader
import SMIModel
import SMITestSupport
import Testing

@Suite("traffic split weights and names")
struct SplitTests {
    private func split(alpha: Int, namespace: String = "ns", service: String = "web", backends: [(String, String)])
        -> String
    {
        var text = """
            apiVersion: split.smi-spec.io/v1alpha\(alpha)
            kind: TrafficSplit
            metadata: {name: s, namespace: \(namespace)}
            spec:
              service: \(service)
              backends:

            """
        for (name, weight) in backends {
            text += "  - service: \(name)\n    weight: \(weight)\n"
        }
        return text
    }

    @Test(
        "v1alpha1 weights are quantities in milli-units",
        arguments: [
            ("1", 1000), ("0", 0), ("500m", 500), ("1.5", 1500), ("10m", 10), ("\"1\"", 1000), ("'2k'", 2_000_000),
            ("1Ki", 1_024_000), ("1e3", 1_000_000), ("1E3", 1_000_000), ("0.5m", 1), ("1.0001m", 2), (".5", 500),
            ("1500m", 1500), ("1Mi", 1_048_576_000), ("2P", 2_000_000_000_000_000_000), ("0x10", 16000), ("1e-3", 1),
            ("1e-4", 1),
        ] as [(String, UInt64)]
    )
    func quantities(text: String, milli: UInt64) {
        let result = load(split(alpha: 1, backends: [("v1", text)]))
        #expect(result.diagnostics.isEmpty, "\(text): \(result.diagnostics)")
        #expect(result.model.trafficSplits.first?.backends.first?.weight == milli, "\(text)")
    }

    @Test(
        "bad v1alpha1 quantities",
        arguments: ["-1", "1x", "abc", "1.2.3", "20E", "1e40", "\"\"", "[1]", "true", "-500m"])
    func badQuantities(text: String) {
        let input = MarkedText(split(alpha: 1, backends: [("v1", "1️⃣" + text)]))
        let result = load(input.text)
        #expect(errors(result).count == 1, "\(text): \(result.diagnostics)")
        #expect(errors(result).first?.location?.column == input["1️⃣"].column)
        #expect(errors(result).first?.field == "spec.backends[0].weight")
    }

    @Test("v1alpha2+ weights are non-negative integers")
    func integerWeights() {
        for alpha in 2...4 {
            let result = load(split(alpha: alpha, backends: [("v1", "0"), ("v2", "18446744073709551615")]))
            #expect(result.diagnostics.isEmpty)
            #expect(result.model.trafficSplits.first?.backends.map(\.weight) == [0, UInt64.max])
        }
    }

    @Test(
        "bad v1alpha2+ weights",
        arguments: [
            ("1.5", DiagnosticCode.invalidValue), ("-1", .invalidValue), ("\"50\"", .wrongType), ("500m", .wrongType),
            ("18446744073709551616", .invalidValue), ("50.0", .invalidValue), ("null", .wrongType),
        ]
    )
    func badWeights(text: String, code: DiagnosticCode) {
        let input = MarkedText(split(alpha: 2, backends: [("v1", "1️⃣" + text)]))
        let result = load(input.text)
        #expect(errors(result).map(\.code) == [code], "\(text): \(result.diagnostics)")
        #expect(errors(result).first?.location?.column == input["1️⃣"].column)
    }

    @Test("DNS-form names reduce to the Service name in the split's namespace")
    func dnsNames() {
        let result = load(
            split(
                alpha: 4,
                service: "web.ns.svc.cluster.local",
                backends: [
                    ("web-v1.ns", "1"), ("web-v2.ns.svc", "1"), ("web-v3", "1"), ("web-v4.ns.svc.example.org", "1"),
                ]
            )
        )
        #expect(result.diagnostics.isEmpty)
        let split = result.model.trafficSplits.first
        #expect(split?.service.value == "web")
        #expect(split?.backends.map(\.service) == ["web-v1", "web-v2", "web-v3", "web-v4"])
    }

    @Test("a service or backend in another namespace is an error at that value")
    func crossNamespace() {
        let input = MarkedText(
            split(alpha: 3, service: "1️⃣web.other", backends: [("2️⃣v1.other.svc.cluster.local", "1"), ("v2", "1")]))
        let result = load(input.text)
        #expect(errors(result).map(\.code) == [.crossNamespace, .crossNamespace])
        #expect(errors(result).map { $0.location?.column } == [input["1️⃣"].column, input["2️⃣"].column])
        #expect(errors(result).map { $0.location?.line } == [input["1️⃣"].line, input["2️⃣"].line])
        #expect(result.model.trafficSplits.isEmpty)
        // A dotted name that is no DNS form.
        #expect(
            errors(load(split(alpha: 2, service: "web.ns.cluster", backends: [("v1", "1")]))).map(\.code) == [
                .invalidValue
            ])
    }

    @Test("the root written in DNS form and listed as a backend is the self-backend warning")
    func selfBackendDNS() {
        let result = load(
            split(
                alpha: 2, namespace: "bookstore", service: "bookstore.bookstore",
                backends: [("bookstore", "50"), ("v2", "50")]))
        #expect(result.diagnostics.map(\.code) == [.selfBackend])
        #expect(result.model.trafficSplits.count == 1)
    }

    @Test("split matches (v1alpha3+)")
    func matches() {
        let result = load(
            """
            apiVersion: split.smi-spec.io/v1alpha4
            kind: TrafficSplit
            metadata: {name: s}
            spec:
              service: web
              backends: [{service: v1, weight: 1}]
              matches:
              - {kind: HTTPRouteGroup, name: ab, apiGroup: specs.smi-spec.io}
              - {kind: TCPRoute, name: t}
            """
        )
        #expect(result.diagnostics.isEmpty)
        #expect(result.model.trafficSplits.first?.matches?.map(\.kind) == [.httpRouteGroup, .tcpRoute])
        #expect(load(split(alpha: 3, backends: [("v1", "1")])).model.trafficSplits.first?.matches == nil)
    }
}
