import SMIModel

/// A strict RFC 8259 JSON reader producing ``DocumentNode`` trees with exact 1-based positions.
///
/// Numbers keep their source text (``DocumentNode/text``), so 64-bit integers are read exactly.
/// Strings are checked for valid UTF-8 and unescaped, `\u` surrogate pairs included; lone
/// surrogates, raw control characters, trailing commas, comments, leading zeros and trailing
/// content are errors. A leading UTF-8 byte order mark is skipped.
public enum JSONReader {
    /// Parses one JSON value, keeping a key repeated in one object.
    ///
    /// Both entries of a repeated key stay in order in ``DocumentNode/entries`` (so a request's
    /// header given twice can be joined), and ``DocumentNode/subscript(_:)`` finds the first.
    ///
    /// - Parameters:
    ///   - bytes: the UTF-8 text.
    ///   - file: the name used in locations.
    ///   - maxDepth: the deepest nesting of arrays and objects accepted.
    /// - Returns: the root node, or the first problem: a `syntax` error (too deep nesting is
    ///   `limit-exceeded`) at its line and column.
    public static func parse(_ bytes: [UInt8], file: String, maxDepth: Int = 128) -> Result<DocumentNode, Diagnostic> {
        parse(bytes, file: file, maxDepth: maxDepth, rejectingDuplicateKeys: false)
    }

    /// Parses one JSON value, choosing whether a key repeated in one object is an error.
    ///
    /// - Parameters:
    ///   - bytes: the UTF-8 text.
    ///   - file: the name used in locations.
    ///   - maxDepth: the deepest nesting of arrays and objects accepted.
    ///   - rejectingDuplicateKeys: when true, a repeated key is a `duplicate-key` error at the
    ///     second key; when false, both entries are kept.
    /// - Returns: the root node, or the first problem at its line and column.
    public static func parse(
        _ bytes: [UInt8],
        file: String,
        maxDepth: Int = 128,
        rejectingDuplicateKeys: Bool
    ) -> Result<DocumentNode, Diagnostic> {
        let (node, diagnostics) = parseCollecting(bytes, file: file, maxDepth: maxDepth)
        let fatal = diagnostics.first { rejectingDuplicateKeys || $0.code != .duplicateKey }
        if let fatal { return .failure(fatal) }
        guard let node else {
            return .failure(
                Diagnostic(.error, .syntax, "no JSON value", at: SourceLocation(file: file, line: 1, column: 1))
            )
        }
        return .success(node)
    }

    /// Parses one JSON value, reporting repeated keys without stopping: the node is nil only
    /// after a syntax error or an exceeded limit.
    static func parseCollecting(_ bytes: [UInt8], file: String, maxDepth: Int) -> (DocumentNode?, [Diagnostic]) {
        var parser = JSONParser(bytes: bytes, file: file, maxDepth: maxDepth)
        do {
            let index = try parser.parseDocument()
            return (DocumentNode(tree: parser.tree.finish(file: file), index: index), parser.duplicates)
        } catch {
            return (nil, parser.duplicates + [error])
        }
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    let file: String
    let maxDepth: Int
    var index = 0
    var line = 1
    var column = 1
    var duplicates: [Diagnostic] = []
    var tree = DocumentTreeBuilder()

    init(bytes: [UInt8], file: String, maxDepth: Int) {
        self.bytes = bytes
        self.file = file
        self.maxDepth = maxDepth
    }

    var here: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    func failure(_ message: String, at location: SourceLocation? = nil, code: DiagnosticCode = .syntax) -> Diagnostic {
        Diagnostic(.error, code, message, at: location ?? here)
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Moves past one byte, keeping the line and the column (in Unicode scalars) current.
    mutating func advance() {
        guard index < bytes.count else { return }
        let byte = bytes[index]
        index += 1
        if byte == 0x0A {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            column += 1
        }
    }

    mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            advance()
        }
    }

