import SMIModel

/// One node of a parsed YAML or JSON document: a scalar, a sequence or a mapping, with its position.
///
/// Scalars keep their source text, so numbers are read exactly (a 64-bit unsigned `entropy`
/// survives whole). `scalarType` says how the text resolves: JSON types for JSON input, the
/// YAML 1.2 core schema for plain YAML scalars; quoted and block scalars are always strings.
public struct DocumentNode: Sendable {
    /// The three shapes a node can have.
    public enum Kind: Sendable, Hashable {
        /// A single value: string, number, boolean or null.
        case scalar
        /// An ordered list of nodes.
        case sequence
        /// An ordered list of key/value pairs.
        case mapping
    }

    /// The type a scalar resolves to.
    public enum ScalarType: Sendable, Hashable {
        /// `null`, `~` or an empty plain scalar.
        case null
        /// `true` or `false`.
        case bool
        /// An integer (decimal; in YAML also `0x` hexadecimal and `0o` octal).
        case int
        /// A number with a fraction or exponent, `.inf` or `.nan`.
        case float
        /// Anything else, and every quoted or block scalar.
        case string
    }

    /// Scalar, sequence or mapping.
    public var kind: Kind
    /// Where the node starts (1-based line and column).
    public var location: SourceLocation
    /// A scalar's text, after unescaping; empty for collections.
    public var text: String
    /// Whether the scalar was quoted (or a YAML block scalar); a quoted scalar is always a string.
    public var isQuoted: Bool
    /// How a scalar resolves; `.null` for collections.
    public var scalarType: ScalarType
    /// A sequence's items, in order; empty for other kinds.
    public var items: [DocumentNode]
    /// A mapping's entries, in the order written; empty for other kinds.
    public var entries: [(key: DocumentNode, value: DocumentNode)]
    /// How many nodes this subtree holds (itself included); bounds alias expansion.
    var nodeCount: Int

    /// Creates a scalar node.
    public init(scalar text: String, type: ScalarType, quoted: Bool, at location: SourceLocation) {
        self.kind = .scalar
        self.location = location
        self.text = text
        self.isQuoted = quoted
        self.scalarType = type
        self.items = []
        self.entries = []
        self.nodeCount = 1
    }

    /// Creates a sequence node.
    public init(sequence items: [DocumentNode], at location: SourceLocation) {
        self.kind = .sequence
        self.location = location
        self.text = ""
        self.isQuoted = false
        self.scalarType = .null
        self.items = items
        self.entries = []
        var count = 1
        for item in items { count = count.addingClamped(item.nodeCount) }
        self.nodeCount = count
    }

    /// Creates a mapping node.
    public init(mapping entries: [(key: DocumentNode, value: DocumentNode)], at location: SourceLocation) {
        self.kind = .mapping
        self.location = location
        self.text = ""
        self.isQuoted = false
        self.scalarType = .null
        self.items = []
        self.entries = entries
        var count = 1
        for entry in entries {
            count = count.addingClamped(entry.key.nodeCount).addingClamped(entry.value.nodeCount)
        }
        self.nodeCount = count
    }
}

extension DocumentNode {
    /// Whether the node is a scalar.
    public var isScalar: Bool { kind == .scalar }
    /// Whether the node is a mapping.
    public var isMapping: Bool { kind == .mapping }
    /// Whether the node is a sequence.
    public var isSequence: Bool { kind == .sequence }
    /// Whether the node is a null scalar (`null`, `~`, or nothing at all in YAML).
    public var isNull: Bool { kind == .scalar && scalarType == .null }

    /// The value of the first mapping entry whose key is the scalar `key`; nil if there is none
    /// or the node is not a mapping.
    public subscript(key: String) -> DocumentNode? {
        guard kind == .mapping else { return nil }
        for entry in entries where entry.key.kind == .scalar && entry.key.text == key {
            return entry.value
        }
        return nil
    }

    /// The first mapping entry whose key is the scalar `key`, key node included.
    public func entry(_ key: String) -> (key: DocumentNode, value: DocumentNode)? {
        guard kind == .mapping else { return nil }
        for entry in entries where entry.key.kind == .scalar && entry.key.text == key {
            return entry
        }
        return nil
    }

