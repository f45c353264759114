import ArgumentParser
import SMIBytecode
import SMIEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `smi compile`: manifests to a policy bundle file.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a policy into a bundle file (docs/BUNDLE.md).",
        discussion: """
            Compiles the given files and folders together, as one policy, with the compile \
            options given, and writes the compiled bundle to --output. The same input and \
            options always give the same bytes. Warnings go to standard error; if the policy \
            does not compile, every diagnostic does, nothing is written and the exit status is 1. \
            Load a bundle with `smi eval --bundle FILE`, smi_policy_load_bundle_file() or \
            Policy.load(bundleAt:).

            Examples:
              smi compile policies/ -o policy.smib
              smi compile --full-path-match routes.yaml targets.yaml -o policy.smib
            """
    )

    @Argument(help: ArgumentHelp("YAML/JSON files, or folders read recursively.", valueName: "path"))
    var paths: [String]

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Where to write the bundle.", valueName: "file"))
    var output: String

    @OptionGroup(title: "Compile options")
    var flags: CompileFlags

    func run() throws {
        let policy = try PolicyArguments.compile(paths: paths, options: flags.policyOptions)
        let bytes = policy.bundle()
        do {
            try writeFile(output, bytes)
        } catch {
            StandardError.writeLine("smi: \(error)")
            throw ExitCode.failure
        }
    }

    /// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so a reader
    /// never sees half a bundle.
    private func writeFile(_ path: String, _ bytes: [UInt8]) throws(IOError) {
        let temporary = path + ".tmp\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .fromErrno("cannot write `\(temporary)`") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress.map { $0 + written }, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = IOError.fromErrno("cannot write `\(temporary)`")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += n
        }
        guard close(fd) == 0, rename(temporary, path) == 0 else {
            let error = IOError.fromErrno("cannot write `\(path)`")
            unlink(temporary)
            throw error
        }
    }
}

/// `smi info`: what a bundle holds, read without loading it.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a policy bundle without loading it.",
        discussion: """
            Prints the bundle's format version, producer, length, checksum, sections, counts \
            and options, and whether its program passes the verifier (regexes are not \
            compiled). Exit status 0 for a sound bundle; 1, with the reason on standard \
            error, for a file that is not a readable bundle or whose checksum, sections or \
            program are bad.

            Example:
              smi info policy.smib
            """
    )

    @Argument(help: ArgumentHelp("The bundle file.", valueName: "file"))
    var path: String

    func run() throws {
        let bytes: [UInt8]
        switch Policy.readBundleFile(path) {
        case .success(let b): bytes = b
        case .failure(let error):
            StandardError.write(error.diagnostics)
            throw ExitCode.failure
        }
        let info: BundleInfo
        do {
            info = try BundleReader.info(bytes)
        } catch {
            StandardError.writeLine("smi: \(path): \(error.code): \(error)")
            throw ExitCode.failure
        }
        var lines = [
            "bundle: \(path)",
            "format version: \(info.formatVersion)",
            "producer: \(info.producer.isEmpty ? "(none)" : info.producer)",
            "length: \(info.totalLength) bytes",
            "checksum: \(hex(info.storedChecksum)) "
                + (info.checksumOK ? "(ok)" : "(MISMATCH: computed \(hex(info.computedChecksum)))"),
        ]
        if !info.sections.isEmpty {
            lines.append("sections:")
            for s in info.sections {
                let name = s.kind.description
                let pad = String(repeating: " ", count: max(1, 17 - name.count))
                lines.append("  \(name)\(pad)offset \(s.offset), \(s.length) bytes")
            }
        }
        if let p = info.program {
            lines.append(
                "counts: \(p.strings.count) strings, \(p.names.count) names, \(p.methods.count) methods, "
                    + "\(p.grants.count) grants, \(p.routeSets.count) route sets, \(p.splitConditions.count) split conditions, "
                    + "\(p.code.count) code words, \(p.tables.count) table words, \(p.annotations.count) annotations")
            let o = p.options
            lines.append(
                "options: fullPathMatch=\(o.fullPathMatch) normalization=\(hex(o.normalization.rawValue)) "
                    + "matchLimit=\(o.matchLimit) depthLimit=\(o.depthLimit) trustDomain=\(o.trustDomain ?? "*")")
            lines.append("entries: access \(p.accessEntry), split \(p.splitEntry)")
            lines.append("program: " + (info.verification.map { "REFUSED by the verifier: \($0)" } ?? "verified"))
        }
        print(lines.joined(separator: "\n"))
        if let problem = info.problem {
            StandardError.writeLine("smi: \(path): \(problem.code): \(problem)")
            throw ExitCode.failure
        }
        if let v = info.verification {
            StandardError.writeLine("smi: \(path): bundle-invalid-program: \(v)")
            throw ExitCode.failure
        }
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
