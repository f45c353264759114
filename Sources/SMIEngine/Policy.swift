@_exported import SMIModel
@_exported import SMILoader
import SMIBytecode
import SMICompiler
import SMIRuntime
import Synchronization

private let nextPolicySerial = Atomic<UInt64>(0)

/// A policy that failed to compile: every diagnostic found (errors, warnings and notes).
public struct PolicyCompileError: Error, Sendable, CustomStringConvertible {
    /// All diagnostics, sorted by location.
    public var diagnostics: [Diagnostic]

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A compiled SMI policy: immutable, shared by any number of threads.
///
/// ```swift
/// let policy = try Policy.compile(paths: ["policies/"])
/// let scratch = policy.makeScratch()          // one per thread
/// let decision = policy.decide(AccessRequest(source: "default/web", destination: "default/api",
///                                            port: 8080, transport: .http, method: "GET", path: "/api/items"),
///                              scratch: scratch)
/// ```
public final class Policy: Sendable {
    /// Warnings and notes of the compilation.
    public let diagnostics: [Diagnostic]
    /// The compiled program.
    public let program: Program
    /// The normalized policy the program was compiled from (used to explain decisions), or nil
    /// for a policy loaded from a bundle, which carries the program only, or compiled without
    /// ``PolicyOptions/keepsSourceModel``.
    public let normalized: NormalizedPolicy?
    package let executable: ExecutablePolicy
    /// The options the policy was compiled with.
    public let options: PolicyOptions
    /// A number no other policy of this process carries (the C API's identity caches name
    /// their policy by it; an address could be reused after a free).
    package let serial: UInt64 = nextPolicySerial.add(1, ordering: .relaxed).newValue

    /// Whether the policy was loaded from a compiled bundle rather than compiled from manifests.
    public let isFromBundle: Bool

    /// The verifier's verdict or the executable program, from the two jobs of
    /// ``init(program:normalized:diagnostics:options:threads:)``.
    private enum ExecutableJob: Sendable {
        case verified(VerificationError?)
        case built(Result<CompiledRouteSets, LoadError>)
    }

    /// A policy around a program the compiler has just produced. The program is verified on a
    /// second thread while its regexes compile (`threads` as in ``LoaderLimits/threads``; 1 keeps
    /// both on the calling thread); a program that fails verification is refused as before,
    /// whatever the other job found, and only a verified program has its decision words laid out.
    private convenience init(program: Program, normalized: NormalizedPolicy, diagnostics: [Diagnostic], options: PolicyOptions, threads: Int) throws(PolicyCompileError) {
        var verification: VerificationError?
        var built: Result<CompiledRouteSets, LoadError>?
        OrderedWork.run(
            count: 2, threads: threads == 1 ? 1 : 2,
            work: { job -> ExecutableJob in
                if job == 0 {
                    do throws(VerificationError) {
                        try Verifier.verify(program)
                        return .verified(nil)
                    } catch {
                        return .verified(error)
                    }
                }
                do throws(LoadError) {
                    return .built(.success(try CompiledRouteSets(program)))
                } catch {
                    return .built(.failure(error))
                }
            },
            consume: { result in
                switch result {
                case .verified(let error): verification = error
                case .built(let result): built = result
                }
            })
        let refusal: LoadError?
        var executable: ExecutablePolicy?
        if let verification {
            refusal = .verification(verification)
        } else {
            switch built {
            case .success(let routeSets):
                executable = ExecutablePolicy(verifiedProgram: program, routeSets: routeSets)
                refusal = nil
            case .failure(let error): refusal = error
            case nil: refusal = nil
            }
        }
        guard let executable, refusal == nil else {
            let reason = refusal.map { "\($0)" } ?? "no executable program"
            throw PolicyCompileError(diagnostics: diagnostics + [
                Diagnostic(.error, DiagnosticCode("internal"), "the compiled program was refused: \(reason)", at: nil)
            ])
        }
        self.init(program: program, executable: executable, normalized: normalized, diagnostics: diagnostics, options: options)
    }

