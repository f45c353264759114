/// A position in an input file: 1-based line and column of the offending value.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The file name as the user gave it (or the buffer name for in-memory input).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, in Unicode scalars from the start of the line.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// A value together with where it was written.
public struct Located<Value: Sendable>: Sendable {
    /// The value.
    public var value: Value
    /// Where the value was written.
    public var location: SourceLocation

    /// Creates a located value.
    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// How serious a diagnostic is. Errors stop compilation; warnings and notes do not.
public enum Severity: String, Sendable, Hashable, Comparable {
    case error
    case warning
    case note

    private var rank: Int {
        switch self {
        case .error: return 0
        case .warning: return 1
        case .note: return 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// A stable, machine-readable name for a kind of diagnostic (`invalid-regex`, `unknown-field`).
///
/// Codes are strings so that new ones never break callers; the list is in `docs/DIAGNOSTICS.md`.
public struct DiagnosticCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code's spelling, lowercase and hyphenated.
    public var rawValue: String
    /// Creates a code from its spelling.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a code from its spelling.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// The spelling.
    public var description: String { rawValue }
}

extension DiagnosticCode {
    /// The input is not valid YAML or JSON.
    public static let syntax = DiagnosticCode("syntax")
    /// A file or folder could not be read.
    public static let io = DiagnosticCode("io")
    /// A field this version does not have, but another version of the kind does.
    public static let fieldWrongVersion = DiagnosticCode("field-wrong-version")
    /// A field no version of the kind has.
    public static let unknownField = DiagnosticCode("unknown-field")
    /// A value of the wrong type.
    public static let wrongType = DiagnosticCode("wrong-type")
    /// A required field is absent.
    public static let missingField = DiagnosticCode("missing-field")
    /// A value of the right type that is not allowed (a negative weight, a port out of range).
    public static let invalidValue = DiagnosticCode("invalid-value")
    /// A regular expression that PCRE2 rejects.
    public static let invalidRegex = DiagnosticCode("invalid-regex")
    /// A regular expression using features RE2-based meshes reject.
    public static let regexPortability = DiagnosticCode("regex-portability")
    /// A regex that can backtrack catastrophically (nested unbounded repetition such as `(a+)+`,
    /// or a repeated alternation whose branches overlap such as `(a|a)*`); the match budget
    /// stops it, and the request is then denied with `regex-budget-exceeded`.
    public static let regexCatastrophicBacktracking = DiagnosticCode("regex-catastrophic-backtracking")
    /// Two matches of one group share a name.
    public static let duplicateMatchName = DiagnosticCode("duplicate-match-name")
    /// A header named twice in one match.
    public static let duplicateHeader = DiagnosticCode("duplicate-header")
    /// A mapping with the same key twice.
    public static let duplicateKey = DiagnosticCode("duplicate-key")
    /// An object defined again (same kind, namespace and name); the later one is used.
    public static let redefined = DiagnosticCode("redefined")
    /// A rule or split names a route, group or match that does not exist.
    public static let missingReference = DiagnosticCode("missing-reference")
    /// A TrafficTarget that can grant nothing and is dropped.
    public static let droppedTarget = DiagnosticCode("dropped-target")
    /// A method outside the CRD's list.
    public static let unknownMethod = DiagnosticCode("unknown-method")
    /// A split whose service or backend lies in another namespace.
    public static let crossNamespace = DiagnosticCode("cross-namespace")
    /// A split that lists its root service as a backend.
    public static let selfBackend = DiagnosticCode("self-backend")
    /// A split that never applies because another one for the same root does.
    public static let shadowedSplit = DiagnosticCode("shadowed-split")
    /// An IdentityBinding subject, which matches no identity yet.
    public static let identityBinding = DiagnosticCode("identity-binding")
    /// An object that is not an SMI resource and was skipped.
    public static let skipped = DiagnosticCode("skipped")
    /// A limit of the loader was exceeded.
    public static let limitExceeded = DiagnosticCode("limit-exceeded")
}

/// One problem found in the input, with its location, the resource and the field.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// Error, warning or note.
    public var severity: Severity
    /// The stable code.
    public var code: DiagnosticCode
    /// One line, lowercase, no final period; user input in backticks.
    public var message: String
    /// Where the offending value is, when it is known.
    public var location: SourceLocation?
    /// The resource concerned, `HTTPRouteGroup default/x`, when there is one.
    public var resource: ResourceID?
    /// The field path concerned (`spec.matches[0].pathRegex`), when there is one.
    public var field: String?

    /// Creates a diagnostic.
    public init(
        _ severity: Severity,
        _ code: DiagnosticCode,
        _ message: String,
        at location: SourceLocation?,
        resource: ResourceID? = nil,
        field: String? = nil
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
        self.resource = resource
        self.field = field
    }

    /// The message with the resource and the field in front:
    /// `HTTPRouteGroup default/x: spec.matches[0].pathRegex: invalid regex ...`.
    public var fullMessage: String {
        var parts: [String] = []
        if let resource { parts.append(resource.description) }
        if let field { parts.append(field) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }

    /// `FILE:LINE:COLUMN: error: Kind ns/name: field: message`, the form compilers print.
    public var description: String {
        let place = location.map { "\($0): " } ?? ""
        return "\(place)\(severity.rawValue): \(fullMessage)"
    }
}

extension Array where Element == Diagnostic {
    /// Whether any diagnostic is an error.
    public var containsErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, line and column; diagnostics without a location come last, in their order.
    public func sortedByLocation() -> [Diagnostic] {
        enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (x?, y?): return x != y ? x < y : a.offset < b.offset
            case (.some, .none): return true
            case (.none, .some): return false
            case (.none, .none): return a.offset < b.offset
            }
        }.map(\.element)
    }
}
