import SMIBytecode
import SMIModel

/// The result of compiling a policy model.
public struct CompileOutput: Sendable {
    /// The program; nil when there were errors.
    public var program: Program?
    /// The normalized policy (the middle stage), for explanations.
    public var normalized: NormalizedPolicy
    /// Warnings, notes and errors found while compiling.
    public var diagnostics: [Diagnostic]
    /// Where compiling spent its time.
    public var timings = CompileTimings()
}

/// Where a compilation spent its time (`ContinuousClock`), pass by pass, for `smi lint --timings`.
public struct CompileTimings: Sendable {
    /// `lower`: model to normalized policy.
    public var lower: Duration = .zero
    /// `build`: normalized policy to decision DAG.
    public var build: Duration = .zero
    /// `emit`: decision DAG to bytecode.
    public var emit: Duration = .zero

    /// All passes at zero.
    public init() {}
}

/// Compiles a policy model into decision-tree bytecode, in three named passes:
/// `lower` (model -> normalized policy), `build` (-> decision DAG) and `emit` (-> bytecode).
///
/// Deterministic: the same model and options always give the same program.
public enum Compiler {
    /// Compiles `model`. The program is nil when any error was found (the diagnostics say where).
    public static func compile(_ model: PolicyModel, options: CompileOptions = .init()) -> CompileOutput {
        var timings = CompileTimings()
        let lowerStart = ContinuousClock.now
        var lowering = Lowering(model: model, options: options)
        let normalized = lowering.run()
        let buildStart = ContinuousClock.now
        timings.lower = lowerStart.duration(to: buildStart)
        var diagnostics = lowering.diagnostics
        let programOptions = ProgramOptions(
            fullPathMatch: options.fullPathMatch, normalization: options.normalization,
            matchLimit: options.matchLimit, depthLimit: options.depthLimit, trustDomain: options.trustDomain)
        var builder = TreeBuilder(options: programOptions, annotations: options.annotations)
        let accessRoot = builder.buildAccess(normalized)
        let splitRoot = builder.buildSplit(normalized)
        diagnostics += builder.diagnostics
        let emitStart = ContinuousClock.now
        timings.build = buildStart.duration(to: emitStart)
        if diagnostics.containsErrors {
            return CompileOutput(program: nil, normalized: normalized, diagnostics: diagnostics, timings: timings)
        }
        var emitter = Emitter(program: builder.finish(), tree: builder.tree, strings: builder.strings)
        emitter.emit(accessRoot: accessRoot, splitRoot: splitRoot)
        var program = emitter.program
        program.compactStorage()
        timings.emit = emitStart.duration(to: .now)
        return CompileOutput(
            program: program, normalized: normalized, diagnostics: diagnostics, timings: timings)
    }
}
