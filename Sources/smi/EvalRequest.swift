import SMIEngine

/// One request line of `smi eval`, decoded and checked as SEMANTICS.md §8 asks.
enum EvalRequest {
    case access(AccessRequest)
    case split(SplitRequest)

    /// A line that is not a valid request; the message is one lowercase line.
    struct Invalid: Error {
        var message: String
    }

    /// Decodes one line of JSON. Fields a request does not use are ignored; a field it uses
    /// must have its type even where it is optional (`"port": "80"` is refused).
    static func decode(_ line: [UInt8]) throws(Invalid) -> EvalRequest {
        let root: DocumentNode
        switch JSONReader.parse(line, file: "request") {
        case .success(let node): root = node
        case .failure(let diagnostic):
            let column = diagnostic.location.map { " at column \($0.column)" } ?? ""
            throw Invalid(message: "invalid JSON\(column): \(diagnostic.message)")
        }
        guard root.isMapping else {
            throw Invalid(message: "a request must be a JSON object, not \(describe(root))")
        }
        let fields = Fields(root)
        let type = try fields.string("type")
        switch type {
        case "access": return .access(try decodeAccess(fields))
        case "split": return .split(try decodeSplit(fields))
        default: throw Invalid(message: "unknown request type `\(type)`: use `access` or `split`")
        }
    }

    private static func decodeAccess(_ fields: Fields) throws(Invalid) -> AccessRequest {
        let source = try fields.string("source")
        let destination = try fields.string("destination")
        guard let port = try fields.port("port") else { throw Invalid(message: "`port` is missing") }
        let protocolName = try fields.string("protocol")
        guard let transport = TransportProtocol(rawValue: protocolName) else {
            throw Invalid(message: "`protocol` must be `http`, `tcp` or `udp`, not `\(protocolName)`")
        }
        // Method and path matter only for http, which needs both.
        let method = try fields.optionalString("method")
        let path = try fields.optionalString("path")
        if transport == .http {
            if method == nil { throw Invalid(message: "`method` is missing (an http request needs it)") }
            if path == nil { throw Invalid(message: "`path` is missing (an http request needs it)") }
        }
        return AccessRequest(
            source: source,
            destination: destination,
            port: port,
            transport: transport,
            method: method ?? "GET",
            path: path ?? "/",
            headers: try fields.headers()
        )
    }

    private static func decodeSplit(_ fields: Fields) throws(Invalid) -> SplitRequest {
        let service = try fields.string("service")
        guard let node = fields["entropy"] else { throw Invalid(message: "`entropy` is missing") }
        guard let entropy = node.uint64 else {
            throw Invalid(message: "`entropy` must be an integer from 0 to 2^64-1, not \(describe(node))")
        }
        return SplitRequest(
            service: service,
            entropy: entropy,
            method: try fields.optionalString("method"),
            path: try fields.optionalString("path"),
            headers: try fields.headers(),
            port: try fields.port("port")
        )
    }
}

/// The fields of a request object; an optional field given as `null` counts as absent.
private struct Fields {
    private let object: DocumentNode

    init(_ object: DocumentNode) { self.object = object }

    subscript(key: String) -> DocumentNode? {
        guard let node = object[key], !node.isNull else { return nil }
        return node
    }

    func string(_ key: String) throws(EvalRequest.Invalid) -> String {
        guard let value = try optionalString(key) else {
            throw EvalRequest.Invalid(message: "`\(key)` is missing")
        }
        return value
    }

    func optionalString(_ key: String) throws(EvalRequest.Invalid) -> String? {
        guard let node = self[key] else { return nil }
        guard let value = node.string else {
            throw EvalRequest.Invalid(message: "`\(key)` must be a string, not \(describe(node))")
        }
        return value
    }

    /// A port: a JSON integer from 0 to 65535 (`80`, never `80.0` or `"80"`).
    func port(_ key: String) throws(EvalRequest.Invalid) -> Int? {
        guard let node = self[key] else { return nil }
        guard let value = node.int64, (0...65535).contains(value) else {
            throw EvalRequest.Invalid(message: "`\(key)` must be an integer from 0 to 65535, not \(describe(node))")
        }
        return Int(value)
    }

    /// `headers`: an object of strings, folded by ``HeaderList``.
    func headers() throws(EvalRequest.Invalid) -> [HTTPHeader] {
        guard let node = self["headers"] else { return [] }
        guard node.isMapping else {
            throw EvalRequest.Invalid(message: "`headers` must be an object of strings, not \(describe(node))")
        }
        var headers = HeaderList()
        for (key, value) in node.entries {
            guard let text = value.string else {
                throw EvalRequest.Invalid(message: "header `\(key.text)` must be a string, not \(describe(value))")
            }
            headers.add(name: key.text, value: text)
        }
        return headers.headers
    }
}

/// A JSON value as an error message shows it: numbers, booleans and null as written, other
/// values by their type.
private func describe(_ node: DocumentNode) -> String {
    switch node.kind {
    case .mapping: return "an object"
    case .sequence: return "an array"
    case .scalar:
        switch node.scalarType {
        case .string: return "a string"
        case .null: return "null"
        case .bool, .int, .float: return "`\(node.text)`"
        }
    }
}
