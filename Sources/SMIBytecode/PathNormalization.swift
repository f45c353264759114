/// The path normalization steps, each of which can be turned off.
public struct PathNormalization: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Cut the request target at the first `?` or `#`.
    public static let stripQuery = PathNormalization(rawValue: 1 << 0)
    /// Reject encoded slashes, backslashes, NUL, bad escapes, control characters, spaces,
    /// invalid UTF-8 and paths not starting with `/` (decision `path-rejected`).
    public static let rejectUnsafe = PathNormalization(rawValue: 1 << 1)
    /// Decode percent-escapes of unreserved characters, once.
    public static let decodeUnreserved = PathNormalization(rawValue: 1 << 2)
    /// Merge repeated slashes.
    public static let mergeSlashes = PathNormalization(rawValue: 1 << 3)
    /// Remove `.` and `..` segments.
    public static let removeDotSegments = PathNormalization(rawValue: 1 << 4)
    /// Every step.
    public static let all: PathNormalization = [.stripQuery, .rejectUnsafe, .decodeUnreserved, .mergeSlashes, .removeDotSegments]
}
