import SMIBytecode

/// Options of a compilation (see SEMANTICS.md for each default).
public struct CompileOptions: Sendable, Hashable {
    /// Anchor `pathRegex` at both ends.
    public var fullPathMatch = false
    /// Let TrafficTargets grant destinations in other namespaces.
    public var allowCrossNamespaceDestinations = false
    /// Required SPIFFE trust domain, or nil for any.
    public var trustDomain: String? = nil
    /// Path normalization steps.
    public var normalization: PathNormalization = .all
    /// PCRE2 match limit.
    public var matchLimit: UInt32 = 100_000
    /// PCRE2 depth limit.
    public var depthLimit: UInt32 = 10_000
    /// Keep disassembler annotations (notes naming the resources behind instructions). They are
    /// not needed to decide; leaving them out saves their text and the time to build it.
    public var annotations = true
    /// How many threads may lower TrafficTargets; 0 (the default) means one per online processor,
    /// at most 8. The program and the diagnostics are the same for every value.
    public var threads = 0

    /// The defaults.
    public init() {}
}
