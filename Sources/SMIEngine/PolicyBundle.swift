import SMIBytecode
import SMIRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension DiagnosticCode {
    /// A bundle's program fails verification (docs/BUNDLE.md, "Errors").
    public static let bundleInvalidProgram = DiagnosticCode("bundle-invalid-program")
    /// A pattern in a bundle does not compile.
    public static let bundleInvalidRegex = DiagnosticCode("bundle-invalid-regex")
}

extension Policy {
    /// The largest bundle ``load(bundleAt:maxBytes:)`` reads by default (256 MiB).
    public static let defaultMaxBundleBytes = 256 << 20

    /// The policy's compiled bundle (docs/BUNDLE.md): the same policy always gives the same bytes.
    public func bundle() -> [UInt8] { BundleWriter.encode(program) }

    /// Loads a policy from bundle bytes. The program is decoded (every offset and count checked),
    /// verified, and its regexes are compiled, exactly as for a policy compiled from manifests;
    /// a bundle that fails any step is refused and never runs.
    ///
    /// - Parameters:
    ///   - bytes: the bundle.
    ///   - name: what diagnostics call the bundle (a file name).
    /// - Throws: one error diagnostic whose code says why: a ``BundleError/code`` such as
    ///   `bundle-truncated` or `bundle-checksum-mismatch`, `bundle-invalid-program` when the
    ///   verifier refuses the program, `bundle-invalid-regex` when a pattern does not compile.
    public static func load(bundle bytes: UnsafeRawBufferPointer, name: String = "<bundle>") throws(PolicyCompileError) -> Policy {
        let at = SourceLocation(file: name, line: 1, column: 1)
        func refuse(_ code: DiagnosticCode, _ message: String) -> PolicyCompileError {
            PolicyCompileError(diagnostics: [Diagnostic(.error, code, message, at: at)])
        }
        let program: Program
        do {
            program = try BundleReader.decode(bytes)
        } catch {
            throw refuse(DiagnosticCode(error.code), error.description)
        }
        let executable: ExecutablePolicy
        do {
            executable = try ExecutablePolicy(program: program)
        } catch {
            switch error {
            case .verification(let e): throw refuse(.bundleInvalidProgram, "bundle program refused: \(e)")
            case .regex: throw refuse(.bundleInvalidRegex, "bundle \(error)")
            }
        }
        let o = program.options
        var options = PolicyOptions()
        options.fullPathMatch = o.fullPathMatch
        options.trustDomain = o.trustDomain
        options.normalization = o.normalization
        options.matchLimit = o.matchLimit
        options.depthLimit = o.depthLimit
        return Policy(program: program, executable: executable, normalized: nil, diagnostics: [], options: options)
    }

    /// Loads a policy from bundle bytes (as the buffer variant does).
    public static func load(bundle bytes: [UInt8], name: String = "<bundle>") throws(PolicyCompileError) -> Policy {
        let result: Result<Policy, PolicyCompileError> = bytes.withUnsafeBytes { raw in
            do throws(PolicyCompileError) { return .success(try load(bundle: raw, name: name)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Loads a policy from the bundle file at `path` (read with POSIX calls). A file that cannot
    /// be read is an `io` diagnostic, one larger than `maxBytes` a `limit-exceeded` one;
    /// otherwise as loading bundle bytes, with the path as the file.
    public static func load(bundleAt path: String, maxBytes: Int = defaultMaxBundleBytes) throws(PolicyCompileError) -> Policy {
        try load(bundle: readBundleFile(path, maxBytes: maxBytes).get(), name: path)
    }

    /// The bytes of the bundle file at `path`, or the error diagnostic saying why not.
    public static func readBundleFile(_ path: String, maxBytes: Int = defaultMaxBundleBytes) -> Result<[UInt8], PolicyCompileError> {
        let at = SourceLocation(file: path, line: 1, column: 1)
        func failure(_ code: DiagnosticCode, _ message: String) -> Result<[UInt8], PolicyCompileError> {
            .failure(PolicyCompileError(diagnostics: [Diagnostic(.error, code, message, at: at)]))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return failure(.io, "cannot read `\(path)`: \(errorText(errno))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return failure(.io, "cannot read `\(path)`: \(errorText(errno))")
            }
            if count == 0 { break }
            guard bytes.count + count <= maxBytes else {
                return failure(.limitExceeded, "`\(path)` is more than \(maxBytes) bytes long")
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return .success(bytes)
    }

    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text).lowercased()
    }
}
