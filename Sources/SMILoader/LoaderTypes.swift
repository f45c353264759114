import SMIModel

/// One named input buffer: a file's bytes or an in-memory document.
public struct PolicySource: Sendable {
    /// The name used in diagnostics (a path, or any label for in-memory input). Its extension
    /// picks the reader: `.json` is JSON, `.yaml`/`.yml` YAML; otherwise content starting with
    /// `{` or `[` is JSON and anything else YAML.
    public var name: String
    /// The raw bytes.
    public var bytes: [UInt8]

    /// Creates a source from bytes.
    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    /// Creates a source from text (stored as UTF-8).
    public init(name: String, text: String) {
        self.name = name
        self.bytes = Array(text.utf8)
    }
}

/// Bounds on what the loader accepts. Each violation is a `limit-exceeded` error, never a crash.
public struct LoaderLimits: Sendable {
    /// The largest input (one file or buffer) in bytes.
    public var maxDocumentBytes = 32 << 20
    /// The deepest nesting of sequences and mappings.
    public var maxDepth = 128
    /// The most SMI resources in one load.
    public var maxResources = 1_000_000
    /// The longest regular expression (`pathRegex`, header value), in bytes.
    public var maxRegexLength = 8192
    /// The most nodes YAML aliases may add to one input, counted over every alias use.
    public var maxAliasExpansions = 10_000
    /// How many threads read, parse and decode inputs at once; 0 (the default) means one per
    /// online processor, at most 8. Not a bound on the result: any value gives the same model and
    /// the same diagnostics in the same order, because inputs are merged in load order.
    public var threads = 0

    /// The default limits.
    public init() {}
}

/// What a load produced: the model (resources without errors) and every problem found.
public struct LoadResult: Sendable {
    /// The resources that decoded without errors, sorted by namespace then name.
    public var model: PolicyModel
    /// Every error, warning and note: by input in load order, then by line and column.
    public var diagnostics: [Diagnostic]
    /// Where the load spent its time.
    public var timings = LoadTimings()

    /// Creates a result.
    public init(model: PolicyModel, diagnostics: [Diagnostic]) {
        self.model = model
        self.diagnostics = diagnostics
    }
}

/// Where a load spent its time (`ContinuousClock`), phase by phase, for `smi lint --timings`.
public struct LoadTimings: Sendable {
    /// Walking folders and reading files.
    public var read: Duration = .zero
    /// Parsing YAML and JSON into document trees.
    public var parse: Duration = .zero
    /// Decoding document trees into SMI resources, with their diagnostics.
    public var decode: Duration = .zero
    /// Sorting the resources and the diagnostics.
    public var finish: Duration = .zero
    /// Wall-clock time of walking, reading, parsing and decoding together. With more than one
    /// thread these overlap, and `read`, `parse` and `decode` (summed over inputs, whichever
    /// thread loaded them) add up to more than this.
    public var load: Duration = .zero
    /// How many threads loaded the inputs.
    public var threads = 1

    /// All phases at zero.
    public init() {}
}
