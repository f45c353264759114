import CSMIEngine
import Foundation
import SMIEngine
import Testing

/// Every feature the golden files and the shared conformance cases exercise (L4 and L7 grants,
/// both header forms, path normalization, methods, SPIFFE ids, split quantities and matches,
/// bad input): the C API must decide exactly as the Swift facade does, which those suites check
/// against their expectations.
@Suite("C API round trip: compile and decide as the Swift facade does")
struct RoundTripTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var policy: URL
        var requests: [String]  // smi eval request objects, one JSON text each
        var description: String { name }
    }

    static let goldenRoot = packageRoot.appendingPathComponent("Tests/SMIEngineTests/Golden")

    /// The shared conformance checks, found as scripts/test.sh finds them.
    static var conformanceRoot: URL {
        if let shared = ProcessInfo.processInfo.environment["SMI_SHARED"] {
            return URL(fileURLWithPath: shared).appendingPathComponent("conformance/cases")
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/cases")
    }

    static func cases() -> [Case] {
        var all: [Case] = []
        let fm = FileManager.default
        for name in ((try? fm.contentsOfDirectory(atPath: goldenRoot.path)) ?? []).sorted() {
            let folder = goldenRoot.appendingPathComponent(name)
            let lines = (try? String(contentsOf: folder.appendingPathComponent("requests.jsonl"), encoding: .utf8)) ?? ""
            all.append(Case(name: "golden/\(name)", policy: folder.appendingPathComponent("input.yaml"),
                            requests: lines.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }))
        }
        for name in ((try? fm.contentsOfDirectory(atPath: conformanceRoot.path)) ?? []).sorted() {
            let folder = conformanceRoot.appendingPathComponent(name)
            let lines = (try? String(contentsOf: folder.appendingPathComponent("cases.jsonl"), encoding: .utf8)) ?? ""
            var requests: [String] = []
            for line in lines.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let request = object["request"],
                    let data = try? JSONSerialization.data(withJSONObject: request)
                else { continue }
                requests.append(String(decoding: data, as: UTF8.self))
            }
            all.append(Case(name: "conformance/\(name)", policy: folder.appendingPathComponent("policy.yaml"), requests: requests))
        }
        return all
    }

    @Test("the golden and conformance cases are all found")
    func casesFound() {
        let all = Self.cases()
        #expect(all.filter { $0.name.hasPrefix("golden/") }.count >= 6)
        #expect(all.filter { $0.name.hasPrefix("conformance/") }.count >= 7, "shared conformance cases missing: \(Self.conformanceRoot.path) (set SMI_SHARED)")
    }

    @Test("each case compiles and decides through the C API as through the Swift facade", arguments: cases())
    func roundTrip(_ c: Case) throws {
        let text = try String(contentsOf: c.policy, encoding: .utf8)
        let compiled = compileC([("policy.yaml", text)])
        let swift: Policy
        do {
            swift = try Policy.compile(text: text, name: "policy.yaml")
        } catch {
            // A policy with errors: the same diagnostics, no policy.
            #expect(compiled.status == SMI_ERROR_COMPILE)
            #expect(compiled.policy == nil)
            #expect(compiled.diagnosticTexts == error.diagnostics.map(\.description))
            #expect(smi_diagnostics_error_count(compiled.diagnostics) == error.diagnostics.filter { $0.severity == .error }.count)
            return
        }
        try #require(compiled.status == SMI_OK, "\(compiled.diagnosticTexts)")
        #expect(compiled.diagnosticTexts == swift.diagnostics.map(\.description))
        let scratch = CScratch()
        var decided = 0
        for line in c.requests {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let headers = ((object["headers"] as? [String: String]) ?? [:]).sorted { $0.key < $1.key }.map { HTTPHeader($0.key, $0.value) }
            switch object["type"] as? String {
            case "access":
                guard let transport = TransportProtocol(rawValue: object["protocol"] as? String ?? "") else { continue }
                let port = object["port"] as? Int ?? 0
                guard (0...65535).contains(port) else { continue }
                let r = AccessRequest(
                    source: object["source"] as? String ?? "", destination: object["destination"] as? String ?? "",
                    port: port, transport: transport, method: object["method"] as? String ?? "GET",
                    path: object["path"] as? String ?? "/", headers: headers)
                var expected = decideSwift(swift, r)
                let actual = decideC(compiled.policy, scratch.pointer, r)
                expected.grant = actual.grant
                #expect(actual == expected, "\(line)")
                #expect(actual.allowed == (actual.grant != .max))
                decided += 1
            case "split":
                let samples = object["samples"] as? Int
                let fixed = (object["entropy"] as? NSNumber)?.uint64Value
                var entropies: [UInt64] = fixed.map { [$0] } ?? []
                if samples != nil || fixed == nil {
                    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
                    for _ in 0..<256 {
                        x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        entropies.append(x)
                    }
                }
                for entropy in entropies {
                    let r = SplitRequest(
                        service: object["service"] as? String ?? "", entropy: entropy, method: object["method"] as? String,
                        path: object["path"] as? String, headers: headers, port: object["port"] as? Int)
                    #expect(selectC(compiled.policy, scratch.pointer, r) == selectSwift(swift, r), "\(line) entropy \(entropy)")
                    decided += 1
                }
            default:
                continue
            }
        }
        #expect(decided > 0 || c.requests.isEmpty)
    }

    @Test("compile options reach the compiler: full path match, normalization, trust domain, cross namespace")
    func options() throws {
        let text = """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: routes, namespace: default}
            spec:
              matches:
              - name: api
                pathRegex: /api
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: t, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api, namespace: other}
              rules:
              - kind: HTTPRouteGroup
                name: routes
              sources:
              - {kind: ServiceAccount, name: web, namespace: default}
            """
        let variants: [(UInt32, UInt32, String?)] = [
            (0, SMI_NORMALIZE_ALL, nil),
            (SMI_COMPILE_ALLOW_CROSS_NAMESPACE, SMI_NORMALIZE_ALL, nil),
            (SMI_COMPILE_ALLOW_CROSS_NAMESPACE | SMI_COMPILE_FULL_PATH_MATCH, SMI_NORMALIZE_ALL, nil),
            (SMI_COMPILE_ALLOW_CROSS_NAMESPACE, SMI_NORMALIZE_STRIP_QUERY, "cluster.local"),
            (SMI_COMPILE_ALLOW_CROSS_NAMESPACE, 0, "example.org"),
        ]
        let requests = [
            AccessRequest(source: "default/web", destination: "other/api", port: 80, transport: .http, path: "/api/x"),
            AccessRequest(source: "default/web", destination: "other/api", port: 80, transport: .http, path: "/api"),
            AccessRequest(source: "default/web", destination: "other/api", port: 80, transport: .http, path: "//api?q"),
            AccessRequest(source: "spiffe://cluster.local/ns/default/sa/web", destination: "other/api", port: 80, transport: .http, path: "/api"),
            AccessRequest(source: "spiffe://example.org/ns/default/sa/web", destination: "other/api", port: 80, transport: .http, path: "/api"),
        ]
        let arena = CArena()
        for (flags, normalization, domain) in variants {
            var o = defaultOptions()
            o.flags = flags
            o.normalization = normalization
            o.match_limit = 5000
            if let domain { o.trust_domain = arena.str(domain) }
            var swiftOptions = PolicyOptions()
            swiftOptions.allowCrossNamespaceDestinations = flags & SMI_COMPILE_ALLOW_CROSS_NAMESPACE != 0
            swiftOptions.fullPathMatch = flags & SMI_COMPILE_FULL_PATH_MATCH != 0
            swiftOptions.normalization = PathNormalization(rawValue: normalization)
            swiftOptions.trustDomain = domain
            swiftOptions.matchLimit = 5000
            let compiled = compileC(text, options: o)
            let swift: Policy
            do {
                swift = try Policy.compile(sources: [PolicySource(name: "policy.yaml", text: text)], options: swiftOptions)
            } catch {
                #expect(compiled.status == SMI_ERROR_COMPILE)
                continue
            }
            try #require(compiled.status == SMI_OK)
            #expect(swift.program.options.matchLimit == 5000)
            let scratch = CScratch()
            for r in requests {
                var expected = decideSwift(swift, r)
                let actual = decideC(compiled.policy, scratch.pointer, r)
                expected.grant = actual.grant
                #expect(actual == expected, "flags \(flags) normalization \(normalization) \(r.source) \(r.path)")
            }
        }
    }

    @Test("an empty source list compiles to a policy that denies everything")
    func emptyPolicy() {
        var policy: OpaquePointer?
        #expect(smi_policy_compile(&policy, nil, nil, 0, nil) == SMI_OK)
        defer { smi_policy_release(policy) }
        let scratch = CScratch()
        let d = decideC(policy, scratch.pointer, AccessRequest(source: "a/b", destination: "c/d", port: 80, transport: .tcp))
        #expect(d.status == SMI_OK && !d.allowed && d.reason == "no-traffic-target")
    }

    @Test("compiling paths reads files and folders; an unreadable path is a compile error with an io diagnostic")
    func compilePaths() throws {
        let arena = CArena()
        let folder = Self.goldenRoot.appendingPathComponent("seed-v1alpha1")
        var paths = [arena.str(folder.path)]
        var policy: OpaquePointer?
        var diagnostics: OpaquePointer?
        #expect(smi_policy_compile_paths(&policy, &diagnostics, &paths, 1, nil) == SMI_OK)
        #expect(policy != nil)
        smi_policy_release(policy)
        smi_diagnostics_free(diagnostics)

        paths = [arena.str("/nonexistent/smi/policy.yaml")]
        #expect(smi_policy_compile_paths(&policy, &diagnostics, &paths, 1, nil) == SMI_ERROR_COMPILE)
        #expect(policy == nil)
        #expect(smi_diagnostics_error_count(diagnostics) >= 1)
        var d = smi_diagnostic()
        d.size = UInt32(MemoryLayout<smi_diagnostic>.size)
        #expect(smi_diagnostics_get(diagnostics, 0, &d) == SMI_OK)
        #expect(d.code.text == "io")
        #expect(d.severity == SMI_SEVERITY_ERROR)
        smi_diagnostics_free(diagnostics)

        // A NUL inside a path would name another file.
        paths = [arena.str("\(folder.path)\u{0}/x")]
        #expect(smi_policy_compile_paths(&policy, nil, &paths, 1, nil) == SMI_ERROR_INVALID_ARGUMENT)
    }
}
