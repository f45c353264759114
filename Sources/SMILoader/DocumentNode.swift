import SMIModel

/// One node of a parsed YAML or JSON document: a scalar, a sequence or a mapping, with its position.
///
/// Scalars keep their source text, so numbers are read exactly (a 64-bit unsigned `entropy`
/// survives whole). `scalarType` says how the text resolves: JSON types for JSON input, the
/// YAML 1.2 core schema for plain YAML scalars; quoted and block scalars are always strings.
///
/// A node is a position in a ``DocumentTree``, the flat storage one parse fills (one array of
/// node records, one array of child indices, one buffer of scalar bytes), so copying a node is
/// one reference count and reading a document allocates per array, not per node.
public struct DocumentNode: Sendable {
    /// The three shapes a node can have.
    public enum Kind: UInt8, Sendable, Hashable {
        /// A single value: string, number, boolean or null.
        case scalar
        /// An ordered list of nodes.
        case sequence
        /// An ordered list of key/value pairs.
        case mapping
    }

    /// The type a scalar resolves to.
    public enum ScalarType: UInt8, Sendable, Hashable {
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

    /// The storage this node lives in.
    let tree: DocumentTree
    /// The node's index in `tree.records`.
    let index: Int

    init(tree: DocumentTree, index: Int) {
        self.tree = tree
        self.index = index
    }

    private var record: DocumentTree.Record { tree.records[index] }

    /// Scalar, sequence or mapping.
    public var kind: Kind { record.kind }
    /// Where the node starts (1-based line and column).
    public var location: SourceLocation {
        let record = self.record
        return SourceLocation(file: tree.file, line: record.line, column: record.column)
    }
    /// A scalar's text, after unescaping; empty for collections.
    public var text: String { tree.text(of: index) }
    /// Whether the scalar was quoted (or a YAML block scalar); a quoted scalar is always a string.
    public var isQuoted: Bool { record.isQuoted }
    /// How a scalar resolves; `.null` for collections.
    public var scalarType: ScalarType { record.scalarType }
    /// A sequence's items, in order; empty for other kinds.
    public var items: Items {
        let record = self.record
        guard record.kind == .sequence else { return Items(tree: tree, start: 0, count: 0) }
        return Items(tree: tree, start: record.childStart, count: record.childCount)
    }
    /// A mapping's entries, in the order written; empty for other kinds.
    public var entries: Entries {
        let record = self.record
        guard record.kind == .mapping else { return Entries(tree: tree, start: 0, count: 0) }
        return Entries(tree: tree, start: record.childStart, count: record.childCount / 2)
    }
    /// How many nodes this subtree holds (itself included); bounds alias expansion.
    var nodeCount: Int { record.nodeCount }

    /// Creates a scalar node (in a storage of its own).
    public init(scalar text: String, type: ScalarType, quoted: Bool, at location: SourceLocation) {
        var builder = DocumentTreeBuilder()
        var text = text
        let index = text.withUTF8 { bytes in
            builder.addScalar(bytes, type: type, quoted: quoted, line: location.line, column: location.column)
        }
        self.init(tree: builder.finish(file: location.file), index: index)
    }

    /// Creates a sequence node, copying the items into a storage of its own (O(size of the items)).
    public init(sequence items: [DocumentNode], at location: SourceLocation) {
        var builder = DocumentTreeBuilder()
        let marker = builder.openCollection()
        for item in items { builder.appendChild(builder.copy(item)) }
        let index = builder.closeCollection(from: marker, kind: .sequence, line: location.line, column: location.column)
        self.init(tree: builder.finish(file: location.file), index: index)
    }

    /// Creates a mapping node, copying the entries into a storage of its own (O(size of the entries)).
    public init(mapping entries: [(key: DocumentNode, value: DocumentNode)], at location: SourceLocation) {
        var builder = DocumentTreeBuilder()
        let marker = builder.openCollection()
        for entry in entries {
            builder.appendChild(builder.copy(entry.key))
            builder.appendChild(builder.copy(entry.value))
        }
        let index = builder.closeCollection(from: marker, kind: .mapping, line: location.line, column: location.column)
        self.init(tree: builder.finish(file: location.file), index: index)
    }

    /// Whether the node is a scalar whose text is exactly `key` (as `String` compares: canonically
    /// equivalent Unicode counts as equal), without building a `String` for ASCII text.
    func isScalar(equalTo key: String) -> Bool {
        let record = self.record
        guard record.kind == .scalar else { return false }
        return tree.textEquals(index, key, keyIsASCII: isASCII(key))
    }

