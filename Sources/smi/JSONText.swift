/// Builds one JSON object on one line, fields in the order they are added.
struct JSONObjectText {
    private var text = "{"

    /// Adds a string field.
    mutating func add(_ key: String, _ value: String) {
        addKey(key)
        appendQuoted(value)
    }

    /// Adds a string field when `value` is not nil.
    mutating func add(_ key: String, _ value: String?) {
        if let value { add(key, value) }
    }

    /// Adds a boolean field.
    mutating func add(_ key: String, _ value: Bool) {
        addKey(key)
        text += value ? "true" : "false"
    }

    /// The object's text.
    var finished: String { text + "}" }

    private mutating func addKey(_ key: String) {
        if text.utf8.count > 1 { text += "," }
        appendQuoted(key)
        text += ":"
    }

    /// Appends `value` as a JSON string: quotes, backslashes and control characters escaped;
    /// everything else (valid UTF-8, as every Swift string is) as it is.
    private mutating func appendQuoted(_ value: String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
