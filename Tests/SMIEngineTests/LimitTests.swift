import SMIEngine
import SMITestSupport
import Testing

/// Request limits (PolicyOptions.maxHeaders, maxTargetLength), loader limits (LoaderLimits) and
/// the regex match budget: past a limit the answer is a clear refusal, at the limit it passes,
/// and nothing crashes.
@Suite("Limits: requests, loader inputs and the regex budget")
struct LimitTests {
    static let text = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: routes, namespace: default}
        spec:
          matches:
          - name: slow
            pathRegex: /(a+)+$
          - name: any
            pathRegex: /open
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web-to-api, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          sources: [{kind: ServiceAccount, name: web}]
          rules: [{kind: HTTPRouteGroup, name: routes}]
        ---
        apiVersion: split.smi-spec.io/v1alpha2
        kind: TrafficSplit
        metadata: {name: canary, namespace: default}
        spec:
          service: website
          backends: [{service: website-v2, weight: 1}]
        """

    static func request(path: String, headers: Int = 0) -> AccessRequest {
        AccessRequest(
            source: "default/web",
            destination: "default/api",
            port: 80,
            transport: .http,
            path: path,
            headers: (0..<headers).map { HTTPHeader("x-h\($0 % 7)", "v") }
        )
    }

    @Test(
        "(a+)+$ against 50,000 a's and a ! exceeds the default budget: denied with regex-budget-exceeded, and it returns"
    )
    func catastrophicRegexFailsClosed() throws {
        let policy = try Policy.compile(text: Self.text)
        #expect(policy.diagnostics.contains { $0.code == .regexCatastrophicBacktracking })
        let path = "/" + String(repeating: "a", count: 50_000) + "!"
        let decision = policy.decide(Self.request(path: path))
        #expect(
            decision
                == AccessDecision(
                    allowed: false,
                    reason: .regexBudgetExceeded,
                    trafficTarget: nil,
                    ruleKind: nil,
                    match: nil
                )
        )
        // The same pattern still matches what it should, and a short miss is a plain miss.
        #expect(policy.decide(Self.request(path: "/aaaa")).match == "slow")
        #expect(policy.decide(Self.request(path: "/aa!")).reason == .noRouteMatched)
        // A larger budget is an option; the small one of the fail-closed answer is the default.
        var tight = PolicyOptions()
        tight.matchLimit = 50
        let strict = try Policy.compile(text: Self.text, options: tight)
        #expect(strict.decide(Self.request(path: "/aaaaaaaaaaaa!")).reason == .regexBudgetExceeded)
    }

    @Test("header count: at the limit decided, one more refused with request-too-large (default and option)")
    func headerLimit() throws {
        let policy = try Policy.compile(text: Self.text)
        #expect(policy.options.maxHeaders == 1024)
        #expect(policy.decide(Self.request(path: "/open", headers: 1024)).allowed)
        #expect(policy.decide(Self.request(path: "/open", headers: 1025)).reason == .requestTooLarge)
        var options = PolicyOptions()
        options.maxHeaders = 2
        let small = try Policy.compile(text: Self.text, options: options)
        #expect(small.decide(Self.request(path: "/open", headers: 2)).allowed)
        let refused = small.decide(Self.request(path: "/open", headers: 3))
        #expect(
            refused
                == AccessDecision(
                    allowed: false,
                    reason: .requestTooLarge,
                    trafficTarget: nil,
                    ruleKind: nil,
                    match: nil
                )
        )
        // Only HTTP requests carry headers that are read.
        var tcp = Self.request(path: "/open", headers: 3)
        tcp.transport = .tcp
        #expect(small.decide(tcp).reason == .noRouteMatched)
        // A split request over the limit is not matched: the root service answers.
        let split = SplitRequest(
            service: "default/website",
            entropy: 1,
            headers: (0..<3).map { HTTPHeader("h\($0)", "v") }
        )
        #expect(
            small.selectBackend(split, scratch: small.makeScratch())
                == SplitDecision(backend: "default/website", trafficSplit: nil)
        )
        var fewer = split
        fewer.headers.removeLast()
        #expect(small.selectBackend(fewer, scratch: small.makeScratch()).backend == "default/website-v2")
    }

    @Test("target length: at the limit decided, one byte more refused with request-too-large (default and option)")
    func targetLimit() throws {
        let policy = try Policy.compile(text: Self.text)
        #expect(policy.options.maxTargetLength == 65536)
        let atLimit = "/open" + String(repeating: "x", count: 65536 - 5)
        #expect(policy.decide(Self.request(path: atLimit)).allowed)
        #expect(policy.decide(Self.request(path: atLimit + "x")).reason == .requestTooLarge)
        var options = PolicyOptions()
        options.maxTargetLength = 8
        let small = try Policy.compile(text: Self.text, options: options)
        #expect(small.decide(Self.request(path: "/open?a=")).allowed, "8 bytes, query included")
        #expect(small.decide(Self.request(path: "/open?a=1")).reason == .requestTooLarge)
        let split = SplitRequest(service: "default/website", entropy: 1, path: "/open?a=1")
        #expect(small.selectBackend(split, scratch: small.makeScratch()).backend == "default/website")
    }

    /// Compiles `input` with `limits`; the diagnostics.
    static func diagnostics(_ input: MarkedText, _ limits: LoaderLimits) -> [Diagnostic] {
        do {
            return try Policy.compile(sources: [PolicySource(name: "limits.yaml", text: input.text)], limits: limits)
                .diagnostics
        } catch {
            return error.diagnostics
        }
    }

    /// Expects one `limit-exceeded` error at `marker` whose message names `limitName`.
    static func expectLimit(
        _ input: MarkedText,
        _ limits: LoaderLimits,
        at marker: String,
        naming limitName: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let found = diagnostics(input, limits).filter { $0.code == .limitExceeded }
        let position = input[marker]
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        guard let d = found.first else { return }
        #expect(d.severity == .error, sourceLocation: sourceLocation)
        #expect(d.location?.file == "limits.yaml", sourceLocation: sourceLocation)
        #expect(
            d.location?.line == position.line && d.location?.column == position.column,
            "\(d) not at \(position)",
            sourceLocation: sourceLocation
        )
        #expect(d.message.contains(limitName), "\(d.message)", sourceLocation: sourceLocation)
    }

    static let twoRoutes = MarkedText(
        """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: a, namespace: default}
        spec: {matches: {ports: [1]}}
        ---
        1️⃣apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: b, namespace: default}
        spec: {matches: {ports: [2]}}
        """
    )

    @Test("loader limits: past each one a limit-exceeded error at the offending place; at it, the policy compiles")
    func loaderLimits() throws {
        // maxResources: the resource past the limit.
        var limits = LoaderLimits()
        limits.maxResources = 1
        Self.expectLimit(Self.twoRoutes, limits, at: "1️⃣", naming: "maxResources")
        limits.maxResources = 2
        #expect(!Self.diagnostics(Self.twoRoutes, limits).containsErrors)

        // maxRegexLength: the pattern's value.
        let regex = MarkedText(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches:
              - name: m
                pathRegex: 1️⃣/abcdefgh
            """
        )
        limits = LoaderLimits()
        limits.maxRegexLength = 8
        Self.expectLimit(regex, limits, at: "1️⃣", naming: "maxRegexLength")
        limits.maxRegexLength = 9
        #expect(!Self.diagnostics(regex, limits).containsErrors)

        // maxDepth: the first node nested too deep.
        let deep = MarkedText(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: a, namespace: default}
            spec: {matches: {ports: 1️⃣[1]}}
            """
        )
        limits = LoaderLimits()
        limits.maxDepth = 3
        Self.expectLimit(deep, limits, at: "1️⃣", naming: "maxDepth")
        limits.maxDepth = 4
        #expect(!Self.diagnostics(deep, limits).containsErrors)

        // maxAliasExpansions: the alias use that goes past the limit.
        let aliases = MarkedText(
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: a, namespace: default, labels: &l {a: "1", b: "2"}, annotations: 1️⃣*l}
            spec: {matches: {ports: [1]}}
            """
        )
        limits = LoaderLimits()
        limits.maxAliasExpansions = 4
        Self.expectLimit(aliases, limits, at: "1️⃣", naming: "maxAliasExpansions")
        limits.maxAliasExpansions = 5
        #expect(!Self.diagnostics(aliases, limits).contains { $0.code == .limitExceeded })

        // maxDocumentBytes: the whole input, at its start.
        limits = LoaderLimits()
        limits.maxDocumentBytes = Self.twoRoutes.text.utf8.count - 1
        Self.expectLimit(MarkedText("1️⃣" + Self.twoRoutes.text), limits, at: "1️⃣", naming: "bytes")
        limits.maxDocumentBytes = Self.twoRoutes.text.utf8.count
        #expect(!Self.diagnostics(Self.twoRoutes, limits).containsErrors)
    }
}