    mutating func parseDocument() throws(Diagnostic) -> Int {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            index = 3
        }
        skipWhitespace()
        let node = try parseValue(depth: 0)
        skipWhitespace()
        if peek != nil {
            throw failure("unexpected \(describeHere()) after the JSON value")
        }
        return node
    }

    func describeHere() -> String {
        guard let byte = peek else { return "end of input" }
        if byte >= 0x21 && byte < 0x7F {
            return "character `\(Character(Unicode.Scalar(byte)))`"
        }
        return "byte 0x\(String(byte, radix: 16))"
    }

    mutating func parseValue(depth: Int) throws(Diagnostic) -> Int {
        let (line, column) = (self.line, self.column)
        guard let byte = peek else { throw failure("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return try parseString(line: line, column: column)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case UInt8(ascii: "t"):
            return try literal("true", type: .bool, line: line, column: column)
        case UInt8(ascii: "f"):
            return try literal("false", type: .bool, line: line, column: column)
        case UInt8(ascii: "n"):
            return try literal("null", type: .null, line: line, column: column)
        default:
            throw failure("unexpected \(describeHere()), expected a value")
        }
    }

    /// Reads `true`, `false` or `null`; returns the scalar's index.
    mutating func literal(
        _ word: StaticString, type: DocumentNode.ScalarType, line: Int, column: Int
    ) throws(Diagnostic) -> Int {
        let start = here
        let textStart = tree.textEnd
        let count = word.utf8CodeUnitCount
        let base = word.utf8Start
        for offset in 0..<count {
            let byte = base[offset]
            guard peek == byte else {
                throw failure("invalid literal, expected `\(word)`", at: start)
            }
            tree.appendTextByte(byte)
            advance()
        }
        return tree.addScalar(fromTextAt: textStart, type: type, quoted: false, line: line, column: column)
    }

    mutating func checkDepth(_ depth: Int, _ start: SourceLocation) throws(Diagnostic) {
        if depth > maxDepth {
            throw failure(
                "the document nests deeper than \(maxDepth) levels (limit maxDepth)", at: start, code: .limitExceeded)
        }
    }

    mutating func parseObject(depth: Int) throws(Diagnostic) -> Int {
        let start = here
        try checkDepth(depth, start)
        advance()  // {
        let marker = tree.openCollection()
        var seen: [String: SourceLocation] = [:]
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            advance()
            return tree.closeCollection(from: marker, kind: .mapping, line: start.line, column: start.column)
        }
        while true {
            skipWhitespace()
            let keyStart = here
            guard peek == UInt8(ascii: "\"") else {
                throw failure("unexpected \(describeHere()), expected a string key")
            }
            let key = try parseString(line: keyStart.line, column: keyStart.column)
            let keyText = tree.text(of: key)
            if let first = seen[keyText] {
                duplicates.append(
                    failure(
                        "duplicate key `\(keyText)`; it is first written at line \(first.line)", at: keyStart,
                        code: .duplicateKey)
                )
            } else {
                seen[keyText] = keyStart
            }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else {
                throw failure("unexpected \(describeHere()), expected `:` after an object key")
            }
            advance()
            skipWhitespace()
            tree.appendChild(key)
            let value = try parseValue(depth: depth)
            tree.appendChild(value)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                advance()
            case UInt8(ascii: "}"):
                advance()
                return tree.closeCollection(from: marker, kind: .mapping, line: start.line, column: start.column)
            default:
                throw failure("unexpected \(describeHere()), expected `,` or `}`")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(Diagnostic) -> Int {
        let start = here
        try checkDepth(depth, start)
        advance()  // [
        let marker = tree.openCollection()
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            advance()
            return tree.closeCollection(from: marker, kind: .sequence, line: start.line, column: start.column)
        }
        while true {
            skipWhitespace()
            tree.appendChild(try parseValue(depth: depth))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                advance()
            case UInt8(ascii: "]"):
                advance()
                return tree.closeCollection(from: marker, kind: .sequence, line: start.line, column: start.column)
            default:
                throw failure("unexpected \(describeHere()), expected `,` or `]`")
            }
        }
    }

    static func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    mutating func parseNumber() throws(Diagnostic) -> Int {
        let start = here
        let first = index
        var isInteger = true
        if peek == UInt8(ascii: "-") { advance() }
        if peek == UInt8(ascii: "0") {
            advance()
            if Self.isDigit(peek) { throw failure("a number may not have a leading zero", at: start) }
        } else if Self.isDigit(peek) {
            while Self.isDigit(peek) { advance() }
        } else {
            throw failure("unexpected \(describeHere()), expected a digit")
        }
        if peek == UInt8(ascii: ".") {
            isInteger = false
            advance()
            guard Self.isDigit(peek) else { throw failure("unexpected \(describeHere()), expected a digit after `.`") }
            while Self.isDigit(peek) { advance() }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            isInteger = false
            advance()
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
            guard Self.isDigit(peek) else {
                throw failure("unexpected \(describeHere()), expected a digit in the exponent")
            }
            while Self.isDigit(peek) { advance() }
        }
        let type: DocumentNode.ScalarType = isInteger ? .int : .float
        return bytes.withUnsafeBufferPointer { buffer in
            tree.addScalar(
                UnsafeBufferPointer(rebasing: buffer[first..<index]), type: type, quoted: false, line: start.line,
                column: start.column)
        }
    }

    mutating func hexDigit() throws(Diagnostic) -> UInt32 {
        guard let byte = peek else { throw failure("unexpected end of input in a `\\u` escape") }
        let value: UInt32
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): value = UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): value = UInt32(byte - UInt8(ascii: "A") + 10)
        default: throw failure("invalid hexadecimal digit in a `\\u` escape")
        }
        advance()
        return value
    }

    mutating func hex4() throws(Diagnostic) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 4 | (try hexDigit()) }
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            tree.appendTextByte(UInt8(scalar))
        case 0x80..<0x800:
            tree.appendTextByte(UInt8(0xC0 | scalar >> 6))
            tree.appendTextByte(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            tree.appendTextByte(UInt8(0xE0 | scalar >> 12))
            tree.appendTextByte(UInt8(0x80 | scalar >> 6 & 0x3F))
            tree.appendTextByte(UInt8(0x80 | scalar & 0x3F))
        default:
            tree.appendTextByte(UInt8(0xF0 | scalar >> 18 & 0x07))
            tree.appendTextByte(UInt8(0x80 | scalar >> 12 & 0x3F))
            tree.appendTextByte(UInt8(0x80 | scalar >> 6 & 0x3F))
            tree.appendTextByte(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Reads a string starting at its opening quote (at `line`, `column`); returns the index of the
    /// scalar holding the unescaped text.
    mutating func parseString(line: Int, column: Int) throws(Diagnostic) -> Int {
        advance()  // "
        let textStart = tree.textEnd
        while true {
            guard let byte = peek else { throw failure("unexpected end of input in a string") }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                return tree.addScalar(fromTextAt: textStart, type: .string, quoted: true, line: line, column: column)
            case UInt8(ascii: "\\"):
                let escapeStart = here
                advance()
                guard let escape = peek else { throw failure("unexpected end of input in a string") }
                advance()
                switch escape {
                case UInt8(ascii: "\""): tree.appendTextByte(0x22)
                case UInt8(ascii: "\\"): tree.appendTextByte(0x5C)
                case UInt8(ascii: "/"): tree.appendTextByte(0x2F)
                case UInt8(ascii: "b"): tree.appendTextByte(0x08)
                case UInt8(ascii: "f"): tree.appendTextByte(0x0C)
                case UInt8(ascii: "n"): tree.appendTextByte(0x0A)
                case UInt8(ascii: "r"): tree.appendTextByte(0x0D)
                case UInt8(ascii: "t"): tree.appendTextByte(0x09)
                case UInt8(ascii: "u"):
                    let unit = try hex4()
                    if unit >= 0xD800 && unit < 0xDC00 {
                        guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u")
                        else {
                            throw failure(
                                "a high surrogate `\\u` escape must be followed by a low surrogate", at: escapeStart)
                        }
                        advance()
                        advance()
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else {
                            throw failure(
                                "a high surrogate `\\u` escape must be followed by a low surrogate", at: escapeStart)
                        }
                        appendUTF8(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    } else if unit >= 0xDC00 && unit < 0xE000 {
                        throw failure(
                            "a low surrogate `\\u` escape without a high surrogate before it", at: escapeStart)
                    } else {
                        appendUTF8(unit)
                    }
                default:
                    throw failure("invalid escape in a string", at: escapeStart)
                }
            case 0x00..<0x20:
                throw failure("a control character in a string must be escaped")
            case 0x20..<0x80:
                tree.appendTextByte(byte)
                advance()
            default:
                try copyUTF8Sequence()
            }
        }
    }

    /// Copies one multi-byte UTF-8 sequence, rejecting overlong forms, surrogates and values above U+10FFFF.
    mutating func copyUTF8Sequence() throws(Diagnostic) {
        let start = here
        let lead = bytes[index]
        let length: Int
        let minimum: UInt32
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF:
            length = 2
            minimum = 0x80
            scalar = UInt32(lead & 0x1F)
        case 0xE0...0xEF:
            length = 3
            minimum = 0x800
            scalar = UInt32(lead & 0x0F)
        case 0xF0...0xF4:
            length = 4
            minimum = 0x10000
            scalar = UInt32(lead & 0x07)
        default:
            throw failure("invalid UTF-8 in a string", at: start)
        }
        guard index + length <= bytes.count else { throw failure("invalid UTF-8 in a string", at: start) }
        for offset in 1..<length {
            let continuation = bytes[index + offset]
            guard continuation & 0xC0 == 0x80 else { throw failure("invalid UTF-8 in a string", at: start) }
            scalar = scalar << 6 | UInt32(continuation & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800..<0xE000).contains(scalar) else {
            throw failure("invalid UTF-8 in a string", at: start)
        }
        for _ in 0..<length {
            tree.appendTextByte(bytes[index])
            advance()
        }
    }
}