    /// Whether the node is a scalar whose text is exactly `key` (an ASCII literal).
    func isScalar(equalTo key: StaticString) -> Bool {
        let record = self.record
        guard record.kind == .scalar else { return false }
        return tree.textEquals(index, key)
    }

    /// A sequence's items: a view into the document, indexed from 0.
    public struct Items: RandomAccessCollection, Sendable {
        let tree: DocumentTree
        let start: Int
        public let count: Int

        /// The first position, 0.
        public var startIndex: Int { 0 }
        /// One past the last position, `count`.
        public var endIndex: Int { count }
        /// The item at `position`.
        public subscript(position: Int) -> DocumentNode {
            DocumentNode(tree: tree, index: Int(tree.children[start + position]))
        }

        /// No items.
        static let empty = Items(tree: DocumentTree.empty, start: 0, count: 0)
    }

    /// A mapping's entries: a view into the document, indexed from 0.
    public struct Entries: RandomAccessCollection, Sendable {
        let tree: DocumentTree
        let start: Int
        public let count: Int

        /// The first position, 0.
        public var startIndex: Int { 0 }
        /// One past the last position, `count`.
        public var endIndex: Int { count }
        /// The entry at `position`.
        public subscript(position: Int) -> (key: DocumentNode, value: DocumentNode) {
            let at = start + 2 * position
            return (
                key: DocumentNode(tree: tree, index: Int(tree.children[at])),
                value: DocumentNode(tree: tree, index: Int(tree.children[at + 1]))
            )
        }
    }
}

/// The flat storage of parsed documents: every node of one input, its children and its scalar bytes.
final class DocumentTree: Sendable {
    /// One node.
    struct Record {
        var kind: DocumentNode.Kind
        var scalarType: DocumentNode.ScalarType
        var isQuoted: Bool
        /// Whether the scalar text is all ASCII (so byte equality is `String` equality).
        var isASCII: Bool
        var line: Int
        var column: Int
        /// A scalar's text: `textCount` bytes of `text` from `textStart`.
        var textStart: Int
        var textCount: Int
        /// A collection's children: `childCount` indices in `children` from `childStart`
        /// (a mapping's keys and values alternate).
        var childStart: Int
        var childCount: Int
        var nodeCount: Int
    }

    let file: String
    let records: [Record]
    let children: [Int32]
    let textBytes: [UInt8]

    init(file: String, records: [Record], children: [Int32], textBytes: [UInt8]) {
        self.file = file
        self.records = records
        self.children = children
        self.textBytes = textBytes
    }

    static let empty = DocumentTree(file: "", records: [], children: [], textBytes: [])

    func text(of index: Int) -> String {
        let record = records[index]
        guard record.textCount > 0 else { return "" }
        return textBytes.withUnsafeBufferPointer { buffer in
            String(
                decoding: UnsafeBufferPointer(rebasing: buffer[record.textStart..<record.textStart + record.textCount]),
                as: UTF8.self)
        }
    }

    /// Whether scalar `index`'s text equals `key` as `String`s compare; `keyIsASCII` says
    /// whether every byte of `key` is ASCII (the caller checks once per lookup).
    func textEquals(_ index: Int, _ key: String, keyIsASCII: Bool) -> Bool {
        let record = records[index]
        let sameBytes = textBytes.withUnsafeBufferPointer { buffer -> Bool in
            let text = UnsafeBufferPointer(rebasing: buffer[record.textStart..<record.textStart + record.textCount])
            return key.utf8.withContiguousStorageIfAvailable { bytesEqual($0, text) }
                ?? key.utf8.elementsEqual(text)
        }
        if sameBytes { return true }
        // Different bytes can still be equal Strings when either side is not ASCII (canonical equivalence).
        if record.isASCII && keyIsASCII { return false }
        return text(of: index) == key
    }

    func textEquals(_ index: Int, _ key: StaticString) -> Bool {
        let record = records[index]
        if record.isASCII {
            guard record.textCount == key.utf8CodeUnitCount else { return false }
            return textBytes.withUnsafeBufferPointer { buffer in
                bytesEqual(
                    UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount),
                    UnsafeBufferPointer(rebasing: buffer[record.textStart..<record.textStart + record.textCount]))
            }
        }
        return text(of: index) == key.description
    }
}

/// Fills a ``DocumentTree`` bottom-up: scalars are added as they are read, a collection's
/// children are gathered on a shared stack and copied into place when the collection closes.
struct DocumentTreeBuilder {
    private(set) var records: [DocumentTree.Record] = []
    private var children: [Int32] = []
    private(set) var textBytes: [UInt8] = []
    /// The children of every open collection, innermost last.
    private(set) var pending: [Int32] = []

