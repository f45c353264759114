import CSMIEngine
import Foundation
import SMIEngine
import Testing

let webToAPI = """
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: routes, namespace: default}
    spec:
      matches:
      - name: items
        pathRegex: /api/items
        methods: [GET]
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: NAME, namespace: default}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules:
      - kind: HTTPRouteGroup
        name: routes
        matches: [items]
      sources:
      - {kind: ServiceAccount, name: web, namespace: default}
    ---
    apiVersion: split.smi-spec.io/v1alpha2
    kind: TrafficSplit
    metadata: {name: SPLIT, namespace: default}
    spec:
      service: api
      backends:
      - {service: api-v1, weight: 1}
    """

func policyText(target: String = "web-to-api", split: String = "api-split") -> String {
    webToAPI.replacingOccurrences(of: "NAME", with: target).replacingOccurrences(of: "SPLIT", with: split)
}

let getItems = AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http, method: "GET", path: "/api//items")

@Suite("C API: arguments, handles, identities, diagnostics, statuses")
struct APITests {
    @Test("versions match the header")
    func versions() {
        #expect(smi_version() == UInt32(SMI_VERSION_MAJOR * 1_000_000 + SMI_VERSION_MINOR * 1000 + SMI_VERSION_PATCH))
        #expect(smi_abi_version() == UInt32(SMI_ABI_VERSION))
    }

