import SMIEngine
import Testing

/// Compiling on several threads (loading per input, lowering per slice of 1,024 TrafficTargets)
/// gives the same policy bytes and the same diagnostics, in the same order, as one thread.
@Suite("Compiling on several threads")
struct ThreadedCompileTests {
    /// 3,000 TrafficTargets in 6 files: more than two lowering slices, and enough resources that the
    /// loader sorts the TrafficTarget identities on a thread of their own. Most grant a route that
    /// exists; every seventh names a missing HTTPRouteGroup, every eleventh has no rules, every
    /// thirteenth a destination in another namespace: lowering warnings spread over every slice.
    static func sources() -> [PolicySource] {
        var files: [PolicySource] = []
        for file in 0..<6 {
            var text = """
                apiVersion: specs.smi-spec.io/v1alpha4
                kind: HTTPRouteGroup
                metadata: {name: routes, namespace: ns\(file)}
                spec:
                  matches:
                  - {name: api, pathRegex: "/api/.*", methods: [GET]}
                  - {name: all, pathRegex: ".*"}

                """
            for i in 0..<500 {
                let n = file * 500 + i
                let group = n % 7 == 0 ? "missing" : "routes"
                let rules =
                    n % 11 == 0
                    ? "  rules: []"
                    : "  rules:\n  - {kind: HTTPRouteGroup, name: \(group), matches: [\(n % 2 == 0 ? "api" : "all")]}"
                let destinationNamespace = n % 13 == 0 ? "other" : "ns\(file)"
                text += """
                    ---
                    apiVersion: access.smi-spec.io/v1alpha3
                    kind: TrafficTarget
                    metadata: {name: t\(n), namespace: ns\(file)}
                    spec:
                      destination: {kind: ServiceAccount, name: svc\(n % 50), namespace: \(destinationNamespace)}
                      sources:
                      - {kind: ServiceAccount, name: client\(n % 9), namespace: ns\(file)}
                    \(rules)

                    """
            }
            files.append(PolicySource(name: "f\(file).yaml", text: text))
        }
        return files
    }

    @Test("the same bundle bytes and diagnostics for 1, 2 and 3 threads")
    func sameResult() throws {
        var limits = LoaderLimits()
        limits.threads = 1
        let one = try Policy.compile(sources: Self.sources(), limits: limits)
        let warnings = one.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.count > 500)
        // Warnings in file order: the last file's come last.
        #expect(one.diagnostics.first?.location?.file == "f0.yaml")
        #expect(one.diagnostics.last?.location?.file == "f5.yaml")
        for threads in [2, 3] {
            limits.threads = threads
            let many = try Policy.compile(sources: Self.sources(), limits: limits)
            #expect(many.diagnostics == one.diagnostics, "threads: \(threads)")
            #expect(many.bundle() == one.bundle(), "threads: \(threads)")
        }
    }
}
