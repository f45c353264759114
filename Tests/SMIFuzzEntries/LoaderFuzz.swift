import SMICompiler
import SMIEngine

/// The entry points the fuzz targets (Fuzz/) and the corpus replay test share.
public enum FuzzEntries {
    /// The loader target: the bytes as one manifest (YAML, or JSON when they start with `{` or
    /// `[`), loaded and compiled through the public Swift API with options picked from the
    /// input's length. Returns the invariants that failed (empty when all held):
    ///
    /// - a failed compilation reports at least one error, and a successful one none;
    /// - every diagnostic has a code, a message, and a location inside the input (1-based line
    ///   and column, the line within the input's line count);
    /// - a compiled policy disassembles and decides a few requests with an allow that names its
    ///   grant.
    public static func loader(_ bytes: [UInt8]) -> [String] {
        var options = PolicyOptions()
        options.fullPathMatch = bytes.count & 1 != 0
        options.allowCrossNamespaceDestinations = bytes.count & 2 != 0
        var limits = LoaderLimits()
        if bytes.count & 4 != 0 {
            // Small limits now and then, so their checks run too.
            limits.maxDepth = 8
            limits.maxResources = 4
            limits.maxRegexLength = 16
            limits.maxAliasExpansions = 16
        }
        let source = PolicySource(name: "fuzz-input", bytes: bytes)
        // An upper bound on the line count: YAML also breaks lines at CR, NEL, LS and PS.
        let lines = bytes.reduce(1) { [0x0A, 0x0D, 0x85, 0xA8, 0xA9].contains($1) ? $0 + 1 : $0 }
        var problems: [String] = []
        let diagnostics: [Diagnostic]
        var compiled: Policy?
        do {
            let policy = try Policy.compile(sources: [source], options: options, limits: limits)
            diagnostics = policy.diagnostics
            compiled = policy
            if diagnostics.contains(where: { $0.severity == .error }) {
                problems.append("a compiled policy with errors")
            }
        } catch {
            diagnostics = error.diagnostics
            if !diagnostics.contains(where: { $0.severity == .error }) {
                problems.append("compilation failed without an error: \(diagnostics.map(\.description))")
            }
        }
        for d in diagnostics {
            if d.code.rawValue.isEmpty || d.message.isEmpty {
                problems.append("a diagnostic without code or message: \(d)")
            }
            if let at = d.location, at.file == "fuzz-input", at.line < 1 || at.column < 1 || at.line > lines {
                problems.append("a diagnostic outside the input (\(lines) lines): \(d)")
            }
        }
        guard let policy = compiled else { return problems }
        if policy.disassembly().isEmpty { problems.append("an empty disassembly") }
        let scratch = policy.makeScratch()
        for target in (policy.normalized?.targets ?? []).prefix(4) {
            for source in target.sources.prefix(2) {
                for path in ["/", "/api/v1/x", "/%2e%2e/admin"] {
                    let request = AccessRequest(
                        source: source,
                        destination: target.destination ?? "",
                        port: 8080,
                        transport: .http,
                        path: path
                    )
                    let d = policy.decide(request, scratch: scratch)
                    if d.allowed && d.trafficTarget == nil { problems.append("an allow without its grant: \(d)") }
                    if !d.allowed && d.reason == nil { problems.append("a deny without a reason: \(d)") }
                }
            }
        }
        return problems
    }
}
