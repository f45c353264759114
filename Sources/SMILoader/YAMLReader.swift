import CYAML
import SMIModel

/// Reads YAML streams (one or more documents) into ``DocumentNode`` trees through libyaml's event API.
///
/// Plain scalars resolve by the YAML 1.2 core schema; quoted and block scalars are strings.
/// Anchors and aliases are resolved, with ``LoaderLimits/maxAliasExpansions`` bounding how many
/// nodes aliases may add, so a "billion laughs" input stops with an error instead of exhausting
/// memory. Every problem is a ``SMIModel/Diagnostic``; nothing traps on bad input.
public enum YAMLReader {
    /// Parses every document of a YAML stream.
    ///
    /// - Parameters:
    ///   - bytes: the stream (UTF-8, or UTF-16 with a byte order mark).
    ///   - file: the name used in locations.
    ///   - limits: depth, size and alias bounds.
    /// - Returns: the documents parsed completely, in order (an empty document is a null scalar),
    ///   and the problems found: `syntax` errors carry libyaml's problem text and position,
    ///   `duplicate-key` errors point at the second key, `limit-exceeded` errors name the limit.
    ///   After a syntax error or an exceeded limit, the rest of the stream is not read.
    public static func parseDocuments(
        _ bytes: [UInt8],
        file: String,
        limits: LoaderLimits = LoaderLimits()
    ) -> ([DocumentNode], [Diagnostic]) {
        if bytes.count > limits.maxDocumentBytes {
            let message =
                "the input is \(bytes.count) bytes, more than the limit of \(limits.maxDocumentBytes) bytes"
            return (
                [], [Diagnostic(.error, .limitExceeded, message, at: SourceLocation(file: file, line: 1, column: 1))]
            )
        }
        var builder = YAMLTreeBuilder(file: file, limits: limits)
        bytes.withUnsafeBufferPointer { buffer in
            builder.run(buffer)
        }
        return (builder.documents, builder.diagnostics)
    }
}

