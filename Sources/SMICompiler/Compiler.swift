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
}

/// Compiles a policy model into decision-tree bytecode, in three named passes:
/// `lower` (model -> normalized policy), `build` (-> decision DAG) and `emit` (-> bytecode).
///
/// Deterministic: the same model and options always give the same program.
public enum Compiler {
    /// Compiles `model`. The program is nil when any error was found (the diagnostics say where).
    public static func compile(_ model: PolicyModel, options: CompileOptions = .init()) -> CompileOutput {
        var lowering = Lowering(model: model, options: options)
        let normalized = lowering.run()
        var diagnostics = lowering.diagnostics
        let programOptions = ProgramOptions(
            fullPathMatch: options.fullPathMatch, normalization: options.normalization,
            matchLimit: options.matchLimit, depthLimit: options.depthLimit, trustDomain: options.trustDomain)
        var builder = TreeBuilder(options: programOptions, annotations: options.annotations)
        let accessRoot = builder.buildAccess(normalized)
        let splitRoot = builder.buildSplit(normalized)
        diagnostics += builder.diagnostics
        if diagnostics.containsErrors {
            return CompileOutput(program: nil, normalized: normalized, diagnostics: diagnostics)
        }
        var emitter = Emitter(program: builder.finish(), tree: builder.tree)
        emitter.emit(accessRoot: accessRoot, splitRoot: splitRoot)
        return CompileOutput(program: emitter.program, normalized: normalized, diagnostics: diagnostics)
    }
}