    @Test("every status and reason has static text; unknown ones too")
    func statusStrings() {
        let codes: [(smi_status, String)] = [
            (SMI_OK, "ok"), (SMI_ERROR_INVALID_ARGUMENT, "invalid argument"), (SMI_ERROR_NO_MEMORY, "out of memory"),
            (SMI_ERROR_COMPILE, "the policy has errors"), (SMI_ERROR_WRONG_HANDLE, "wrong kind of handle"),
            (SMI_ERROR_STALE_IDENTITY, "identity resolved by another policy and no name to re-resolve"),
            (SMI_ERROR_OUT_OF_RANGE, "index out of range"), (SMI_ERROR_NO_POLICY, "the holder has no policy"),
            (SMI_ERROR_LIMIT, "request exceeds a limit"), (SMI_ERROR_INTERNAL, "internal error"),
            (SMI_ERROR_BUNDLE, "the policy bundle was refused"),
        ]
        for (code, text) in codes { #expect(String(cString: smi_status_string(code)) == text) }
        for code: smi_status in [1, -11, 12345, .min, .max] { #expect(String(cString: smi_status_string(code)) == "unknown status") }
        #expect(smi_status_string(SMI_OK) == smi_status_string(SMI_OK))  // static: the same pointer

        let reasons: [(Int32, String)] = [
            (SMI_REASON_NONE, "none"), (SMI_REASON_PATH_REJECTED, "path-rejected"),
            (SMI_REASON_NO_TRAFFIC_TARGET, "no-traffic-target"), (SMI_REASON_SOURCE_NOT_ALLOWED, "source-not-allowed"),
            (SMI_REASON_PORT_NOT_ALLOWED, "port-not-allowed"), (SMI_REASON_NO_ROUTE_MATCHED, "no-route-matched"),
            (SMI_REASON_REGEX_BUDGET_EXCEEDED, "regex-budget-exceeded"),
            (SMI_REASON_REQUEST_TOO_LARGE, "request-too-large"),
        ]
        for (code, text) in reasons { #expect(String(cString: smi_reason_string(code)) == text) }
        // Every Swift deny reason has a C code with the same spelling.
        #expect(Set(DenyReason.allCases.map(\.rawValue)) == Set(reasons.dropFirst().map(\.1)))
        for code: Int32 in [-1, 8, .max, .min] { #expect(String(cString: smi_reason_string(code)) == "unknown") }
    }

    @Test("a decision lends the policy's strings and the scratch's normalized path")
    func decisionStrings() throws {
        let compiled = compileC(policyText())
        try #require(compiled.status == SMI_OK)
        let scratch = CScratch()
        let d = decideC(compiled.policy, scratch.pointer, getItems)
        #expect(d.status == SMI_OK)
        #expect(d.allowed && d.reason == "none" && d.grant != .max)
        #expect(d.trafficTarget == "default/web-to-api" && d.ruleKind == "HTTPRouteGroup" && d.match == "items")
        #expect(d.normalizedPath == "/api/items")
        let tcp = decideC(compiled.policy, scratch.pointer, AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .tcp))
        #expect(!tcp.allowed && tcp.normalizedPath == nil && tcp.grant == .max && tcp.trafficTarget == nil)
        let rejected = decideC(compiled.policy, scratch.pointer, AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http, path: "/a/%2F"))
        #expect(rejected.reason == "path-rejected" && rejected.normalizedPath == nil)

        let split = selectC(compiled.policy, scratch.pointer, SplitRequest(service: "default/api", entropy: 7))
        #expect(split == CSplit(status: SMI_OK, backend: "default/api-v1", trafficSplit: "default/api-split"))
        let arena = CArena()
        var q = splitRequestC(SplitRequest(service: "default/other", entropy: 7), arena: arena)
        var out = splitBuffer()
        #expect(smi_policy_select_backend(&out, compiled.policy, scratch.pointer, &q) == SMI_OK)
        #expect(out.backend.data == q.service.data && out.backend.length == q.service.length)  // the request's own view
        #expect(out.traffic_split.data == nil)
    }

    @Test("headers are read case-insensitively and repeated ones joined")
    func headers() throws {
        let text = """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: routes, namespace: default}
            spec:
              matches:
              - name: firefox
                headers:
                  - user-agent: ".*Firefox.*"
                  - x-a: "1, 2"
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: t, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api, namespace: default}
              rules: [{kind: HTTPRouteGroup, name: routes}]
              sources: [{kind: ServiceAccount, name: web, namespace: default}]
            """
        let compiled = compileC(text)
        try #require(compiled.status == SMI_OK, "\(compiled.diagnosticTexts)")
        let scratch = CScratch()
        func decide(_ headers: [HTTPHeader]) -> Bool {
            decideC(compiled.policy, scratch.pointer, AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http, headers: headers)).allowed
        }
        #expect(decide([HTTPHeader("User-Agent", "Mozilla Firefox/1"), HTTPHeader("X-A", "1"), HTTPHeader("x-a", "2")]))
        #expect(!decide([HTTPHeader("User-Agent", "Mozilla Firefox/1")]))
        #expect(!decide([HTTPHeader("User-Agent", "Firefox\n"), HTTPHeader("x-a", "1, 2")]))
        // More headers than any request before: the scratch's header buffer grows.
        let many = (0..<200).map { HTTPHeader("h\($0)", "v") } + [HTTPHeader("user-agent", "Firefox"), HTTPHeader("x-a", "1, 2")]
        #expect(decide(many))
    }

    @Test("NULL, zero sizes, truncated sizes, reserved fields, bad strings and limits give statuses, not crashes")
    func hostileArguments() throws {
        let compiled = compileC(policyText())
        try #require(compiled.status == SMI_OK)
        let policy = compiled.policy
        let scratch = CScratch()
        let arena = CArena()
        var q = cRequest(getItems, arena: arena)
        var d = decisionBuffer()

        // Out pointers and handles.
        #expect(smi_policy_decide_access(nil, policy, scratch.pointer, &q) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_decide_access(&d, nil, scratch.pointer, &q) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_decide_access(&d, policy, nil, &q) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_decide_access(&d, policy, scratch.pointer, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_decide_access(&d, scratch.pointer, scratch.pointer, &q) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_policy_decide_access(&d, policy, policy, &q) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_policy_decide_access(&d, compiled.diagnostics, scratch.pointer, &q) == SMI_ERROR_WRONG_HANDLE)

        // Sizes.
        func status(_ edit: (inout smi_access_request) -> Void) -> smi_status {
            var r = cRequest(getItems, arena: arena)
            edit(&r)
            var out = decisionBuffer()
            out.allowed = 7
            let s = smi_policy_decide_access(&out, policy, scratch.pointer, &r)
            #expect(s == SMI_OK || (out.allowed == 0 && out.grant == .max && out.traffic_target.data == nil), "an error leaves a denied decision")
            return s
        }
        #expect(status { _ in } == SMI_OK)
        #expect(status { $0.size = 0 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.size = UInt32(MemoryLayout<smi_access_request>.size - 1) } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.size = UInt32(MemoryLayout<smi_access_request>.size + 64) } == SMI_OK)  // a later, longer struct
        #expect(status { $0.reserved = 1 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.protocol = 3 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.protocol = .max } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.port = 65536 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.port = .max } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.method = smi_string(data: nil, length: 3) } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.target = smi_string(data: nil, length: 1) } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.target.length = -1 } == SMI_ERROR_INVALID_ARGUMENT)  // SIZE_MAX
        #expect(status { $0.source_name = smi_string(data: nil, length: 9) } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.source_name = .init(data: nil, length: 0) } == SMI_ERROR_INVALID_ARGUMENT)  // no cache, no name
        #expect(status { $0.destination_name = .init(data: nil, length: 0) } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(status { $0.header_count = 1 } == SMI_ERROR_INVALID_ARGUMENT)  // NULL headers
        #expect(status { $0.header_count = Int(SMI_MAX_HEADERS) + 1 } == SMI_ERROR_LIMIT)
        #expect(status { $0.header_count = -1 } == SMI_ERROR_LIMIT)  // SIZE_MAX
        let longTarget = "/" + String(repeating: "a", count: Int(SMI_MAX_TARGET_LENGTH))
        #expect(status { $0.target = arena.str(longTarget) } == SMI_ERROR_LIMIT)
        #expect(status { $0.target = arena.str(String(longTarget.dropLast())) } == SMI_OK)
        let badHeader = arena.array([smi_header(name: smi_string(data: nil, length: 2), value: arena.str("v"))])
        #expect(status { $0.headers = UnsafePointer(badHeader); $0.header_count = 1 } == SMI_ERROR_INVALID_ARGUMENT)
        // method, target and headers are not read for TCP.
        #expect(status { $0.protocol = UInt32(SMI_PROTOCOL_TCP); $0.header_count = 1; $0.target.length = -1 } == SMI_OK)

        // Decision out struct too small: refused, nothing written past its size.
        var small = decisionBuffer()
        small.size = 4
        small.allowed = 42
        #expect(smi_policy_decide_access(&small, policy, scratch.pointer, &q) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(small.allowed == 42)

        // Split requests.
        func splitStatus(_ edit: (inout smi_split_request) -> Void) -> smi_status {
            var r = splitRequestC(SplitRequest(service: "default/api", entropy: 1, method: "GET", path: "/", port: 80), arena: arena)
            edit(&r)
            var out = splitBuffer()
            return smi_policy_select_backend(&out, policy, scratch.pointer, &r)
        }
        #expect(splitStatus { _ in } == SMI_OK)
        #expect(splitStatus { $0.size = 8 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(splitStatus { $0.reserved = 2 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(splitStatus { $0.flags = 0x8 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(splitStatus { $0.port = 70000 } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(splitStatus { $0.port = 70000; $0.flags &= ~SMI_SPLIT_HAS_PORT } == SMI_OK)
        #expect(splitStatus { $0.service = smi_string(data: nil, length: 1) } == SMI_ERROR_INVALID_ARGUMENT)
        #expect(splitStatus { $0.target = arena.str(longTarget) } == SMI_ERROR_LIMIT)
        #expect(splitStatus { $0.header_count = 5000 } == SMI_ERROR_LIMIT)
        #expect(splitStatus { $0.header_count = 2 } == SMI_ERROR_INVALID_ARGUMENT)
        var out = splitBuffer()
        var sq = splitRequestC(SplitRequest(service: "default/api", entropy: 1), arena: arena)
        #expect(smi_policy_select_backend(nil, policy, scratch.pointer, &sq) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_select_backend(&out, policy, scratch.pointer, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_select_backend(&out, scratch.pointer, scratch.pointer, &sq) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_policy_select_backend(&out, policy, policy, &sq) == SMI_ERROR_WRONG_HANDLE)
        out.size = 0
        #expect(smi_policy_select_backend(&out, policy, scratch.pointer, &sq) == SMI_ERROR_INVALID_ARGUMENT)

        // Compiling.
        var p: OpaquePointer?
        var diags: OpaquePointer?
        #expect(smi_policy_compile(nil, nil, nil, 0, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_compile(&p, &diags, nil, 1, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_compile(&p, &diags, nil, -1, nil) == SMI_ERROR_INVALID_ARGUMENT)
        var badSource = smi_source(name: arena.str("x"), text: smi_string(data: nil, length: 4))
        #expect(smi_policy_compile(&p, &diags, &badSource, 1, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(p == nil && diags == nil)
        var o = defaultOptions()
        o.size = 8
        #expect(smi_policy_compile(&p, nil, nil, 0, &o) == SMI_ERROR_INVALID_ARGUMENT)
        o = defaultOptions()
        o.reserved = 1
        #expect(smi_policy_compile(&p, nil, nil, 0, &o) == SMI_ERROR_INVALID_ARGUMENT)
        o = defaultOptions()
        o.flags = 0x100
        #expect(smi_policy_compile(&p, nil, nil, 0, &o) == SMI_ERROR_INVALID_ARGUMENT)
        o = defaultOptions()
        o.normalization = 0x20
        #expect(smi_policy_compile(&p, nil, nil, 0, &o) == SMI_ERROR_INVALID_ARGUMENT)
        o = defaultOptions()
        o.trust_domain = smi_string(data: nil, length: 3)
        #expect(smi_policy_compile(&p, nil, nil, 0, &o) == SMI_ERROR_INVALID_ARGUMENT)
        o = defaultOptions()
        o.size = UInt32(MemoryLayout<smi_compile_options>.size + 16)
        #expect(smi_policy_compile(&p, nil, nil, 0, &o) == SMI_OK)
        smi_policy_release(p)
        #expect(smi_policy_compile_paths(nil, nil, nil, 0, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_compile_paths(&p, nil, nil, 2, nil) == SMI_ERROR_INVALID_ARGUMENT)

        // Retain/release/free of NULL and of the wrong kind do nothing.
        #expect(smi_policy_retain(nil) == nil)
        #expect(smi_policy_retain(scratch.pointer) == nil)
        smi_policy_release(nil)
        smi_policy_release(scratch.pointer)
        smi_scratch_free(nil)
        smi_scratch_free(policy)
        smi_diagnostics_free(nil)
        smi_diagnostics_free(policy)
        smi_holder_free(nil)
        smi_holder_free(policy)
        #expect(smi_policy_retain(policy) == policy)
        smi_policy_release(policy)
        #expect(decideC(policy, scratch.pointer, getItems).allowed)  // still alive after all that

        // Scratch, identity.
        #expect(smi_scratch_create(nil) == SMI_ERROR_INVALID_ARGUMENT)
        var id = smi_identity()
        #expect(smi_identity_resolve(nil, policy, arena.str("default/web")) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_identity_resolve(&id, nil, arena.str("default/web")) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_identity_resolve(&id, scratch.pointer, arena.str("default/web")) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_identity_resolve(&id, policy, smi_string(data: nil, length: 2)) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(id.policy_tag == 0)

        // Diagnostics.
        var diag = smi_diagnostic()
        diag.size = UInt32(MemoryLayout<smi_diagnostic>.size)
        #expect(smi_diagnostics_count(nil) == 0 && smi_diagnostics_error_count(nil) == 0)
        #expect(smi_diagnostics_count(policy) == 0 && smi_diagnostics_error_count(policy) == 0)
        #expect(smi_diagnostics_get(nil, 0, &diag) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_diagnostics_get(policy, 0, &diag) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_diagnostics_get(compiled.diagnostics, 0, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_diagnostics_get(compiled.diagnostics, 1_000_000, &diag) == SMI_ERROR_OUT_OF_RANGE)
        #expect(smi_diagnostics_get(compiled.diagnostics, -1, &diag) == SMI_ERROR_OUT_OF_RANGE)  // SIZE_MAX
        diag.size = 12
        #expect(smi_diagnostics_get(compiled.diagnostics, 0, &diag) == SMI_ERROR_INVALID_ARGUMENT)

        // Holder.
        var holder: OpaquePointer?
        #expect(smi_holder_create(nil, policy) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_holder_create(&holder, scratch.pointer) == SMI_ERROR_WRONG_HANDLE)
        #expect(holder == nil)
        #expect(smi_holder_create(&holder, nil) == SMI_OK)
        defer { smi_holder_free(holder) }
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_ERROR_NO_POLICY)
        #expect(d.allowed == 0)
        #expect(smi_holder_select_backend(&out, holder, scratch.pointer, &sq) == SMI_ERROR_INVALID_ARGUMENT)  // out.size is 0
        out = splitBuffer()
        #expect(smi_holder_select_backend(&out, holder, scratch.pointer, &sq) == SMI_ERROR_NO_POLICY)
        #expect(smi_holder_acquire(holder, scratch.pointer) == nil)
        #expect(smi_holder_acquire(nil, scratch.pointer) == nil)
        #expect(smi_holder_acquire(holder, policy) == nil)
        #expect(smi_holder_swap(nil, policy) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_holder_swap(holder, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_holder_swap(policy, policy) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_holder_swap(holder, holder) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_holder_decide_access(&d, policy, scratch.pointer, &q) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_holder_decide_access(&d, holder, holder, &q) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_holder_decide_access(nil, holder, scratch.pointer, &q) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, nil) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_holder_select_backend(&out, scratch.pointer, scratch.pointer, &sq) == SMI_ERROR_WRONG_HANDLE)
        #expect(smi_holder_swap(holder, policy) == SMI_OK)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1)
    }