/// The state of one YAML parse: a stack of open collections, the anchors of the current document,
/// and the diagnostics so far.
private struct YAMLTreeBuilder {
    /// An open sequence or mapping. Kept as a struct and changed in place on the stack, so that
    /// appending stays amortized O(1) however long the collection grows.
    private struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var anchor: String?
        var items: [DocumentNode] = []
        var entries: [(key: DocumentNode, value: DocumentNode)] = []
        var pendingKey: DocumentNode?
        var seenKeys: [String: SourceLocation] = [:]
    }

    let file: String
    let limits: LoaderLimits
    var documents: [DocumentNode] = []
    var diagnostics: [Diagnostic] = []
    private var stack: [Frame] = []
    private var root: DocumentNode?
    private var anchors: [String: DocumentNode] = [:]
    private var aliasNodes = 0
    private var stopped = false

    init(file: String, limits: LoaderLimits) {
        self.file = file
        self.limits = limits
    }

    mutating func run(_ buffer: UnsafeBufferPointer<UInt8>) {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) != 0 else {
            diagnostics.append(
                Diagnostic(.error, .syntax, "cannot initialize the YAML parser", at: location(line: 0, column: 0))
            )
            return
        }
        defer { yaml_parser_delete(parser) }
        // An empty buffer may have a nil base address; libyaml needs a valid pointer.
        var empty: UInt8 = 0
        if let base = buffer.baseAddress {
            yaml_parser_set_input_string(parser, base, buffer.count)
        } else {
            yaml_parser_set_input_string(parser, &empty, 0)
        }

        var event = yaml_event_t()
        while !stopped {
            guard yaml_parser_parse(parser, &event) != 0 else {
                reportParserError(parser.pointee, buffer)
                return
            }
            let type = event.type
            handle(event)
            yaml_event_delete(&event)
            if type == YAML_STREAM_END_EVENT { break }
        }
    }

    private func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line + 1, column: column + 1)
    }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        location(line: Int(clamping: mark.line), column: Int(clamping: mark.column))
    }

    /// An error mark as a location inside the input: at the end of a stream that does not end
    /// with a line break, libyaml moves its mark to the start of a line after the last one (found
    /// by fuzzing: `a: [b` without a final newline was reported on line 2); such a mark is shown
    /// at the end of the input instead.
    private func location(_ mark: yaml_mark_t, in buffer: UnsafeBufferPointer<UInt8>) -> SourceLocation {
        let at = location(mark)
        let end = Self.endLocation(of: buffer, file: file)
        return (at.line, at.column) > (end.line, end.column) ? end : at
    }

    /// Where the input ends, counting lines as libyaml does (LF, CR, CR LF, NEL, LS and PS each end
    /// a line) and columns in Unicode scalars.
    static func endLocation(of buffer: UnsafeBufferPointer<UInt8>, file: String) -> SourceLocation {
        var line = 1
        var column = 1
        var i = 0
        let n = buffer.count
        while i < n {
            let byte = buffer[i]
            var lineBreak = byte == 0x0A
            if byte == 0x0D {
                lineBreak = true
                if i + 1 < n, buffer[i + 1] == 0x0A { i += 1 }
            } else if byte == 0xC2, i + 1 < n, buffer[i + 1] == 0x85 {
                lineBreak = true
                i += 1
            } else if byte == 0xE2, i + 2 < n, buffer[i + 1] == 0x80, buffer[i + 2] == 0xA8 || buffer[i + 2] == 0xA9 {
                lineBreak = true
                i += 2
            }
            if lineBreak {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    private mutating func handle(_ event: yaml_event_t) {
        let at = location(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors = [:]
            root = nil
            stack = []
        case YAML_DOCUMENT_END_EVENT:
            if let root { documents.append(root) }
            root = nil
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text: String
            if let value = data.value, data.length > 0 {
                text = String(decoding: UnsafeBufferPointer(start: value, count: data.length), as: UTF8.self)
            } else {
                text = ""
            }
            let tag = Self.string(data.tag)
            let quoted = data.style != YAML_PLAIN_SCALAR_STYLE || tag == "tag:yaml.org,2002:str" || tag == "!"
            let type: DocumentNode.ScalarType = quoted ? .string : CoreSchema.resolve(text)
            let node = DocumentNode(scalar: text, type: type, quoted: quoted, at: at)
            complete(node, anchor: Self.string(data.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard var node = anchors[name] else {
                fail(.syntax, "unknown anchor `\(name)`", at: at)
                return
            }
            aliasNodes = aliasNodes.addingClamped(node.nodeCount)
            if aliasNodes > limits.maxAliasExpansions {
                fail(
                    .limitExceeded,
                    "aliases expand to more than \(limits.maxAliasExpansions) nodes (limit maxAliasExpansions)",
                    at: at
                )
                return
            }
            node.location = at
            complete(node, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            guard checkDepth(at) else { return }
            stack.append(Frame(isMapping: false, location: at, anchor: Self.string(event.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            guard checkDepth(at) else { return }
            stack.append(Frame(isMapping: true, location: at, anchor: Self.string(event.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            if frame.isMapping {
                complete(DocumentNode(mapping: frame.entries, at: frame.location), anchor: frame.anchor)
            } else {
                complete(DocumentNode(sequence: frame.items, at: frame.location), anchor: frame.anchor)
            }
        default:
            break
        }
    }

    private mutating func checkDepth(_ at: SourceLocation) -> Bool {
        if stack.count >= limits.maxDepth {
            fail(.limitExceeded, "the document nests deeper than \(limits.maxDepth) levels (limit maxDepth)", at: at)
            return false
        }
        return true
    }

    private mutating func fail(_ code: DiagnosticCode, _ message: String, at: SourceLocation) {
        diagnostics.append(Diagnostic(.error, code, message, at: at))
        stopped = true
        stack = []
        root = nil
    }

    /// Hands a finished node to the innermost open collection (or makes it the document's root).
    private mutating func complete(_ node: DocumentNode, anchor: String?) {
        if let anchor { anchors[anchor] = node }
        let top = stack.count - 1
        guard top >= 0 else {
            root = node
            return
        }
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        if let key = stack[top].pendingKey {
            var value = node
            // An empty value (`spec:` and nothing) has no position of its own; use its key's.
            if value.kind == .scalar && value.scalarType == .null && value.text.isEmpty && !value.isQuoted {
                value.location = key.location
            }
            stack[top].entries.append((key: key, value: value))
            stack[top].pendingKey = nil
            return
        }
        if node.kind == .scalar {
            if let first = stack[top].seenKeys[node.text] {
                diagnostics.append(
                    Diagnostic(
                        .error,
                        .duplicateKey,
                        "duplicate key `\(node.text)`; it is first written at line \(first.line)",
                        at: node.location
                    )
                )
            } else {
                stack[top].seenKeys[node.text] = node.location
            }
        }
        stack[top].pendingKey = node
    }

    private mutating func reportParserError(_ parser: yaml_parser_t, _ buffer: UnsafeBufferPointer<UInt8>) {
        var message = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        if let context {
            let start = location(parser.context_mark, in: buffer)
            message += " (\(context) that starts at line \(start.line), column \(start.column))"
        }
        let at: SourceLocation
        switch parser.error {
        case YAML_READER_ERROR:
            at = Self.location(ofByte: Int(clamping: parser.problem_offset), in: buffer, file: file)
            if parser.problem_value >= 0 {
                message += " (byte 0x\(String(UInt8(truncatingIfNeeded: parser.problem_value), radix: 16)))"
            }
        case YAML_MEMORY_ERROR:
            at = location(line: 0, column: 0)
            message = "out of memory while parsing YAML"
        default:
            // A key without its `:` is only noticed on a later line; the key itself is the place to show.
            at =
                context == "while scanning a simple key"
                ? location(parser.context_mark, in: buffer) : location(parser.problem_mark, in: buffer)
        }
        diagnostics.append(Diagnostic(.error, .syntax, message, at: at))
        stack = []
        root = nil
    }

    /// The line and column (in Unicode scalars) of a byte offset, for errors libyaml reports as offsets.
    static func location(ofByte offset: Int, in buffer: UnsafeBufferPointer<UInt8>, file: String) -> SourceLocation {
        var line = 1
        var column = 1
        var index = 0
        let end = min(offset, buffer.count)
        while index < end {
            let byte = buffer[index]
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            index += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