    /// A policy around an already verified executable program (a bundle load makes one
    /// with no normalized policy).
    init(program: Program, executable: ExecutablePolicy, normalized: NormalizedPolicy?, diagnostics: [Diagnostic], options: PolicyOptions) {
        self.executable = executable
        self.program = program
        self.isFromBundle = normalized == nil
        self.normalized = options.keepsSourceModel ? normalized : nil
        self.diagnostics = diagnostics
        self.options = options
    }

    // MARK: Compiling

    /// Compiles the manifests in `paths` (files, or folders read recursively for `.yaml`,
    /// `.yml` and `.json`).
    public static func compile(paths: [String], options: PolicyOptions = .init(), limits: LoaderLimits = .init()) throws(PolicyCompileError) -> Policy {
        var timings = PolicyTimings()
        return try compile(PolicyLoader.load(paths: paths, limits: limits), options: options, threads: limits.threads, timings: &timings)
    }

    /// Compiles the manifests in `paths` like ``compile(paths:options:limits:)``, and says in
    /// `timings` how long each phase took (filled in also when compiling fails).
    public static func compile(paths: [String], options: PolicyOptions = .init(), limits: LoaderLimits = .init(), timings: inout PolicyTimings) throws(PolicyCompileError) -> Policy {
        try compile(PolicyLoader.load(paths: paths, limits: limits), options: options, threads: limits.threads, timings: &timings)
    }

    /// Compiles in-memory manifests; each source's name is what diagnostics call the file.
    public static func compile(sources: [PolicySource], options: PolicyOptions = .init(), limits: LoaderLimits = .init()) throws(PolicyCompileError) -> Policy {
        var timings = PolicyTimings()
        return try compile(PolicyLoader.load(sources: sources, limits: limits), options: options, threads: limits.threads, timings: &timings)
    }

    /// Compiles one in-memory manifest text named `name`.
    public static func compile(text: String, name: String = "policy.yaml", options: PolicyOptions = .init()) throws(PolicyCompileError) -> Policy {
        try compile(sources: [PolicySource(name: name, text: text)], options: options)
    }

    /// `threads` is ``LoaderLimits/threads``: the compiler's threaded pass uses the same count.
    private static func compile(_ loaded: LoadResult, options: PolicyOptions, threads: Int, timings: inout PolicyTimings) throws(PolicyCompileError) -> Policy {
        timings.load = loaded.timings
        var compileOptions = options.compileOptions
        compileOptions.threads = threads
        var diagnostics = loaded.diagnostics
        if diagnostics.containsErrors {
            // Still run the compiler's checks (regexes, references) so every problem is reported.
            let output = Compiler.compile(loaded.model, options: compileOptions)
            timings.compile = output.timings
            diagnostics += output.diagnostics
            throw PolicyCompileError(diagnostics: diagnostics.sortedByLocation())
        }
        let output = Compiler.compile(loaded.model, options: compileOptions)
        timings.compile = output.timings
        diagnostics += output.diagnostics
        guard let program = output.program else {
            throw PolicyCompileError(diagnostics: diagnostics.sortedByLocation())
        }
        let start = ContinuousClock.now
        defer { timings.executable = start.duration(to: .now) }
        return try Policy(program: program, normalized: output.normalized, diagnostics: diagnostics.sortedByLocation(), options: options, threads: threads)
    }

    // MARK: Deciding

    /// Scratch for one thread's decisions (PCRE2 match data, path buffer). Never share one
    /// between threads; any policy may use it.
    public func makeScratch() -> DecisionScratch { DecisionScratch() }

