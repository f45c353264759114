import ArgumentParser
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
            """
    )

    @Argument(help: ArgumentHelp("YAML/JSON files, or folders read recursively.", valueName: "path"))
    var paths: [String]

    @OptionGroup(title: "Compile options")
    var flags: CompileFlags

    func run() throws {
        let diagnostics: [Diagnostic]
        do {
            diagnostics = try Policy.compile(paths: paths, options: flags.policyOptions, limits: flags.loaderLimits).diagnostics
        } catch {
            diagnostics = error.diagnostics
        }
        StandardError.write(diagnostics.sortedByLocation())
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count { $0.severity == .warning }
        StandardError.writeLine("\(counted(errors, "error")), \(counted(warnings, "warning"))")
        if errors > 0 { throw ExitCode.failure }
    }
}

/// `1 error`, `2 errors`.
private func counted(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}