    init() {}

    /// Adds a scalar; returns its index.
    mutating func addScalar(
        _ bytes: UnsafeBufferPointer<UInt8>, type: DocumentNode.ScalarType, quoted: Bool, line: Int, column: Int
    ) -> Int {
        let start = textBytes.count
        textBytes.append(contentsOf: bytes)
        var isASCII = true
        for byte in bytes where byte >= 0x80 {
            isASCII = false
            break
        }
        return addScalarRecord(
            textStart: start, textCount: bytes.count, isASCII: isASCII, type: type, quoted: quoted, line: line,
            column: column)
    }

    /// Starts a scalar whose bytes the caller appends with ``appendTextByte(_:)``; returns where they start.
    var textEnd: Int { textBytes.count }

    /// Appends one byte of the scalar being read.
    mutating func appendTextByte(_ byte: UInt8) { textBytes.append(byte) }

    /// Adds a scalar whose bytes were appended since `textStart`; returns its index.
    mutating func addScalar(
        fromTextAt textStart: Int, type: DocumentNode.ScalarType, quoted: Bool, line: Int, column: Int
    ) -> Int {
        var isASCII = true
        for index in textStart..<textBytes.count where textBytes[index] >= 0x80 {
            isASCII = false
            break
        }
        return addScalarRecord(
            textStart: textStart, textCount: textBytes.count - textStart, isASCII: isASCII, type: type, quoted: quoted,
            line: line, column: column)
    }

    private mutating func addScalarRecord(
        textStart: Int, textCount: Int, isASCII: Bool, type: DocumentNode.ScalarType, quoted: Bool, line: Int,
        column: Int
    ) -> Int {
        records.append(
            DocumentTree.Record(
                kind: .scalar, scalarType: type, isQuoted: quoted, isASCII: isASCII, line: line, column: column,
                textStart: textStart, textCount: textCount, childStart: 0, childCount: 0, nodeCount: 1)
        )
        return records.count - 1
    }

    /// Adds a copy of node `index` with another position (an alias); returns the copy's index.
    mutating func addCopy(of index: Int, line: Int, column: Int) -> Int {
        var record = records[index]
        record.line = line
        record.column = column
        records.append(record)
        return records.count - 1
    }

    /// Moves node `index` to another position.
    mutating func setPosition(of index: Int, line: Int, column: Int) {
        records[index].line = line
        records[index].column = column
    }

    /// The record of node `index`.
    func record(_ index: Int) -> DocumentTree.Record { records[index] }

    /// Whether the text of scalars `a` and `b` is equal as `String`s are.
    func textEquals(_ a: Int, _ b: Int) -> Bool {
        let (ra, rb) = (records[a], records[b])
        if ra.textCount == rb.textCount {
            let same = textBytes.withUnsafeBufferPointer { buffer in
                bytesEqual(
                    UnsafeBufferPointer(rebasing: buffer[ra.textStart..<ra.textStart + ra.textCount]),
                    UnsafeBufferPointer(rebasing: buffer[rb.textStart..<rb.textStart + rb.textCount]))
            }
            if same { return true }
        }
        if ra.isASCII && rb.isASCII { return false }
        return text(of: a) == text(of: b)
    }

    /// The text of scalar `index`.
    func text(of index: Int) -> String {
        let record = records[index]
        return textBytes.withUnsafeBufferPointer { buffer in
            String(
                decoding: UnsafeBufferPointer(rebasing: buffer[record.textStart..<record.textStart + record.textCount]),
                as: UTF8.self)
        }
    }

    /// Opens a collection; returns the marker to close it with.
    mutating func openCollection() -> Int { pending.count }

    /// Adds a child (for a mapping: a key, then its value) to the innermost open collection.
    mutating func appendChild(_ index: Int) { pending.append(Int32(truncatingIfNeeded: index)) }

    /// Drops every open collection (after an error).
    mutating func abandonCollections() { pending.removeAll(keepingCapacity: true) }

    /// Closes the collection opened at `marker`; returns its index.
    mutating func closeCollection(from marker: Int, kind: DocumentNode.Kind, line: Int, column: Int) -> Int {
        let childStart = children.count
        var count = 1
        for child in pending[marker...] {
            count = count.addingClamped(records[Int(child)].nodeCount)
        }
        children.append(contentsOf: pending[marker...])
        let childCount = pending.count - marker
        pending.removeSubrange(marker...)
        records.append(
            DocumentTree.Record(
                kind: kind, scalarType: .null, isQuoted: false, isASCII: true, line: line, column: column,
                textStart: 0, textCount: 0, childStart: childStart, childCount: childCount, nodeCount: count)
        )
        return records.count - 1
    }

