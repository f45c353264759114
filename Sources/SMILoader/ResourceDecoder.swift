import SMIModel

/// Decodes one SMI object: collects its diagnostics (all of them, not only the first) and offers
/// the typed reads every kind shares. A resource with any error is left out of the model.
struct ResourceDecoder {
    /// The declared version.
    let version: APIVersion
    /// The kind.
    let kind: ResourceKind
    /// The limits of this load.
    let limits: LoaderLimits
    /// The resource, once its name is known; diagnostics carry it.
    var resource: ResourceID?
    /// Everything reported so far.
    var diagnostics: [Diagnostic] = []
    /// Whether an error was reported.
    var hasErrors = false

    init(version: APIVersion, kind: ResourceKind, limits: LoaderLimits) {
        self.version = version
        self.kind = kind
        self.limits = limits
    }

    /// `group/v1alphaN`, for messages.
    var versionText: String { version.description }

    // MARK: Reporting

    mutating func error(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, field: String?) {
        hasErrors = true
        diagnostics.append(Diagnostic(.error, code, message, at: location, resource: resource, field: field))
    }

    mutating func warning(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, field: String?) {
        diagnostics.append(Diagnostic(.warning, code, message, at: location, resource: resource, field: field))
    }

    // MARK: Field paths

    /// `path.key`, or `key` at the top level.
    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// `path[index]`.
    static func index(_ path: String, _ index: Int) -> String {
        "\(path)[\(index)]"
    }

    // MARK: Keys

    /// Checks a mapping's keys: `allowed` keys pass; `misplaced` keys (fields of another version
    /// of this kind, for which `misplaced` returns a message) are `field-wrong-version` errors
    /// with that message; others are `unknown-field` warnings, with the hint `hints` returns, if any.
    /// Messages are only built for keys that need them.
    mutating func checkKeys(
        _ mapping: DocumentNode,
        path: String,
        allowed: [StaticString],
        misplaced: (String) -> String? = { _ in nil },
        hints: (String) -> String? = { _ in nil }
    ) {
        for entry in mapping.entries {
            let key = entry.key
            guard key.kind == .scalar else {
                warning(
                    .unknownField, "a key that is \(key.typeDescription) is ignored", at: key.location,
                    field: path.isEmpty ? nil : path)
                continue
            }
            if allowed.contains(where: { key.isScalar(equalTo: $0) }) { continue }
            let name = key.text
            let field = Self.join(path, name)
            if let message = misplaced(name) {
                error(.fieldWrongVersion, message, at: key.location, field: field)
            } else if let hint = hints(name) {
                warning(.unknownField, "unknown field `\(name)` is ignored; \(hint)", at: key.location, field: field)
            } else {
                warning(.unknownField, "unknown field `\(name)` is ignored", at: key.location, field: field)
            }
        }
    }

    // MARK: Typed reads

    /// `found a string `x``, `found an integer `1``, `found a mapping`: the tail of a wrong-type message.
    static func found(_ node: DocumentNode) -> String {
        if node.kind == .scalar && node.scalarType != .null {
            return "found \(node.typeDescription) `\(node.text)`"
        }
        return "found \(node.typeDescription)"
    }

    // The typed reads take the field path as an autoclosure: it is only needed for a diagnostic,
    // and building it for every value read was a large share of decoding.

    /// The node as a mapping; a `wrong-type` error (null included) otherwise.
    mutating func mapping(_ node: DocumentNode, field: @autoclosure () -> String) -> DocumentNode? {
        if node.kind == .mapping { return node }
        error(.wrongType, "expected a mapping, \(Self.found(node))", at: node.location, field: field())
        return nil
    }

    /// A sequence's items; nil (no diagnostic) for null, which means absent; a `wrong-type`
    /// error for anything else.
    mutating func list(_ node: DocumentNode, field: @autoclosure () -> String) -> DocumentNode.Items? {
        if node.kind == .sequence { return node.items }
        if node.isNull { return nil }
        error(.wrongType, "expected a list, \(Self.found(node))", at: node.location, field: field())
        return nil
    }

    /// A string scalar; a `wrong-type` error for anything else (numbers, booleans and null too).
    mutating func string(_ node: DocumentNode, field: @autoclosure () -> String) -> Located<String>? {
        if let text = node.string { return Located(text, at: node.location) }
        error(.wrongType, "expected a string, \(Self.found(node))", at: node.location, field: field())
        return nil
    }

    /// An optional string field: nil without a diagnostic when absent or null.
    mutating func optionalString(in mapping: DocumentNode, _ key: String, path: String) -> Located<String>? {
        guard let node = mapping[key], !node.isNull else { return nil }
        return string(node, field: Self.join(path, key))
    }

    /// A required string field: a `missing-field` error at the mapping when absent.
    mutating func requiredString(in mapping: DocumentNode, _ key: String, path: String) -> Located<String>? {
        guard let node = mapping[key] else {
            missing(key, in: mapping, path: path)
            return nil
        }
        return string(node, field: Self.join(path, key))
    }

    /// Reports a required field that is absent from `mapping`.
    mutating func missing(_ key: String, in mapping: DocumentNode, path: String) {
        let field = Self.join(path, key)
        error(.missingField, "`\(field)` is required", at: mapping.location, field: field)
    }

    /// A port: an integer 0...65535 or a numeric string such as `"9091"` (SEMANTICS.md §1 accepts
    /// numeric strings for every port, as the CRD schemas and old deislabs manifests do).
    mutating func port(_ node: DocumentNode, field: @autoclosure () -> String) -> Located<Int>? {
        var value: Int64?
        if node.kind == .scalar && node.scalarType == .int {
            value = node.int64
        } else if let text = node.string {
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let number = Int64(text)
            else {
                error(.invalidValue, "port `\(text)` is not a number", at: node.location, field: field())
                return nil
            }
            value = number
        } else {
            error(.wrongType, "expected a port number or a numeric string, \(Self.found(node))", at: node.location, field: field())
            return nil
        }
        guard let port = value, (0...65535).contains(port) else {
            error(.invalidValue, "port `\(node.text)` is out of range 0 to 65535", at: node.location, field: field())
            return nil
        }
        return Located(Int(port), at: node.location)
    }

    /// A regular expression string, checked against ``LoaderLimits/maxRegexLength``.
    mutating func regex(_ node: DocumentNode, field: @autoclosure () -> String) -> Located<String>? {
        guard let value = string(node, field: field()) else { return nil }
        let length = value.value.utf8.count
        if length > limits.maxRegexLength {
            error(
                .limitExceeded,
                "the regular expression is \(length) bytes long, more than the limit of \(limits.maxRegexLength) (limit maxRegexLength)",
                at: node.location,
                field: field()
            )
            return nil
        }
        return value
    }
}
