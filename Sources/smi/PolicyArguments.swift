import ArgumentParser
import SMIEngine

/// The compile options every subcommand accepts (SEMANTICS.md names their defaults).
struct CompileFlags: ParsableArguments {
    @Flag(help: "Anchor pathRegex at both ends (OSM/Envoy behaviour) instead of only at the start.")
    var fullPathMatch = false

    @Flag(
        name: .customLong("allow-cross-namespace"),
        help: "Let a TrafficTarget open a destination in another namespace than its own."
    )
    var allowCrossNamespace = false

    @Option(help: ArgumentHelp("Accept SPIFFE ids of this trust domain only (default: any).", valueName: "domain"))
    var trustDomain: String?

    @Option(help: ArgumentHelp("PCRE2 match limit per regex evaluation (default: 100000).", valueName: "n"))
    var matchLimit: UInt32?

    @Option(help: ArgumentHelp("PCRE2 depth limit per regex evaluation (default: 10000).", valueName: "n"))
    var depthLimit: UInt32?

    @Option(help: ArgumentHelp("Most headers a request may carry; more is refused (default: 1024).", valueName: "n"))
    var maxHeaders: Int?

    @Option(help: ArgumentHelp("Longest request target in bytes; longer is refused (default: 65536).", valueName: "n"))
    var maxTargetLength: Int?

    @Option(help: ArgumentHelp("Largest input file in bytes (default: 33554432).", valueName: "n"))
    var maxDocumentBytes: Int?

    @Option(help: ArgumentHelp("Deepest nesting of YAML/JSON sequences and mappings (default: 128).", valueName: "n"))
    var maxDepth: Int?

    @Option(help: ArgumentHelp("Most SMI resources in one policy (default: 1000000).", valueName: "n"))
    var maxResources: Int?

    @Option(help: ArgumentHelp("Longest regex (pathRegex, header value) in bytes (default: 8192).", valueName: "n"))
    var maxRegexLength: Int?

    @Option(help: ArgumentHelp("Most nodes YAML aliases may add to one input (default: 10000).", valueName: "n"))
    var maxAliasExpansions: Int?

    @Option(
        name: .customLong("load-threads"),
        help: ArgumentHelp(
            "Threads that read, parse and decode files (default: 0, one per processor, at most 8). The result is the same for any value.",
            valueName: "n")
    )
    var loadThreads: Int?

    @Option(
        name: .customLong("skip-normalization"),
        help: ArgumentHelp("Turn off one path normalization step; repeat for more.", valueName: "step")
    )
    var skippedSteps: [NormalizationStep] = []

    /// The library options these flags select.
    var policyOptions: PolicyOptions {
        var options = PolicyOptions()
        options.fullPathMatch = fullPathMatch
        options.allowCrossNamespaceDestinations = allowCrossNamespace
        options.trustDomain = trustDomain
        if let matchLimit { options.matchLimit = matchLimit }
        if let depthLimit { options.depthLimit = depthLimit }
        for step in skippedSteps { options.normalization.remove(step.normalization) }
        if let maxHeaders { options.maxHeaders = maxHeaders }
        if let maxTargetLength { options.maxTargetLength = maxTargetLength }
        return options
    }

    /// The loader limits these flags select.
    var loaderLimits: LoaderLimits {
        var limits = LoaderLimits()
        if let maxDocumentBytes { limits.maxDocumentBytes = maxDocumentBytes }
        if let maxDepth { limits.maxDepth = maxDepth }
        if let maxResources { limits.maxResources = maxResources }
        if let maxRegexLength { limits.maxRegexLength = maxRegexLength }
        if let maxAliasExpansions { limits.maxAliasExpansions = maxAliasExpansions }
        if let loadThreads { limits.threads = loadThreads }
        return limits
    }

    func validate() throws {
        let limits: [(String, Int?)] = [
            ("--max-headers", maxHeaders), ("--max-target-length", maxTargetLength),
            ("--max-document-bytes", maxDocumentBytes), ("--max-depth", maxDepth), ("--max-resources", maxResources),
            ("--max-regex-length", maxRegexLength), ("--max-alias-expansions", maxAliasExpansions),
            ("--load-threads", loadThreads),
        ]
        for (name, value) in limits where (value ?? 1) < 0 {
            throw ValidationError("\(name) must not be negative")
        }
    }
}

/// A path normalization step as the command line spells it (SEMANTICS.md §5).
enum NormalizationStep: String, CaseIterable, ExpressibleByArgument {
    case stripQuery = "strip-query"
    case rejectUnsafe = "reject-unsafe"
    case decodeUnreserved = "decode-unreserved"
    case mergeSlashes = "merge-slashes"
    case removeDotSegments = "remove-dot-segments"

    var normalization: PathNormalization {
        switch self {
        case .stripQuery: return .stripQuery
        case .rejectUnsafe: return .rejectUnsafe
        case .decodeUnreserved: return .decodeUnreserved
        case .mergeSlashes: return .mergeSlashes
        case .removeDotSegments: return .removeDotSegments
        }
    }
}

/// `--policy PATH...` and the compile flags: what every subcommand that needs a policy takes.
struct PolicyArguments: ParsableArguments {
    @Option(
        name: .customLong("policy"),
        help: ArgumentHelp(
            "A YAML/JSON policy file, or a folder read recursively (.yaml, .yml, .json); repeat for more.",
            valueName: "path"
        )
    )
    var paths: [String] = []

    @Option(
        name: .customLong("bundle"),
        help: ArgumentHelp("A compiled policy bundle (`smi compile -o`) instead of --policy.", valueName: "file")
    )
    var bundle: String?

    @OptionGroup(title: "Compile options")
    var flags: CompileFlags

    func validate() throws {
        if bundle != nil {
            guard paths.isEmpty else { throw ValidationError("give --policy or --bundle, not both") }
            guard flags.policyOptions == PolicyOptions() else {
                throw ValidationError("compile options are baked into a bundle; give them to `smi compile`")
            }
        } else if paths.isEmpty {
            throw ValidationError("missing --policy (or --bundle)")
        }
    }

    /// Compiles the policy (or loads the bundle). Warnings go to standard error; if compiling
    /// fails, every error and warning does and the command exits with status 1. Notes (skipped
    /// non-SMI objects and the like) are left to `smi lint`.
    func compile() throws -> Policy {
        do {
            if let bundle { return try Policy.load(bundleAt: bundle) }
            let policy = try Policy.compile(paths: paths, options: flags.policyOptions, limits: flags.loaderLimits)
            report(policy.diagnostics)
            return policy
        } catch {
            report(error.diagnostics)
            throw ExitCode.failure
        }
    }

    /// Compiles `paths` as ``compile()`` does, for commands that take their paths otherwise.
    static func compile(paths: [String], options: PolicyOptions) throws -> Policy {
        do {
            let policy = try Policy.compile(paths: paths, options: options)
            StandardError.write(policy.diagnostics.filter { $0.severity != .note }.sortedByLocation())
            return policy
        } catch {
            StandardError.write(error.diagnostics.filter { $0.severity != .note }.sortedByLocation())
            throw ExitCode.failure
        }
    }

    private func report(_ diagnostics: [Diagnostic]) {
        StandardError.write(diagnostics.filter { $0.severity != .note }.sortedByLocation())
    }
}
