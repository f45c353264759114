import SMIBytecode
import SMIRegex

/// A route set ready to run: one ``RegexSet`` over the candidates' paths plus each candidate's
/// grant, methods and compiled header tests.
final class ExecutableRouteSet: @unchecked Sendable {
    struct HeaderTest {
        var name: [UInt8]
        var regex: Regex
    }

    struct Candidate {
        var grant: UInt32
        var methods: [UInt32]
        var headers: [HeaderTest]
    }

    let paths: RegexSet
    let candidates: [Candidate]

    init(paths: RegexSet, candidates: [Candidate]) {
        self.paths = paths
        self.candidates = candidates
    }
}

/// Why a program cannot be made executable.
public enum LoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The verifier refused the program.
    case verification(VerificationError)
    /// A pattern of the program does not compile.
    case regex(pattern: String, message: String)

    public var description: String {
        switch self {
        case .verification(let e): return e.description
        case .regex(let pattern, let message): return "pattern `\(pattern)` does not compile: \(message)"
        }
    }
}

/// The route sets of a program with their regexes compiled: the slow part of making a program
/// executable. It reads only strings and route sets, with bounds checks, so it may run on a
/// program that is still being verified (SMIEngine does so on a second thread); the result is
/// used only once verification has passed.
package struct CompiledRouteSets: @unchecked Sendable {
    let sets: [ExecutableRouteSet]
    /// PCRE2's compiled size of the distinct sets and single-pattern programs.
    let codeBytes: Int
    /// Their JIT code size.
    let jitBytes: Int

    /// Compiles every route set of `program`; throws the first pattern that does not compile.
    package init(_ program: Program) throws(LoadError) {
        let anchoring: RegexAnchoring = program.options.fullPathMatch ? .whole : .start
        var sets: [ExecutableRouteSet] = []
        // Route sets of different buckets often list the same patterns (the same group reached
        // from several sources or methods): they share one compiled RegexSet, and equal header
        // patterns share one Regex, which cuts regex memory and the cache lines a decision touches.
        var sharedSets: [[RegexAlternative]: RegexSet] = [:]
        // Single-pattern programs (a merged branch alone, unmergeable patterns, header
        // patterns) are shared across sets too: the same pattern in many lists compiles once.
        let singles = RegexCache()
        for set in program.routeSets {
            var alternatives: [RegexAlternative] = []
            var candidates: [ExecutableRouteSet.Candidate] = []
            for c in set.candidates {
                // No path condition: a pattern that matches every path, under fullPathMatch too.
                let pattern = c.path == noIndex ? "(?s:.*)" : (program.string(c.path) ?? "")
                alternatives.append(RegexAlternative(pattern: pattern, needsCheck: !c.methods.isEmpty || !c.headers.isEmpty))
                var tests: [ExecutableRouteSet.HeaderTest] = []
                for h in c.headers {
                    let source = program.string(h.pattern) ?? ""
                    let name = Array((program.string(h.name) ?? "").utf8)
                    do {
                        tests.append(.init(name: name, regex: try singles.regex(source, anchoring: .whole, jit: true)))
                    } catch {
                        throw .regex(pattern: source, message: error.message)
                    }
                }
                candidates.append(.init(grant: c.grant, methods: c.methods, headers: tests))
            }
            if let shared = sharedSets[alternatives] {
                sets.append(ExecutableRouteSet(paths: shared, candidates: candidates))
                continue
            }
            do {
                let paths = try RegexSet(alternatives, anchoring: anchoring, cache: singles)
                sharedSets[alternatives] = paths
                sets.append(ExecutableRouteSet(paths: paths, candidates: candidates))
            } catch {
                throw .regex(pattern: alternatives[error.alternative].pattern, message: error.error.message)
            }
        }
        self.sets = sets
        codeBytes = sharedSets.values.reduce(singles.codeSize) { $0 + $1.codeSize }
        jitBytes = sharedSets.values.reduce(singles.jitCodeSize) { $0 + $1.jitCodeSize }
    }
}

/// A verified program with its regexes compiled: immutable, shared by any number of threads.
/// Each thread brings its own ``EvaluationScratch``; a decision takes no lock.
public final class ExecutablePolicy: @unchecked Sendable {
    /// The name index of an identity or service the policy does not know.
    public static let unknownName: UInt32 = .max

    /// The program this policy runs.
    public let program: Program
    // The decision loop reads the words through a raw pointer: no array bounds or ownership work
    // per instruction. They are the program's instructions with each switch's table inline
    // (``DecisionLayout``), owned by this object (freed in deinit); the verifier has checked every
    // offset they were built from.
    let code: UnsafeMutableBufferPointer<UInt32>
    /// The memory behind `code` (huge pages for large policies).
    private let codeWords: PolicyWords
    let routeSets: UnsafeMutableBufferPointer<Unmanaged<ExecutableRouteSet>>
    private let routeSetStorage: [ExecutableRouteSet]
    /// What `MATCH_ROUTES` reads of each route set, one line per small set.
    let routeRecords: RouteRecords
    let accessEntry: Int
    let splitEntry: Int
    let matchLimit: UInt32
    let depthLimit: UInt32
    /// The method index of each of the nine standard methods (``StandardMethod`` order), so the
    /// usual methods need no hashing.
    let standardMethods: UnsafeMutableBufferPointer<UInt32>
    /// The path normalizer's byte classes, read here once instead of through a lazy global.
    let plainClassTable = plainClasses
    let names: NameIndex
    let methods: NameIndex
    let trustDomain: [UInt8]?
    let normalization: PathNormalization
    let validUTF8Paths: Bool
    /// PCRE2's compiled size (without JIT code) of every distinct path set and header pattern
    /// this policy holds: shared sets and single-pattern programs counted once.
    public let regexCodeBytes: Int
    /// PCRE2's JIT code size (PCRE2_INFO_JITSIZE) of the same regexes, counted the same way.
    public let regexJITBytes: Int

