/// The path normalization steps, each of which can be turned off.
public struct PathNormalization: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Cut the request target at the first `?` or `#`.
    @inlinable public static var stripQuery: PathNormalization { PathNormalization(rawValue: 1 << 0) }
    /// Reject encoded slashes, backslashes, NUL, bad escapes, control characters, spaces,
    /// invalid UTF-8 and paths not starting with `/` (decision `path-rejected`).
    @inlinable public static var rejectUnsafe: PathNormalization { PathNormalization(rawValue: 1 << 1) }
    /// Decode percent-escapes of unreserved characters, once.
    @inlinable public static var decodeUnreserved: PathNormalization { PathNormalization(rawValue: 1 << 2) }
    /// Merge repeated slashes.
    @inlinable public static var mergeSlashes: PathNormalization { PathNormalization(rawValue: 1 << 3) }
    /// Remove `.` and `..` segments.
    @inlinable public static var removeDotSegments: PathNormalization { PathNormalization(rawValue: 1 << 4) }
    /// Every step.
    @inlinable public static var all: PathNormalization { PathNormalization(rawValue: 0x1F) }
}
