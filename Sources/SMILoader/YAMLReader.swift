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
/// and the diagnostics so far. Nodes go into one ``DocumentTreeBuilder`` for the whole stream.
private struct YAMLTreeBuilder {
    /// An open sequence or mapping. Its children sit on the tree builder's pending stack from `marker`.
    private struct Frame {
        var isMapping: Bool
        var line: Int
        var column: Int
        var anchor: String?
        var marker: Int
        /// The key waiting for its value (already on the pending stack).
        var pendingKey: Int?
        /// Where each scalar key was first written, once the mapping is too long to search its keys.
        var seenKeys: [String: Int]?
    }

    /// Up to this many keys, a new key is checked against the earlier ones one by one.
    private static let keyScanLimit = 16

    let file: String
    let limits: LoaderLimits
    var tree = DocumentTreeBuilder()
    var roots: [Int] = []
    var diagnostics: [Diagnostic] = []
    private var stack: [Frame] = []
    private var root: Int?
    private var anchors: [String: Int] = [:]
    private var aliasNodes = 0
    private var stopped = false

    init(file: String, limits: LoaderLimits) {
        self.file = file
        self.limits = limits
    }

    /// The documents read completely, in order.
    var documents: [DocumentNode] {
        let storage = tree.finish(file: file)
        return roots.map { DocumentNode(tree: storage, index: $0) }
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
        let line = Int(clamping: event.start_mark.line) + 1
        let column = Int(clamping: event.start_mark.column) + 1
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors = [:]
            root = nil
            stack = []
            tree.abandonCollections()
        case YAML_DOCUMENT_END_EVENT:
            if let root { roots.append(root) }
            root = nil
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let bytes: UnsafeBufferPointer<UInt8>
            if let value = data.value, data.length > 0 {
                bytes = UnsafeBufferPointer(start: value, count: data.length)
            } else {
                bytes = UnsafeBufferPointer(start: nil, count: 0)
            }
            var quoted = data.style != YAML_PLAIN_SCALAR_STYLE
            if !quoted, let tag = Self.string(data.tag) {
                quoted = tag == "tag:yaml.org,2002:str" || tag == "!"
            }
            let type: DocumentNode.ScalarType = quoted ? .string : CoreSchema.resolve(bytes)
            let node = tree.addScalar(bytes, type: type, quoted: quoted, line: line, column: column)
            complete(node, anchor: Self.string(data.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                fail(.syntax, "unknown anchor `\(name)`", at: location(event.start_mark))
                return
            }
            aliasNodes = aliasNodes.addingClamped(tree.record(anchored).nodeCount)
            if aliasNodes > limits.maxAliasExpansions {
                fail(
                    .limitExceeded,
                    "aliases expand to more than \(limits.maxAliasExpansions) nodes (limit maxAliasExpansions)",
                    at: location(event.start_mark)
                )
                return
            }
            complete(tree.addCopy(of: anchored, line: line, column: column), anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            guard checkDepth(event.start_mark) else { return }
            stack.append(
                Frame(
                    isMapping: false, line: line, column: column,
                    anchor: Self.string(event.data.sequence_start.anchor), marker: tree.openCollection()))
        case YAML_MAPPING_START_EVENT:
            guard checkDepth(event.start_mark) else { return }
            stack.append(
                Frame(
                    isMapping: true, line: line, column: column,
                    anchor: Self.string(event.data.mapping_start.anchor), marker: tree.openCollection()))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let node = tree.closeCollection(
                from: frame.marker, kind: frame.isMapping ? .mapping : .sequence, line: frame.line,
                column: frame.column)
            complete(node, anchor: frame.anchor)
        default:
            break
        }
    }

    private mutating func checkDepth(_ mark: yaml_mark_t) -> Bool {
        if stack.count >= limits.maxDepth {
            fail(
                .limitExceeded, "the document nests deeper than \(limits.maxDepth) levels (limit maxDepth)",
                at: location(mark))
            return false
        }
        return true
    }

    private mutating func fail(_ code: DiagnosticCode, _ message: String, at: SourceLocation) {
        diagnostics.append(Diagnostic(.error, code, message, at: at))
        stopped = true
        stack = []
        tree.abandonCollections()
        root = nil
    }

    /// Hands a finished node to the innermost open collection (or makes it the document's root).
    private mutating func complete(_ node: Int, anchor: String?) {
        if let anchor { anchors[anchor] = node }
        let top = stack.count - 1
        guard top >= 0 else {
            root = node
            return
        }
        guard stack[top].isMapping else {
            tree.appendChild(node)
            return
        }
        if let key = stack[top].pendingKey {
            // An empty value (`spec:` and nothing) has no position of its own; use its key's.
            let value = tree.record(node)
            if value.kind == .scalar && value.scalarType == .null && value.textCount == 0 && !value.isQuoted {
                let keyRecord = tree.record(key)
                tree.setPosition(of: node, line: keyRecord.line, column: keyRecord.column)
            }
            tree.appendChild(node)
            stack[top].pendingKey = nil
            return
        }
        if tree.record(node).kind == .scalar {
            if let first = firstKey(equalTo: node, in: top) {
                let text = tree.text(of: node)
                let keyRecord = tree.record(node)
                diagnostics.append(
                    Diagnostic(
                        .error,
                        .duplicateKey,
                        "duplicate key `\(text)`; it is first written at line \(tree.record(first).line)",
                        at: location(line: keyRecord.line - 1, column: keyRecord.column - 1)
                    )
                )
            }
        }
        tree.appendChild(node)
        stack[top].pendingKey = node
    }

    /// The first scalar key of mapping frame `top` whose text equals scalar `key`'s; nil if `key`
    /// is the first. Records `key` as seen when it is.
    private mutating func firstKey(equalTo key: Int, in top: Int) -> Int? {
        let marker = stack[top].marker
        let keyCount = (tree.pending.count - marker) / 2
        if stack[top].seenKeys == nil && keyCount < Self.keyScanLimit {
            var at = marker
            while at < tree.pending.count {
                let earlier = Int(tree.pending[at])
                if tree.record(earlier).kind == .scalar && tree.textEquals(earlier, key) { return earlier }
                at += 2
            }
            return nil
        }
        if stack[top].seenKeys == nil {
            var seen: [String: Int] = [:]
            var at = marker
            while at < tree.pending.count {
                let earlier = Int(tree.pending[at])
                if tree.record(earlier).kind == .scalar {
                    let text = tree.text(of: earlier)
                    if seen[text] == nil { seen[text] = earlier }
                }
                at += 2
            }
            stack[top].seenKeys = seen
        }
        let text = tree.text(of: key)
        if let first = stack[top].seenKeys?[text] { return first }
        stack[top].seenKeys?[text] = key
        return nil
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
        tree.abandonCollections()
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