    /// Whether `request` may pass, and why (SEMANTICS.md §3–§7).
    public func decide(_ request: AccessRequest, scratch: DecisionScratch) -> AccessDecision {
        guard let raw = scratch.raw else {
            return AccessDecision(allowed: false, reason: .noRouteMatched, trafficTarget: nil, ruleKind: nil, match: nil)
        }
        guard (0...65535).contains(request.port) else {
            return AccessDecision(allowed: false, reason: .portNotAllowed, trafficTarget: nil, ruleKind: nil, match: nil)
        }
        if request.transport == .http, exceedsLimits(headerCount: request.headers.count, target: request.path) {
            return AccessDecision(allowed: false, reason: .requestTooLarge, trafficTarget: nil, ruleKind: nil, match: nil)
        }
        // Locals, not the request, are captured below: capturing `request` in each nested closure
        // copied the whole struct (and retained its strings) at every level.
        var source = request.source
        var destination = request.destination
        var method = request.method
        var path = request.path
        let headers = request.headers
        let port = UInt32(request.port)
        let proto = request.transport.code
        let executable = self.executable
        let result: AccessResult = source.withUTF8 { source in
            destination.withUTF8 { destination in
                method.withUTF8 { method in
                    path.withUTF8 { path in
                        scratch.withHeaders(headers) { headers in
                            let query = AccessQuery(
                                source: executable.resolveIdentity(UnsafeRawBufferPointer(source)),
                                destination: executable.resolveIdentity(UnsafeRawBufferPointer(destination)),
                                port: port, proto: proto,
                                method: UnsafeRawBufferPointer(method), target: UnsafeRawBufferPointer(path),
                                headers: headers)
                            return executable.decide(query, scratch: raw)
                        }
                    }
                }
            }
        }
        return decision(result)
    }

    /// Convenience: decides with a temporary scratch (allocates; prefer a per-thread scratch).
    public func decide(_ request: AccessRequest) -> AccessDecision {
        decide(request, scratch: makeScratch())
    }

    /// The backend for a request to a root service (SEMANTICS.md §6).
    public func selectBackend(_ request: SplitRequest, scratch: DecisionScratch) -> SplitDecision {
        guard let raw = scratch.raw else { return SplitDecision(backend: request.service, trafficSplit: nil) }
        // Too large to match against: the root service, as when no split applies.
        if exceedsLimits(headerCount: request.headers.count, target: request.path) {
            return SplitDecision(backend: request.service, trafficSplit: nil)
        }
        // Locals, not the request, are captured below (see decide(_:scratch:)).
        let service = request.service
        let method = request.method
        let path = request.path
        let headers = request.headers
        let entropy = request.entropy
        let port = request.port.flatMap { (0...65535).contains($0) ? UInt32($0) : nil }
        let executable = self.executable
        let result: SplitResult = withBytes(service) { service in
            withOptionalBytes(method) { method in
                withOptionalBytes(path) { path in
                    scratch.withHeaders(headers) { headers in
                        let query = SplitQuery(
                            service: executable.resolveName(service), entropy: entropy,
                            method: method, target: path, headers: headers, port: port)
                        return executable.selectBackend(query, scratch: raw)
                    }
                }
            }
        }
        let backend = result.backend == noIndex ? request.service : (executable.name(result.backend) ?? request.service)
        return SplitDecision(backend: backend, trafficSplit: result.split == noIndex ? nil : executable.name(result.split))
    }

    /// Whether a request is over the options' header-count or target-length limit.
    @inline(__always)
    private func exceedsLimits(headerCount: Int, target: String?) -> Bool {
        headerCount > options.maxHeaders || (target?.utf8.count ?? 0) > options.maxTargetLength
    }

    /// How many grants the program has.
    package var grantCount: Int { program.grants.count }

    /// The TrafficTarget, rule kind and match of grant `index` (which must be below
    /// ``grantCount``), read from the program's strings when asked (a table of them would hold
    /// about 50 bytes per grant for the policy's lifetime).
    package func grantNames(_ index: Int) -> (trafficTarget: String, ruleKind: String, match: String?) {
        let g = program.grants[index]
        return (program.string(g.trafficTarget) ?? "", g.ruleKind.spelling, g.match == noIndex ? nil : program.string(g.match))
    }

