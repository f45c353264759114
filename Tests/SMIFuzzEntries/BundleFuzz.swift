import CSMIEngine
import SMIBytecode
import SMIEngine
import SMIEngineC
import SMIRuntime

extension FuzzEntries {
    /// The bundle target: bytes → `BundleReader.info` and `decode` → the checks of
    /// ``program(_:)`` on what decodes, with the Swift and C loaders agreeing with the reader
    /// plus verifier. A bundle may be refused for any reason; it may never trap, and what loads
    /// must run safely.
    ///
    /// Each input is checked as given and again with its checksum recomputed, so that mutations
    /// reach the section table, the sections and the verifier instead of stopping at the CRC.
    public static func bundle(_ bytes: [UInt8]) -> [String] {
        var problems = checkBundle(bytes)
        let at = BundleLayout.checksumOffset
        if bytes.count >= at + 4 {
            var repaired = bytes
            repaired.replaceSubrange(at..<(at + 4), with: [0, 0, 0, 0])
            let crc = repaired.withUnsafeBytes { CRC32C.checksum($0) }
            repaired.replaceSubrange(at..<(at + 4), with: (0..<4).map { UInt8(truncatingIfNeeded: crc >> ($0 * 8)) })
            if repaired != bytes { problems += checkBundle(repaired) }
        }
        return problems
    }

    private static func checkBundle(_ bytes: [UInt8]) -> [String] {
        var problems: [String] = []
        let described = (try? BundleReader.info(bytes)) != nil
        let program: Program
        do {
            program = try BundleReader.decode(bytes)
        } catch {
            if (try? Policy.load(bundle: bytes)) != nil { problems.append("Policy.load accepted bytes the reader refuses") }
            if cLoads(bytes) { problems.append("smi_policy_load_bundle accepted bytes the reader refuses") }
            return problems
        }
        if !described { problems.append("the reader decodes a bundle that info refuses to describe") }
        // Writing what was read and reading it again gives the same program.
        if (try? BundleReader.decode(BundleWriter.encode(program))) != program {
            problems.append("a decoded program does not survive writing and reading again")
        }
        let runnable = (try? ExecutablePolicy(program: program)) != nil
        let swiftLoads = (try? Policy.load(bundle: bytes)) != nil
        if swiftLoads != runnable {
            problems.append("Policy.load (\(swiftLoads)) and ExecutablePolicy (\(runnable)) disagree on a decoded bundle")
        }
        if cLoads(bytes) != swiftLoads { problems.append("smi_policy_load_bundle and Policy.load disagree") }
        var rest = FuzzInput([])
        return problems + run(program, &rest)
    }

    /// Whether the C ABI loads `bytes` (a refusal must come with SMI_ERROR_BUNDLE).
    private static func cLoads(_ bytes: [UInt8]) -> Bool {
        var policy: OpaquePointer?
        var diagnostics: OpaquePointer?
        let status = bytes.withUnsafeBytes { smi_policy_load_bundle(&policy, &diagnostics, $0.baseAddress, $0.count) }
        smi_diagnostics_free(diagnostics)
        smi_policy_release(policy)
        return status == SMI_OK
    }
}
