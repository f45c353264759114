import SMIBytecode
import SMIRegex

/// A thread's working memory for decisions: PCRE2 match data, the normalized path and the
/// joined header values. Create one per thread (any policy may use it); never share one
/// between threads. After the first decisions no decision allocates.
public final class EvaluationScratch: RegexAlternativeChecker, @unchecked Sendable {
    // Scratch belongs to one thread, so the dynamic exclusivity checks Swift would run on each
    // access of these fields (about 150 instructions per decision) prove nothing: turned off.
    let regex: RegexScratch
    @exclusivity(unchecked) private(set) var limits: (match: UInt32, depth: UInt32)
    @exclusivity(unchecked) var path: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) var pathLength = 0
    @exclusivity(unchecked) var join: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) var joinLength = 0

    // The request being decided, read by `accepts` during a route-set match.
    @exclusivity(unchecked) unowned(unsafe) var currentSet: ExecutableRouteSet?
    @exclusivity(unchecked) var headers = UnsafeBufferPointer<RawHeader>(start: nil, count: 0)
    @exclusivity(unchecked) var methodIndex: UInt32 = ExecutablePolicy.unknownName

    /// Creates scratch; nil when memory is exhausted.
    public init?() {
        guard let regex = RegexScratch(matchLimit: 100_000, depthLimit: 10_000) else { return nil }
        self.regex = regex
        self.limits = (100_000, 10_000)
        path = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        join = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
    }

    deinit {
        path.deallocate()
        join.deallocate()
    }

    /// The normalized path of the last HTTP decision, when there was one.
    public var normalizedPath: String? {
        guard pathLength > 0 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: path[0..<pathLength]), as: UTF8.self)
    }

    /// The normalized path bytes of the last HTTP decision (empty when none), valid until the
    /// next decision with this scratch.
    package var normalizedPathBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: path.baseAddress, count: pathLength)
    }

    func useLimits(match: UInt32, depth: UInt32) {
        if limits.match != match || limits.depth != depth {
            regex.setLimits(match: match, depth: depth)
            limits = (match, depth)
        }
    }

    /// Makes `path` hold at least `count` bytes (grows rarely; the first long path allocates).
    @inline(__always)
    func reservePath(_ count: Int) {
        if count > path.count { growPath(count) }
    }

    @inline(never)
    private func growPath(_ count: Int) {
        path.deallocate()
        path = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, path.count * 2), alignment: 8)
    }

    private func reserveJoin(_ count: Int) {
        guard count > join.count else { return }
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, join.count * 2), alignment: 8)
        if joinLength > 0, let from = join.baseAddress, let to = bigger.baseAddress {
            to.copyMemory(from: from, byteCount: joinLength)
        }
        join.deallocate()
        join = bigger
    }

    // MARK: Route candidate checks (called from inside PCRE2 through the callout)

    public func check(alternative index: Int) -> RegexCheck {
        guard let set = currentSet, index < set.candidates.count else { return .reject }
        let candidate = set.candidates[index]
        if !candidate.methods.isEmpty && !candidate.methods.contains(methodIndex) { return .reject }
        // A definite failure of any header wins over a budget overrun of another.
        var verdict = RegexCheck.accept
        for test in candidate.headers {
            guard let value = headerValue(test.name) else { return .reject }
            switch test.regex.evaluate(value, validUTF8: false, scratch: regex) {
            case .match: continue
            case .noMatch: return .reject
            case .budgetExceeded: verdict = .unknown
            }
        }
        return verdict
    }

    /// The request's value for the lowercase `name`: one header as is, several joined with
    /// `, ` in their order; nil when absent or when the value holds NUL, CR or LF.
    func headerValue(_ name: [UInt8]) -> UnsafeRawBufferPointer? {
        var first: UnsafeRawBufferPointer?
        var count = 0
        for h in headers where equalsLowercase(h.name, name) {
            if count == 0 {
                first = h.value
            } else {
                if count == 1, let f = first {
                    joinLength = 0
                    append(f)
                }
                append(UnsafeRawBufferPointer(start: separatorText.utf8Start, count: 2))
                append(h.value)
            }
            count += 1
        }
        guard count > 0 else { return nil }
        let value = count == 1 ? (first ?? UnsafeRawBufferPointer(start: nil, count: 0)) : UnsafeRawBufferPointer(rebasing: join[0..<joinLength])
        for b in value where b == 0 || b == 0x0D || b == 0x0A { return nil }
        return value
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        reserveJoin(joinLength + bytes.count)
        if bytes.count > 0, let from = bytes.baseAddress, let to = join.baseAddress {
            (to + joinLength).copyMemory(from: from, byteCount: bytes.count)
        }
        joinLength += bytes.count
    }
}

private let separatorText: StaticString = ", "

@inline(__always)
func equalsLowercase(_ a: UnsafeRawBufferPointer, _ lower: [UInt8]) -> Bool {
    guard a.count == lower.count else { return false }
    for i in 0..<a.count {
        var c = a[i]
        if c >= 0x41 && c <= 0x5A { c |= 0x20 }
        if c != lower[i] { return false }
    }
    return true
}