    /// The text of a string scalar; nil for any other node (numbers, booleans and null included).
    public var string: String? {
        kind == .scalar && scalarType == .string ? text : nil
    }

    /// The value of a boolean scalar.
    public var bool: Bool? {
        guard kind == .scalar, scalarType == .bool else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// The exact value of an integer scalar, if it fits in `Int64`.
    public var int64: Int64? {
        guard kind == .scalar, scalarType == .int else { return nil }
        guard let (negative, magnitude) = IntegerText.parse(text) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// The exact value of a non-negative integer scalar, if it fits in `UInt64`
    /// (`18446744073709551615` included; `-0` is 0).
    public var uint64: UInt64? {
        guard kind == .scalar, scalarType == .int else { return nil }
        guard let (negative, magnitude) = IntegerText.parse(text) else { return nil }
        if negative && magnitude != 0 { return nil }
        return magnitude
    }

    /// The value of an integer or float scalar as a `Double` (approximate for large integers).
    public var double: Double? {
        guard kind == .scalar else { return nil }
        switch scalarType {
        case .int:
            if let value = int64 { return Double(value) }
            return uint64.map(Double.init)
        case .float:
            switch text {
            case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return Double.infinity
            case "-.inf", "-.Inf", "-.INF": return -Double.infinity
            case ".nan", ".NaN", ".NAN": return Double.nan
            default: return Double(text)
            }
        default:
            return nil
        }
    }

    /// A short phrase naming the node's type for messages: `a string`, `an integer`, `a mapping`.
    public var typeDescription: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch scalarType {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            case .string: return "a string"
            }
        }
    }
}

extension Int {
    /// Addition that stops at `Int.max` instead of trapping.
    func addingClamped(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? Int.max : sum
    }
}

/// Exact parsing of integer scalar text: decimal with an optional sign, `0x` hex, `0o` octal.
enum IntegerText {
    /// The sign and magnitude, or nil if the text is not an integer or does not fit in 64 bits.
    static func parse(_ text: String) -> (negative: Bool, magnitude: UInt64)? {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var radix: UInt64 = 10
        if bytes.count > 2, bytes[bytes.startIndex] == UInt8(ascii: "0") {
            let marker = bytes[bytes.startIndex + 1]
            if marker == UInt8(ascii: "x") {
                radix = 16
                bytes = bytes.dropFirst(2)
            } else if marker == UInt8(ascii: "o") {
                radix = 8
                bytes = bytes.dropFirst(2)
            }
        }
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard let digit = digitValue(byte), digit < radix else { return nil }
            let (product, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = product.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = sum
        }
        return (negative, value)
    }

    private static func digitValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

/// YAML 1.2 core schema resolution of plain scalars.
enum CoreSchema {
    /// The type a plain (unquoted) scalar resolves to.
    static func resolve(_ text: String) -> DocumentNode.ScalarType {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "false", "False", "FALSE": return .bool
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
            ".nan", ".NaN", ".NAN":
            return .float
        default: break
        }
        let bytes = Array(text.utf8)
        if isInteger(bytes) { return .int }
        if isFloat(bytes) { return .float }
        return .string
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func isInteger(_ bytes: [UInt8]) -> Bool {
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            if bytes[1] == UInt8(ascii: "x") {
                return bytes.dropFirst(2).allSatisfy {
                    isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46)
                }
            }
            if bytes[1] == UInt8(ascii: "o") {
                return bytes.dropFirst(2).allSatisfy { $0 >= 0x30 && $0 <= 0x37 }
            }
        }
        var digits = bytes[...]
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            digits = digits.dropFirst()
        }
        return !digits.isEmpty && digits.allSatisfy(isDigit)
    }

    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    private static func isFloat(_ bytes: [UInt8]) -> Bool {
        var i = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        var intDigits = 0
        while i < bytes.count, isDigit(bytes[i]) {
            i += 1
            intDigits += 1
        }
        var fracDigits = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, isDigit(bytes[i]) {
                i += 1
                fracDigits += 1
            }
        }
        if intDigits == 0 && fracDigits == 0 { return false }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            var expDigits = 0
            while i < bytes.count, isDigit(bytes[i]) {
                i += 1
                expDigits += 1
            }
            if expDigits == 0 { return false }
        }
        return i == bytes.count
    }
}
