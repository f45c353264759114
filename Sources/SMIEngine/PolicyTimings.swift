import SMICompiler

/// Where compiling a policy spent its time (`ContinuousClock`), phase by phase; `smi lint --timings`
/// prints it.
public struct PolicyTimings: Sendable {
    /// Reading, parsing and decoding the manifests.
    public var load = LoadTimings()
    /// The compiler's passes.
    public var compile = CompileTimings()
    /// Making the program executable: its regular expressions compiled with PCRE2, its tables built.
    public var executable: Duration = .zero

    /// All phases at zero.
    public init() {}

    /// Each phase's name and duration, in the order they run.
    public var phases: [(name: String, duration: Duration)] {
        [
            ("read files", load.read),
            ("parse YAML/JSON", load.parse),
            ("decode resources", load.decode),
            ("sort resources and diagnostics", load.finish),
            ("lower", compile.lower),
            ("build decision tree", compile.build),
            ("emit bytecode", compile.emit),
            ("compile regexes, build runtime tables", executable),
        ]
    }
}
