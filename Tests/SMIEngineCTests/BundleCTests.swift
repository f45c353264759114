import CSMIEngine
import Foundation
import SMIBytecode
import SMIEngine
import Testing

/// smi_policy_load_bundle / smi_policy_load_bundle_file as a C caller sees them.
@Suite("C API: policy bundles")
struct BundleCTests {
    /// What a load returned: status, policy, and each diagnostic's code and file.
    final class Loaded {
        let status: smi_status
        let policy: OpaquePointer?
        let diagnostics: [(code: String, file: String)]

        init(_ call: (UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<OpaquePointer?>) -> smi_status) {
            var policy: OpaquePointer?
            var diagnostics: OpaquePointer?
            status = call(&policy, &diagnostics)
            self.policy = policy
            self.diagnostics = (0..<smi_diagnostics_count(diagnostics)).map { i in
                var d = smi_diagnostic()
                d.size = UInt32(MemoryLayout<smi_diagnostic>.size)
                _ = smi_diagnostics_get(diagnostics, i, &d)
                return (d.code.text ?? "", d.file.text ?? "")
            }
            smi_diagnostics_free(diagnostics)
        }

        deinit { smi_policy_release(policy) }
    }

    static func load(_ bytes: [UInt8]) -> Loaded {
        Loaded { out, diagnostics in
            bytes.withUnsafeBytes { smi_policy_load_bundle(out, diagnostics, $0.baseAddress, $0.count) }
        }
    }

    static func loadFile(_ path: String) -> Loaded {
        let arena = CArena()
        let p = arena.str(path)
        return Loaded { out, diagnostics in smi_policy_load_bundle_file(out, diagnostics, p) }
    }

    @Test("the producer version bundles carry is the header's SMI_VERSION_STRING")
    func producerVersion() {
        #expect(engineVersion == SMI_VERSION_STRING)
        #expect(String(cString: smi_status_string(SMI_ERROR_BUNDLE)) == "the policy bundle was refused")
    }

    @Test("a bundle loaded from a buffer and from a file decides as the compiled policy")
    func loadsAndDecides() throws {
        let bytes = try Policy.compile(text: policyText()).bundle()
        let compiled = compileC(policyText())
        try #require(compiled.status == SMI_OK)
        let fromBuffer = Self.load(bytes)
        try #require(fromBuffer.status == SMI_OK)
        #expect(fromBuffer.policy != nil && fromBuffer.diagnostics.isEmpty)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("smi-c-\(UUID().uuidString).smib").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let fromFile = Self.loadFile(path)
        try #require(fromFile.status == SMI_OK)

        let scratch = CScratch()
        let requests = [
            getItems,
            AccessRequest(source: "default/web", destination: "default/api", port: 80, transport: .http, method: "POST", path: "/api/items"),
            AccessRequest(source: "default/other", destination: "default/api", port: 80, transport: .tcp),
        ]
        for r in requests {
            let expected = decideC(compiled.policy, scratch.pointer, r)
            #expect(decideC(fromBuffer.policy, scratch.pointer, r) == expected)
            #expect(decideC(fromFile.policy, scratch.pointer, r) == expected)
        }
        #expect(decideC(fromBuffer.policy, scratch.pointer, getItems).allowed)
        let split = SplitRequest(service: "default/api", entropy: 99)
        #expect(selectC(fromFile.policy, scratch.pointer, split) == selectC(compiled.policy, scratch.pointer, split))
    }

    @Test("NULLs, empty and NUL paths are invalid arguments; truncated, corrupted and missing bundles are SMI_ERROR_BUNDLE")
    func refusals() throws {
        let bytes = try Policy.compile(text: policyText()).bundle()
        var diagnostics: OpaquePointer?
        #expect(bytes.withUnsafeBytes { smi_policy_load_bundle(nil, &diagnostics, $0.baseAddress, $0.count) } == SMI_ERROR_INVALID_ARGUMENT)
        var policy: OpaquePointer?
        #expect(smi_policy_load_bundle(&policy, nil, nil, 10) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(policy == nil)
        #expect(smi_policy_load_bundle_file(&policy, nil, smi_string(data: nil, length: 0)) == SMI_ERROR_INVALID_ARGUMENT)
        #expect(smi_policy_load_bundle_file(nil, nil, CArena().str("/x")) == SMI_ERROR_INVALID_ARGUMENT)
        let arena = CArena()
        #expect(smi_policy_load_bundle_file(&policy, nil, arena.str("/tmp/a\0b")) == SMI_ERROR_INVALID_ARGUMENT)

        let empty = Loaded { out, d in smi_policy_load_bundle(out, d, nil, 0) }
        #expect(empty.status == SMI_ERROR_BUNDLE && empty.policy == nil)
        #expect(empty.diagnostics.map(\.code) == ["bundle-truncated"])

        let truncated = Self.load(Array(bytes.dropLast(9)))
        #expect(truncated.status == SMI_ERROR_BUNDLE && truncated.policy == nil)
        #expect(truncated.diagnostics.map(\.code) == ["bundle-truncated"])
        #expect(truncated.diagnostics.first?.file == "<bundle>")

        var corrupted = bytes
        corrupted[bytes.count / 2] ^= 0x20
        #expect(Self.load(corrupted).diagnostics.map(\.code) == ["bundle-checksum-mismatch"])

        var newer = bytes
        newer[BundleLayout.formatVersionOffset] = 9
        #expect(Self.load(newer).diagnostics.map(\.code) == ["bundle-unsupported-version"])

        let missing = Self.loadFile("/nonexistent/policy.smib")
        #expect(missing.status == SMI_ERROR_BUNDLE)
        #expect(missing.diagnostics.map(\.code) == ["io"] && missing.diagnostics.first?.file == "/nonexistent/policy.smib")
    }
}