    private func decision(_ r: AccessResult) -> AccessDecision {
        if r.allowed, Int(r.grant) < grantCount {
            let g = grantNames(Int(r.grant))
            return AccessDecision(allowed: true, reason: nil, trafficTarget: g.trafficTarget, ruleKind: g.ruleKind, match: g.match)
        }
        return AccessDecision(allowed: false, reason: DenyReason(r.allowed ? .noRouteMatched : r.reason), trafficTarget: nil, ruleKind: nil, match: nil)
    }

    // MARK: Inspecting

    /// The program as text: sections, then each instruction with the resource it came from.
    public func disassembly() -> String { Disassembler.disassemble(program) }
}

/// A thread's working memory for decisions. Create one per thread with
/// ``Policy/makeScratch()``; it works with any policy.
public final class DecisionScratch: @unchecked Sendable {
    package let raw: EvaluationScratch?
    /// This reader's hazard pointer for ``PolicyHolder``.
    let hazard = HazardSlot()
    private var headerArena: [UInt8] = []
    private var headerViews: [RawHeader] = []

    /// Creates scratch (``Policy/makeScratch()`` does the same).
    public init() { raw = EvaluationScratch() }

    /// The normalized path of the last HTTP decision made with this scratch.
    public var normalizedPath: String? { raw?.normalizedPath }

    /// Copies the headers into this scratch's arena and lends views of them to `body`.
    func withHeaders<R>(_ headers: [HTTPHeader], _ body: (UnsafeBufferPointer<RawHeader>) -> R) -> R {
        var total = 0
        for h in headers { total += h.name.utf8.count + h.value.utf8.count }
        if headerArena.count < total { headerArena = [UInt8](repeating: 0, count: max(total, headerArena.count * 2)) }
        if headerViews.count < headers.count {
            headerViews = [RawHeader](repeating: RawHeader(name: UnsafeRawBufferPointer(start: nil, count: 0), value: UnsafeRawBufferPointer(start: nil, count: 0)), count: max(headers.count, headerViews.count * 2))
        }
        return headerArena.withUnsafeMutableBytes { arena in
            headerViews.withUnsafeMutableBufferPointer { views in
                var at = 0
                func copy(_ s: String) -> UnsafeRawBufferPointer {
                    var n = 0
                    for b in s.utf8 {
                        arena[at + n] = b
                        n += 1
                    }
                    defer { at += n }
                    return UnsafeRawBufferPointer(rebasing: arena[at..<(at + n)])
                }
                for (i, h) in headers.enumerated() {
                    let name = copy(h.name)
                    let value = copy(h.value)
                    views[i] = RawHeader(name: name, value: value)
                }
                return body(UnsafeBufferPointer(rebasing: views[0..<headers.count]))
            }
        }
    }
}

@inline(__always)
func withBytes<R>(_ s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    var s = s
    return s.withUTF8 { body(UnsafeRawBufferPointer($0)) }
}

@inline(__always)
func withOptionalBytes<R>(_ s: String?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let s else { return body(nil) }
    return withBytes(s) { body($0) }
}

extension TransportProtocol {
    var code: ProtocolCode {
        switch self {
        case .http: return .http
        case .tcp: return .tcp
        case .udp: return .udp
        }
    }
}

extension DenyReason {
    init(_ code: DenyCode) {
        switch code {
        case .pathRejected: self = .pathRejected
        case .noTrafficTarget: self = .noTrafficTarget
        case .sourceNotAllowed: self = .sourceNotAllowed
        case .portNotAllowed: self = .portNotAllowed
        case .noRouteMatched: self = .noRouteMatched
        case .regexBudgetExceeded: self = .regexBudgetExceeded
        }
    }
}

extension PolicyOptions {
    var compileOptions: CompileOptions {
        var o = CompileOptions()
        o.fullPathMatch = fullPathMatch
        o.allowCrossNamespaceDestinations = allowCrossNamespaceDestinations
        o.trustDomain = trustDomain
        o.normalization = normalization
        o.matchLimit = matchLimit
        o.depthLimit = depthLimit
        o.annotations = annotations
        return o
    }
}