    /// Copies a node of another tree, with its subtree; returns the copy's index.
    mutating func copy(_ node: DocumentNode) -> Int {
        let record = node.tree.records[node.index]
        switch record.kind {
        case .scalar:
            return node.tree.textBytes.withUnsafeBufferPointer { buffer in
                addScalar(
                    UnsafeBufferPointer(rebasing: buffer[record.textStart..<record.textStart + record.textCount]),
                    type: record.scalarType, quoted: record.isQuoted, line: record.line, column: record.column)
            }
        case .sequence, .mapping:
            let marker = openCollection()
            for offset in 0..<record.childCount {
                let child = DocumentNode(tree: node.tree, index: Int(node.tree.children[record.childStart + offset]))
                appendChild(copy(child))
            }
            return closeCollection(from: marker, kind: record.kind, line: record.line, column: record.column)
        }
    }

    /// The finished storage.
    func finish(file: String) -> DocumentTree {
        DocumentTree(file: file, records: records, children: children, textBytes: textBytes)
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
        guard let at = childPosition(ofKey: key) else { return nil }
        return DocumentNode(tree: tree, index: Int(tree.children[at + 1]))
    }

    /// The first mapping entry whose key is the scalar `key`, key node included.
    public func entry(_ key: String) -> (key: DocumentNode, value: DocumentNode)? {
        guard let at = childPosition(ofKey: key) else { return nil }
        return (
            key: DocumentNode(tree: tree, index: Int(tree.children[at])),
            value: DocumentNode(tree: tree, index: Int(tree.children[at + 1]))
        )
    }

    /// The position in `tree.children` of the first key that is the scalar `key`.
    private func childPosition(ofKey key: String) -> Int? {
        let record = self.record
        guard record.kind == .mapping else { return nil }
        let keyIsASCII = isASCII(key)
        var at = record.childStart
        let end = at + record.childCount
        while at < end {
            let keyIndex = Int(tree.children[at])
            if tree.records[keyIndex].kind == .scalar && tree.textEquals(keyIndex, key, keyIsASCII: keyIsASCII) {
                return at
            }
            at += 2
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
        var text = text
        return text.withUTF8 { resolve($0) }
    }

    /// The type a plain (unquoted) scalar, given as UTF-8, resolves to.
    static func resolve(_ bytes: UnsafeBufferPointer<UInt8>) -> DocumentNode.ScalarType {
        guard let first = bytes.first else { return .null }
        // Every non-string form starts with one of these bytes; most scalars are names and stop here.
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"),
            UInt8(ascii: "f"), UInt8(ascii: "F"):
            break
        default:
            return .string
        }
        if bytes.count <= 6, let type = literalType(bytes) { return type }
        if isInteger(bytes) { return .int }
        if isFloat(bytes) { return .float }
        return .string
    }

    private static let literals: [(text: [UInt8], type: DocumentNode.ScalarType)] = {
        var list: [(text: [UInt8], type: DocumentNode.ScalarType)] = []
        for text in ["", "~", "null", "Null", "NULL"] { list.append((Array(text.utf8), .null)) }
        for text in ["true", "True", "TRUE", "false", "False", "FALSE"] { list.append((Array(text.utf8), .bool)) }
        let floats = [
            ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
        ]
        for text in floats { list.append((Array(text.utf8), .float)) }
        return list
    }()

    /// The type of the null, boolean, infinity and not-a-number spellings (all ASCII, so bytes
    /// compare as the `String`s would).
    private static func literalType(_ bytes: UnsafeBufferPointer<UInt8>) -> DocumentNode.ScalarType? {
        for literal in literals
        where literal.text.count == bytes.count && literal.text.withUnsafeBufferPointer({ bytesEqual($0, bytes) }) {
            return literal.type
        }
        return nil
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func isInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
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
    private static func isFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
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

/// Whether two byte buffers hold the same bytes.
@inline(__always)
func bytesEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
    var i = 0
    while i < a.count {
        if pa[i] != pb[i] { return false }
        i += 1
    }
    return true
}

/// Whether every byte of `text` is ASCII.
func isASCII(_ text: String) -> Bool {
    text.utf8.withContiguousStorageIfAvailable { !$0.contains { $0 >= 0x80 } } ?? text.utf8.allSatisfy { $0 < 0x80 }
}