    /// Verifies `program` and compiles its regexes. A program that fails is never run.
    public convenience init(program: Program) throws(LoadError) {
        do {
            try Verifier.verify(program)
        } catch {
            throw .verification(error)
        }
        try self.init(verifiedProgram: program, routeSets: CompiledRouteSets(program))
    }

    /// Makes a program the verifier has accepted executable, with its route sets compiled by
    /// ``CompiledRouteSets/init(_:)`` from the same program. The decision words are laid out
    /// here (``DecisionLayout``), which reads operands the verifier has checked: never call this
    /// before verification has passed.
    package init(verifiedProgram program: Program, routeSets compiled: CompiledRouteSets) {
        self.program = program
        let sets = compiled.sets
        routeSetStorage = sets
        regexCodeBytes = compiled.codeBytes
        regexJITBytes = compiled.jitBytes
        let records = RouteRecords(sets)
        routeRecords = records
        let layout = DecisionLayout(program) { records.lines[Int($0)] }
        codeWords = PolicyWords(copying: layout.words)
        code = codeWords.buffer
        routeSets = .allocate(capacity: max(sets.count, 1))
        for (i, set) in sets.enumerated() { routeSets[i] = Unmanaged.passUnretained(set) }
        accessEntry = layout.accessEntry
        splitEntry = layout.splitEntry
        matchLimit = program.options.matchLimit
        depthLimit = program.options.depthLimit
        let methodIndex = NameIndex(program.methods.map { program.string($0) ?? "" })
        standardMethods = .allocate(capacity: StandardMethod.allCases.count)
        for m in StandardMethod.allCases {
            standardMethods[Int(m.rawValue)] = Array(m.spelling.utf8).withUnsafeBytes { methodIndex.lookup($0) }
        }
        names = NameIndex(program.names.map { program.string($0) ?? "" })
        methods = methodIndex
        trustDomain = program.options.trustDomain.map { Array($0.utf8) }
        normalization = program.options.normalization
        validUTF8Paths = program.options.normalization.contains(.rejectUnsafe)
    }

    deinit {
        codeWords.release()
        routeSets.deallocate()
        routeRecords.release()
        standardMethods.deallocate()
    }

    /// The method index of `method`, or ``unknownName``.
    @inline(__always)
    func methodIndex(_ method: UnsafeRawBufferPointer) -> UInt32 {
        if let standard = StandardMethod(method) { return standardMethods[Int(standard.rawValue)] }
        return methods.lookup(method)
    }

    // MARK: Identities

    /// The name index of `namespace/name` or `spiffe://<trust-domain>/ns/<ns>/sa/<name>`, or
    /// ``unknownName``. Proxies resolve a peer once per connection and reuse the index.
    public func resolveIdentity(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let prefix: StaticString = "spiffe://"
        let plen = prefix.utf8CodeUnitCount
        if bytes.count > plen, memoryEqual(bytes.baseAddress.unsafelyUnwrappedOrNull, UnsafeRawPointer(prefix.utf8Start), plen) {
            return resolveSPIFFE(UnsafeRawBufferPointer(rebasing: bytes[plen...]))
        }
        return names.lookup(bytes)
    }

    /// The name index of a service `namespace/name`, or ``unknownName``.
    public func resolveName(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        names.lookup(bytes)
    }

    private func resolveSPIFFE(_ rest: UnsafeRawBufferPointer) -> UInt32 {
        // <trust-domain>/ns/<namespace>/sa/<name>
        var slash = 0
        while slash < rest.count, rest[slash] != UInt8(ascii: "/") { slash += 1 }
        guard slash > 0, slash < rest.count else { return ExecutablePolicy.unknownName }
        if let domain = trustDomain {
            guard slash == domain.count else { return ExecutablePolicy.unknownName }
            for i in 0..<slash where rest[i] != domain[i] { return ExecutablePolicy.unknownName }
        }
        let path = UnsafeRawBufferPointer(rebasing: rest[(slash + 1)...])
        // Split into exactly four segments: ns, <namespace>, sa, <name>.
        var start = 0
        var parts = (0..<0, 0..<0, 0..<0, 0..<0)
        var k = 0
        for i in 0...path.count where i == path.count || path[i] == UInt8(ascii: "/") {
            let r = start..<i
            switch k {
            case 0: parts.0 = r
            case 1: parts.1 = r
            case 2: parts.2 = r
            case 3: parts.3 = r
            default: return ExecutablePolicy.unknownName
            }
            k += 1
            start = i + 1
        }
        guard k == 4, parts.1.count > 0, parts.3.count > 0,
            parts.0.count == 2, path[parts.0.lowerBound] == UInt8(ascii: "n"), path[parts.0.lowerBound + 1] == UInt8(ascii: "s"),
            parts.2.count == 2, path[parts.2.lowerBound] == UInt8(ascii: "s"), path[parts.2.lowerBound + 1] == UInt8(ascii: "a")
        else { return ExecutablePolicy.unknownName }
        return names.lookup(UnsafeRawBufferPointer(rebasing: path[parts.1]), slash: UnsafeRawBufferPointer(rebasing: path[parts.3]))
    }

    /// The string of name index `index` (`namespace/name`).
    public func name(_ index: UInt32) -> String? { program.name(index) }
}

extension Optional where Wrapped == UnsafeRawPointer {
    /// A pointer that is only dereferenced for non-empty buffers.
    var unsafelyUnwrappedOrNull: UnsafeRawPointer {
        self ?? UnsafeRawPointer(bitPattern: 1).unsafelyUnwrapped
    }
}
