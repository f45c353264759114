import ArgumentParser
import SMIBytecode
import SMIEngine

/// `smi lint`: compile files and folders and report every problem.
struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check SMI manifests and print every error and warning.",
        discussion: """
            Compiles the given files and folders together, as one policy, and prints every \
            diagnostic on standard error, sorted by file, line and column, then a summary \
            line. Exit status 0 when the policy compiles (warnings allowed), 1 when it has \
            errors. Objects that are not SMI resources (Deployments, Services, ...) are skipped.

            Examples:
              smi lint traffic-target.yaml routes.yaml
              smi lint manifests/
              smi lint --allow-cross-namespace manifests/
              smi lint --timings manifests/
            """
    )

    @Argument(help: ArgumentHelp("YAML/JSON files, or folders read recursively.", valueName: "path"))
    var paths: [String]

    @OptionGroup(title: "Compile options")
    var flags: CompileFlags

    @Flag(help: "Print how long each phase took (reading, parsing, decoding, compiling) to standard error.")
    var timings = false

    @Flag(help: "Print the compiled policy's size (Policy.footprint), per TrafficTarget and per opcode, to standard error.")
    var footprint = false

    func run() throws {
        let diagnostics: [Diagnostic]
        var compiled: Policy?
        var phases = PolicyTimings()
        // Lint prints diagnostics only; the disassembler's annotations (a note string per node,
        // interned into the string table) would be built and thrown away.
        var options = flags.policyOptions
        options.annotations = false
        let start = ContinuousClock.now
        do {
            let policy = try Policy.compile(
                paths: paths, options: options, limits: flags.loaderLimits, timings: &phases
            )
            diagnostics = policy.diagnostics
            compiled = policy
        } catch {
            diagnostics = error.diagnostics
        }
        let total = start.duration(to: .now)
        StandardError.write(diagnostics.sortedByLocation())
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count { $0.severity == .warning }
        StandardError.writeLine("\(counted(errors, "error")), \(counted(warnings, "warning"))")
        if timings {
            for phase in phases.phases {
                StandardError.writeLine("timing: \(milliseconds(phase.duration)) ms  \(phase.name)")
            }
            StandardError.writeLine(
                "timing: \(milliseconds(phases.load.load)) ms  read, parse and decode: wall clock on \(counted(phases.load.threads, "thread")) (their lines above sum over threads)"
            )
            StandardError.writeLine("timing: \(milliseconds(total)) ms  total")
        }
        if footprint, let compiled { StandardError.writeLine(footprintReport(compiled)) }
        if errors > 0 { throw ExitCode.failure }
    }
}

/// `Policy.footprint` per TrafficTarget, then code and table bytes per opcode.
private func footprintReport(_ policy: Policy) -> String {
    let f = policy.footprint
    let targets = max(1, policy.normalized?.targets.count ?? 1)
    func perTarget(_ bytes: Int) -> String {
        let tenths = bytes * 10 / targets
        return "\(tenths / 10).\(tenths % 10)"
    }
    var lines = [
        "footprint: \(f)",
        "footprint: TrafficTargets \(targets), per TrafficTarget: total \(perTarget(f.total)) B (code \(perTarget(f.code)), "
            + "tables \(perTarget(f.tables)), strings \(perTarget(f.strings)), sections \(perTarget(f.sections)), "
            + "regex \(perTarget(f.regexCode))); regex JIT \(perTarget(f.regexJIT)) B not counted",
    ]
    let program = policy.program
    var instructions: [Opcode: (count: Int, codeWords: Int, tableWords: Int)] = [:]
    var pc = 0
    while pc < program.code.count, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: program.code[pc])) {
        var row = instructions[op] ?? (0, 0, 0)
        row.count += 1
        row.codeWords += op.length
        if op.info.operands.first == .switchTable, pc + 1 < program.code.count {
            row.tableWords += SwitchTable.words(program.tables, at: Int(program.code[pc + 1]))
        }
        instructions[op] = row
        pc += op.length
    }
    for op in Opcode.allCases {
        guard let row = instructions[op] else { continue }
        lines.append(
            "footprint: \(op.info.mnemonic): \(row.count) instructions, code \(perTarget(row.codeWords * 4)) B/TT, "
                + "tables \(perTarget(row.tableWords * 4)) B/TT")
    }
    return lines.joined(separator: "\n")
}

/// A duration in milliseconds with one decimal, right-aligned: `  1234.5`.
private func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let tenths = seconds * 10_000 + attoseconds / 100_000_000_000_000
    let text = "\(tenths / 10).\(tenths % 10)"
    return String(repeating: " ", count: max(0, 8 - text.count)) + text
}

/// `1 error`, `2 errors`.
private func counted(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}