    @Test("identity caches: resolved once, reused without the name, stale after a swap, re-resolved with the name")
    func identityCache() throws {
        let a = compileC(policyText(target: "a"))
        let b = compileC(policyText(target: "b"))
        try #require(a.status == SMI_OK && b.status == SMI_OK)
        let scratch = CScratch()
        let arena = CArena()

        var web = smi_identity()
        var api = smi_identity()
        #expect(smi_identity_resolve(&web, a.policy, arena.str("default/web")) == SMI_OK)
        #expect(smi_identity_resolve(&api, a.policy, arena.str("spiffe://cluster.local/ns/default/sa/api")) == SMI_OK)
        #expect(web.policy_tag != 0 && web.policy_tag == api.policy_tag && web.index != api.index)
        var unknown = smi_identity()
        #expect(smi_identity_resolve(&unknown, a.policy, arena.str("default/nobody")) == SMI_OK)
        #expect(unknown.policy_tag == web.policy_tag && unknown.index == .max)

        // Caches without names.
        var q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: false)
        var d = decisionBuffer()
        #expect(smi_policy_decide_access(&d, a.policy, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1 && d.traffic_target.text == "default/a")
        // A cache wins over a name: the name is not read.
        q.source_name = arena.str("default/nobody")
        #expect(smi_policy_decide_access(&d, a.policy, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1)
        // The unknown identity is denied.
        var qUnknown = cRequest(getItems, arena: arena, source: &unknown, destination: &api, names: false)
        #expect(smi_policy_decide_access(&d, a.policy, scratch.pointer, &qUnknown) == SMI_OK)
        #expect(d.allowed == 0)

