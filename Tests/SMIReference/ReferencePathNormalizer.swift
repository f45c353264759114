import SMIEngine

// SEMANTICS.md §5, written from the text, step by step, on bytes. Each step can be turned off by
// the `normalization` compile option; by default all run, in this order.

extension Differential {
    package enum NormalizedPath: Equatable {
        /// Denied with `path-rejected` whatever the grants (§5).
        case rejected
        /// The path `pathRegex` sees and a decision reports.
        case path(String)
    }

    package static func normalize(_ target: String, steps: PathNormalization) -> NormalizedPath {
        var bytes = Array(target.utf8)

        // 1. Cut the request target at the first `?` or `#`: the rest is never checked.
        if steps.contains(.stripQuery), let cut = bytes.firstIndex(where: { $0 == ascii("?") || $0 == ascii("#") }) {
            bytes.removeSubrange(cut...)
        }

        // 2. Reject encoded slash/backslash/NUL, invalid or truncated escapes, raw backslash,
        //    control characters (below 0x20 or 0x7F), spaces, invalid UTF-8, or no leading `/`.
        //    Other escapes (`%09`, `%0A`, `%7F`, `%20`) are neither rejected nor decoded.
        if steps.contains(.rejectUnsafe) {
            if isUnsafe(bytes) { return .rejected }
        }

        // 3. Decode escapes of unreserved characters (A-Z a-z 0-9 - . _ ~), once; other escapes stay
        //    exactly as written (`%20`, `%252e`, and their hex case).
        if steps.contains(.decodeUnreserved) {
            var decoded: [UInt8] = []
            var i = 0
            while i < bytes.count {
                if bytes[i] == ascii("%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]),
                    let low = hexValue(bytes[i + 2])
                {
                    let value = high << 4 | low
                    decoded.append(contentsOf: isUnreserved(value) ? [value] : Array(bytes[i...(i + 2)]))
                    i += 3
                } else {
                    decoded.append(bytes[i])
                    i += 1
                }
            }
            bytes = decoded
        }

        // 4. Merge repeated slashes (before resolving dots, as nginx does: `/a//../b` is `/b`).
        if steps.contains(.mergeSlashes) {
            var merged: [UInt8] = []
            for byte in bytes where !(byte == ascii("/") && merged.last == ascii("/")) { merged.append(byte) }
            bytes = merged
        }

        // 5. Remove `.` and `..` segments: RFC 3986 §5.2.4, never above the root.
        if steps.contains(.removeDotSegments) {
            bytes = removeDotSegments(bytes)
        }

        return .path(String(decoding: bytes, as: UTF8.self))
    }

    private static func isUnsafe(_ bytes: [UInt8]) -> Bool {
        guard bytes.first == ascii("/") else { return true }
        guard String(validating: bytes, as: UTF8.self) != nil else { return true }
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == ascii("%") {
                guard i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) else {
                    return true  // invalid or truncated escape: `%zz`, `%4`
                }
                let value = high << 4 | low
                if value == ascii("/") || value == ascii("\\") || value == 0 { return true }  // %2F %5C %00
                i += 3
                continue
            }
            if byte == ascii("\\") || byte < 0x20 || byte == 0x7F || byte == ascii(" ") { return true }
            i += 1
        }
        return false
    }

    /// RFC 3986 §5.2.4 "Remove Dot Segments", rule by rule.
    package static func removeDotSegments(_ path: [UInt8]) -> [UInt8] {
        var input = path[...]
        var output: [UInt8] = []
        func starts(_ prefix: String) -> Bool { input.starts(with: prefix.utf8) }
        func equals(_ text: String) -> Bool { input.elementsEqual(text.utf8) }
        func removeLastSegment() {
            if let slash = output.lastIndex(of: ascii("/")) {
                output.removeSubrange(slash...)
            } else {
                output.removeAll()
            }
        }
        while !input.isEmpty {
            if starts("../") {
                input = input.dropFirst(3)  // A
            } else if starts("./") {
                input = input.dropFirst(2)  // A
            } else if starts("/./") {
                input = input.dropFirst(2)  // B: "/./" -> "/"
            } else if equals("/.") {
                input = [ascii("/")][...]  // B: "/." -> "/"
            } else if starts("/../") {
                input = input.dropFirst(3)  // C: "/../" -> "/"
                removeLastSegment()
            } else if equals("/..") {
                input = [ascii("/")][...]  // C: "/.." -> "/"
                removeLastSegment()
            } else if equals(".") || equals("..") {
                input = []  // D
            } else {
                // E: move the first segment (with its leading "/", if any) to the output.
                var end = input.startIndex
                if input[end] == ascii("/") { end += 1 }
                while end < input.endIndex, input[end] != ascii("/") { end += 1 }
                output.append(contentsOf: input[input.startIndex..<end])
                input = input[end...]
            }
        }
        return output
    }

    private static func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(character.value) }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "~")
        }
    }
}
