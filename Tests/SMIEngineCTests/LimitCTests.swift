import CSMIEngine
import SMIEngine
import Testing

/// The C ABI's request limits (smi_compile_options.max_headers / max_target_length, with the
/// header's constants as defaults; SMI_ERROR_LIMIT past them), the options struct's size rules,
/// and the regex budget's fail-closed deny.
@Suite("C ABI: request limits and the regex budget")
struct LimitCTests {
    static let text = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: routes, namespace: default}
        spec:
          matches:
          - {name: slow, pathRegex: /(a+)+$}
          - {name: open, pathRegex: /open}
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web-to-api, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          sources: [{kind: ServiceAccount, name: web}]
          rules: [{kind: HTTPRouteGroup, name: routes}]
        """

    static func request(path: String, headers: Int = 0) -> AccessRequest {
        AccessRequest(
            source: "default/web",
            destination: "default/api",
            port: 80,
            transport: .http,
            path: path,
            headers: (0..<headers).map { HTTPHeader("x-h\($0)", "v") }
        )
    }

    @Test("(a+)+$ against 50,000 a's and a !: SMI_OK, denied with regex-budget-exceeded")
    func regexBudget() throws {
        let compiled = compileC(Self.text)
        try #require(compiled.status == SMI_OK)
        let scratch = CScratch()
        let d = decideC(
            compiled.policy,
            scratch.pointer,
            Self.request(path: "/" + String(repeating: "a", count: 50_000) + "!")
        )
        #expect(d.status == SMI_OK)
        #expect(!d.allowed && d.reason == "regex-budget-exceeded" && d.grant == .max && d.trafficTarget == nil)
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: "/aaa")).match == "slow")
    }

    @Test("defaults: SMI_MAX_HEADERS headers and SMI_MAX_TARGET_LENGTH bytes pass; one more is SMI_ERROR_LIMIT")
    func defaults() throws {
        let compiled = compileC(Self.text)
        try #require(compiled.status == SMI_OK)
        let scratch = CScratch()
        let maxHeaders = Int(SMI_MAX_HEADERS)
        let maxTarget = Int(SMI_MAX_TARGET_LENGTH)
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: "/open", headers: maxHeaders)).allowed)
        let tooMany = decideC(compiled.policy, scratch.pointer, Self.request(path: "/open", headers: maxHeaders + 1))
        #expect(tooMany.status == SMI_ERROR_LIMIT && !tooMany.allowed)
        let long = "/open" + String(repeating: "x", count: maxTarget - 5)
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: long)).allowed)
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: long + "x")).status == SMI_ERROR_LIMIT)
    }

    @Test("max_headers and max_target_length per policy; the Swift API refuses the same requests")
    func options() throws {
        var options = defaultOptions()
        options.max_headers = 2
        options.max_target_length = 8
        let compiled = compileC(Self.text, options: options)
        try #require(compiled.status == SMI_OK)
        let scratch = CScratch()
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: "/open", headers: 2)).allowed)
        #expect(
            decideC(compiled.policy, scratch.pointer, Self.request(path: "/open", headers: 3)).status == SMI_ERROR_LIMIT
        )
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: "/open?a=")).allowed)
        #expect(decideC(compiled.policy, scratch.pointer, Self.request(path: "/open?a=1")).status == SMI_ERROR_LIMIT)
        // TCP requests carry no target or headers to read.
        var tcp = Self.request(path: "/open?a=1", headers: 3)
        tcp.transport = .tcp
        #expect(decideC(compiled.policy, scratch.pointer, tcp).status == SMI_OK)

        // Split requests: the same limits.
        let arena = CArena()
        var split = smi_split_request()
        split.size = UInt32(MemoryLayout<smi_split_request>.size)
        split.service = arena.str("default/website")
        split.headers = UnsafePointer(
            arena.array((0..<3).map { _ in smi_header(name: arena.str("h"), value: arena.str("v")) })
        )
        split.header_count = 3
        var out = smi_split_decision()
        out.size = UInt32(MemoryLayout<smi_split_decision>.size)
        #expect(smi_policy_select_backend(&out, compiled.policy, scratch.pointer, &split) == SMI_ERROR_LIMIT)
        split.header_count = 2
        split.flags = SMI_SPLIT_HAS_TARGET
        split.target = arena.str("/open?a=1")
        #expect(smi_policy_select_backend(&out, compiled.policy, scratch.pointer, &split) == SMI_ERROR_LIMIT)
        split.target = arena.str("/open?a=")
        #expect(smi_policy_select_backend(&out, compiled.policy, scratch.pointer, &split) == SMI_OK)

        var swiftOptions = PolicyOptions()
        swiftOptions.maxHeaders = 2
        swiftOptions.maxTargetLength = 8
        let policy = try Policy.compile(text: Self.text, options: swiftOptions)
        #expect(policy.decide(Self.request(path: "/open", headers: 3)).reason == .requestTooLarge)
        #expect(policy.decide(Self.request(path: "/open?a=1")).reason == .requestTooLarge)
    }

    @Test("options struct sizes: the 0.1 size takes the default limits; shorter is SMI_ERROR_INVALID_ARGUMENT")
    func optionSizes() throws {
        let oldSize = MemoryLayout<smi_compile_options>.offset(of: \smi_compile_options.max_headers) ?? 0
        #expect(oldSize == 40, "the 0.1 struct ends after trust_domain")
        var options = defaultOptions()
        options.max_headers = 2  // past the size given: must not be read
        options.size = UInt32(oldSize)
        let old = compileC(Self.text, options: options)
        try #require(old.status == SMI_OK)
        let scratch = CScratch()
        #expect(decideC(old.policy, scratch.pointer, Self.request(path: "/open", headers: 3)).allowed)
        options.size = UInt32(oldSize - 1)
        #expect(compileC(Self.text, options: options).status == SMI_ERROR_INVALID_ARGUMENT)
        options.size = UInt32(MemoryLayout<smi_compile_options>.size + 16)  // a newer caller's larger struct
        #expect(compileC(Self.text, options: options).status == SMI_OK)
    }
}