        // Another policy: stale without names; re-resolved (and written back) with names.
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: false)
        #expect(smi_policy_decide_access(&d, b.policy, scratch.pointer, &q) == SMI_ERROR_STALE_IDENTITY)
        #expect(d.allowed == 0)
        let oldTag = web.policy_tag
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: true)
        #expect(smi_policy_decide_access(&d, b.policy, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1 && d.traffic_target.text == "default/b")
        #expect(web.policy_tag != oldTag && web.policy_tag == api.policy_tag)
        var check = smi_identity()
        #expect(smi_identity_resolve(&check, b.policy, arena.str("default/web")) == SMI_OK)
        #expect(check.policy_tag == web.policy_tag && check.index == web.index)
        // And now the caches serve policy b without names.
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: false)
        #expect(smi_policy_decide_access(&d, b.policy, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1)

        // A zeroed cache without a name is not stale but unusable.
        var zero = smi_identity()
        q = cRequest(getItems, arena: arena, source: &zero, destination: &api, names: false)
        #expect(smi_policy_decide_access(&d, b.policy, scratch.pointer, &q) == SMI_ERROR_INVALID_ARGUMENT)

        // Through a holder: the caches follow the swap.
        var holder: OpaquePointer?
        #expect(smi_holder_create(&holder, a.policy) == SMI_OK)
        defer { smi_holder_free(holder) }
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: false)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_ERROR_STALE_IDENTITY)
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: true)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1 && d.traffic_target.text == "default/a")
        #expect(smi_holder_swap(holder, b.policy) == SMI_OK)
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: false)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_ERROR_STALE_IDENTITY)
        q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: true)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_OK)
        #expect(d.allowed == 1 && d.traffic_target.text == "default/b")
    }

    @Test("SMI_COMPILE_ONE_THREAD: the same diagnostics, in the same order, as the default threaded load")
    func oneThread() {
        // Problems in several inputs: each input is loaded on its own thread by default.
        var sources: [(name: String, text: String)] = []
        for i in 0..<12 {
            sources.append(
                (
                    "f\(i).yaml",
                    """
                    apiVersion: specs.smi-spec.io/v1alpha4
                    kind: TCPRoute
                    metadata: {name: r\(i % 3), name: again}
                    spec: {matches: {ports: [\(i)]}}
                    colour: \(i)
                    """
                ))
        }
        func lines(_ compiled: Compiled) -> [String] {
            (0..<smi_diagnostics_count(compiled.diagnostics)).map { i in
                var d = smi_diagnostic()
                d.size = UInt32(MemoryLayout<smi_diagnostic>.size)
                _ = smi_diagnostics_get(compiled.diagnostics, i, &d)
                return "\(d.file.text ?? ""):\(d.line):\(d.column) \(d.code.text ?? "") \(d.message.text ?? "")"
            }
        }
        var one = defaultOptions()
        one.flags = SMI_COMPILE_ONE_THREAD
        let single = compileC(sources, options: one)
        let threaded = compileC(sources, options: defaultOptions())
        #expect(single.status == SMI_ERROR_COMPILE && threaded.status == SMI_ERROR_COMPILE)
        // Per file a duplicate key and an unknown field; 9 of the 12 files redefine a route.
        #expect(lines(single).count == 33)
        #expect(lines(single).count { $0.contains(" redefined ") } == 9)
        #expect(lines(single) == lines(threaded))
        #expect(lines(single).first?.hasPrefix("f0.yaml:3:") == true)
    }

    @Test("diagnostics: count, error count, fields and stable views")
    func diagnostics() throws {
        let bad = """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: routes, namespace: default}
            spec:
              matches:
              - name: broken
                pathRegex: "/api/(unclosed"
            """
        let compiled = compileC([("routes.yaml", bad)])
        #expect(compiled.status == SMI_ERROR_COMPILE)
        #expect(compiled.policy == nil)
        let count = smi_diagnostics_count(compiled.diagnostics)
        #expect(count >= 1 && smi_diagnostics_error_count(compiled.diagnostics) >= 1)
        var found = false
        var first = smi_diagnostic()
        for i in 0..<count {
            var d = smi_diagnostic()
            d.size = UInt32(MemoryLayout<smi_diagnostic>.size)
            #expect(smi_diagnostics_get(compiled.diagnostics, i, &d) == SMI_OK)
            if i == 0 { first = d }
            guard d.code.text == "invalid-regex" else { continue }
            found = true
            #expect(d.severity == SMI_SEVERITY_ERROR)
            #expect(d.file.text == "routes.yaml")
            #expect(d.line == 7 && d.column > 0)
            #expect(d.resource.text == "HTTPRouteGroup default/routes")
            #expect(d.field.text?.contains("pathRegex") == true)
            #expect(d.message.text?.isEmpty == false)
            #expect(d.text.text?.hasPrefix("routes.yaml:7:") == true)
            #expect(d.text.text?.contains(": error: ") == true)
        }
        #expect(found)
        // The views are stable: reading again lends the same bytes.
        var again = smi_diagnostic()
        again.size = UInt32(MemoryLayout<smi_diagnostic>.size)
        #expect(smi_diagnostics_get(compiled.diagnostics, 0, &again) == SMI_OK)
        #expect(again.text.data == first.text.data && again.message.data == first.message.data)

        // A policy that compiles may still have warnings; no diagnostics at all gives count 0.
        let fine = compileC(policyText())
        #expect(fine.status == SMI_OK)
        #expect(smi_diagnostics_error_count(fine.diagnostics) == 0)
        // Diagnostics are optional.
        var p: OpaquePointer?
        let arena = CArena()
        var source = smi_source(name: arena.str("x.yaml"), text: arena.str(bad))
        #expect(smi_policy_compile(&p, nil, &source, 1, nil) == SMI_ERROR_COMPILE)
        #expect(p == nil)
    }

    @Test("holder: acquire returns the policy in force; decisions copy their strings into the scratch")
    func holderBasics() throws {
        let a = compileC(policyText(target: "a", split: "sa"))
        let b = compileC(policyText(target: "b", split: "sb"))
        try #require(a.status == SMI_OK && b.status == SMI_OK)
        let scratch = CScratch()
        var holder: OpaquePointer?
        #expect(smi_holder_create(&holder, a.policy) == SMI_OK)
        defer { smi_holder_free(holder) }
        let acquired = smi_holder_acquire(holder, scratch.pointer)
        #expect(acquired == a.policy)  // the handle swapped in is handed back
        smi_policy_release(acquired)

        let arena = CArena()
        var q = cRequest(getItems, arena: arena)
        var d = decisionBuffer()
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_OK)
        #expect(d.traffic_target.text == "default/a" && d.rule_kind.text == "HTTPRouteGroup" && d.match.text == "items")
        #expect(d.normalized_path.text == "/api/items")
        var sq = splitRequestC(SplitRequest(service: "default/api", entropy: 3), arena: arena)
        var s = splitBuffer()
        #expect(smi_holder_select_backend(&s, holder, scratch.pointer, &sq) == SMI_OK)
        #expect(s.backend.text == "default/api-v1" && s.traffic_split.text == "default/sa")

        // The holder keeps its policy alive after the caller's release.
        var c: OpaquePointer?
        let arena2 = CArena()
        var src = smi_source(name: arena2.str("c.yaml"), text: arena2.str(policyText(target: "c")))
        #expect(smi_policy_compile(&c, nil, &src, 1, nil) == SMI_OK)
        #expect(smi_holder_swap(holder, c) == SMI_OK)
        smi_policy_release(c)
        #expect(smi_holder_decide_access(&d, holder, scratch.pointer, &q) == SMI_OK)
        #expect(d.traffic_target.text == "default/c")
        let current = smi_holder_acquire(holder, scratch.pointer)
        #expect(current != nil)
        #expect(decideC(current, scratch.pointer, getItems).trafficTarget == "default/c")
        smi_policy_release(current)
    }

    @Test("holder: swaps while 4 threads decide; every decision comes whole from one policy")
    func holderSwapUnderLoad() throws {
        let policies = ["a", "b", "c"].map { compileC(policyText(target: $0, split: "s" + $0)) }
        for p in policies { try #require(p.status == SMI_OK) }
        var holder: OpaquePointer?
        #expect(smi_holder_create(&holder, policies[0].policy) == SMI_OK)
        let holderBits = UInt(bitPattern: holder)
        let stop = AtomicFlag()
        let failures = AtomicCounter()
        let decisions = AtomicCounter()
        let threads = (0..<4).map { _ in
            RealThread {
                let holder = OpaquePointer(bitPattern: holderBits)
                let scratch = CScratch()
                let arena = CArena()
                var web = smi_identity()
                var api = smi_identity()
                var q = cRequest(getItems, arena: arena, source: &web, destination: &api, names: true)
                var sq = splitRequestC(SplitRequest(service: "default/api", entropy: 5), arena: arena)
                var d = decisionBuffer()
                var s = splitBuffer()
                var n = 0
                while !stop.isSet || n < 100 {
                    let status = smi_holder_decide_access(&d, holder, scratch.pointer, &q)
                    let tt = d.traffic_target.text ?? ""
                    if status != SMI_OK || d.allowed != 1 || !["default/a", "default/b", "default/c"].contains(tt) || d.match.text != "items" {
                        failures.add()
                    }
                    let splitStatus = smi_holder_select_backend(&s, holder, scratch.pointer, &sq)
                    let split = s.traffic_split.text ?? ""
                    if splitStatus != SMI_OK || s.backend.text != "default/api-v1" || !["default/sa", "default/sb", "default/sc"].contains(split) {
                        failures.add()
                    }
                    if n % 50 == 0, let p = smi_holder_acquire(holder, scratch.pointer) {
                        let direct = decideC(p, scratch.pointer, getItems)
                        if !direct.allowed { failures.add() }
                        smi_policy_release(p)
                    }
                    n += 1
                }
                decisions.add(n)
            }
        }
        for i in 0..<300 {
            #expect(smi_holder_swap(holder, policies[i % 3].policy) == SMI_OK)
            if i % 30 == 0 { usleep(1000) }
        }
        stop.set()
        for t in threads { t.join() }
        #expect(failures.value == 0)
        #expect(decisions.value >= 400)
        smi_holder_free(holder)
        // The policies outlive the holder (their own references).
        let scratch = CScratch()
        for p in policies { #expect(decideC(p.policy, scratch.pointer, getItems).allowed) }
    }
}

// MARK: Threads

import Synchronization

final class AtomicFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

final class AtomicCounter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ n: Int = 1) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// A real OS thread (pthread), joined explicitly.
final class RealThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let me = Unmanaged<RealThread>.fromOpaque(arg).takeRetainedValue()
            me.body()
            return nil
        }, box)
        precondition(created == 0, "pthread_create failed")
    }

    func join() { pthread_join(thread, nil) }
}
