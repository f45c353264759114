import SMIBytecode

/// Options for compiling a policy. Every option has the default SEMANTICS.md describes.
public struct PolicyOptions: Sendable, Hashable {
    /// Anchor `pathRegex` at both ends (OSM/Envoy behaviour) instead of only at the start.
    public var fullPathMatch = false
    /// Let a TrafficTarget grant access to a destination in another namespace than its own.
    public var allowCrossNamespaceDestinations = false
    /// When set, SPIFFE ids must carry this trust domain; otherwise any trust domain is accepted.
    public var trustDomain: String? = nil
    /// The path normalization steps applied before matching (SEMANTICS.md §5); all by default.
    public var normalization: PathNormalization = .all
    /// PCRE2 match limit per regex evaluation; past it the regex does not match (fail closed).
    public var matchLimit: UInt32 = 100_000
    /// PCRE2 depth limit per regex evaluation.
    public var depthLimit: UInt32 = 10_000
    /// Keep disassembler annotations in the program (``Policy/disassembly()`` then names the
    /// TrafficTarget, match or TrafficSplit behind each instruction). They are not needed to
    /// decide; without them a 1,000-TrafficTarget policy is about 150 bytes per TrafficTarget
    /// smaller and compiles faster.
    public var annotations = true
    /// Keep the normalized policy the program was compiled from (``Policy/normalized``), so that
    /// ``Policy/explain(_:)`` can say TrafficTarget by TrafficTarget why each did or did not grant.
    /// Deciding never reads it. Without it a policy is explained like one loaded from a bundle,
    /// by the instructions its decision passed through, and holds about 1 KB per TrafficTarget
    /// less (10.3 MB less heap for the generated 10,000-TrafficTarget mesh). The C API leaves it
    /// out: nothing there explains.
    public var keepsSourceModel = true
    /// The most headers an HTTP request may carry (C: SMI_MAX_HEADERS by default). A request with
    /// more is refused: denied with ``DenyReason/requestTooLarge`` (the C ABI returns
    /// SMI_ERROR_LIMIT), and a split request answers the root service.
    public var maxHeaders = 1024
    /// The longest request target (path and query) in bytes (C: SMI_MAX_TARGET_LENGTH by
    /// default); a longer one is refused like too many headers.
    public var maxTargetLength = 65536

    /// The defaults.
    public init() {}
}

/// The path normalization steps (SEMANTICS.md §5), each of which can be turned off.
public typealias PathNormalization = SMIBytecode.PathNormalization
