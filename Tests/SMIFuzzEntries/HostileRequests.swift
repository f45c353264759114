/// Request parts built from fuzz input: pieces known to break path and header handling (dot
/// segments, escaped and repeated slashes, backslashes, NUL, overlong UTF-8, CR/LF, odd case)
/// mixed with raw bytes.
public enum HostileRequests {
    /// Path pieces: the disguises of SEMANTICS.md §5 and the public authorization bypasses.
    static let pathPieces: [[UInt8]] =
        [
            "/", "//", "///", "/.", "/..", ".", "..", "%2e", "%2E", "%2e%2E", "%2f", "%2F", "%5c", "%5C", "\\", "%00",
            "%c0%af", "%e0%80%af", "%c0%ae", "%25", "%252e", "%41", "%61", "%7E", "%", "%4", "%zz", "?", "#", ";",
            ";jsessionid=1", "?x=/../admin", "#/../admin", " ", "%20", "%09", "\t", "\r\n", "admin", "Admin", "public",
            "api", "a", "metrics", "v1", "items", "42", "/public/", "/admin", "/%2e%2e/", "/a/../", "\u{E9}",
            "\u{FEFF}",
        ].map { Array($0.utf8) } + [
            [0], [0x7F], [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0x80],
        ]

    static let methods: [[UInt8]] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "get", "Get", "PROPFIND", "",
        "*", "GET ", "G\u{0}ET",
    ].map { Array($0.utf8) }

    static let headerNames: [[UInt8]] = [
        "user-agent", "User-Agent", "USER-AGENT", "x-debug", "X-Debug", "x-user", "X-USER", "authorized", "cookie", "",
        "x-debug\u{0}", "x-debug ", "x-debug\r\n", "\u{212A}ey",
    ].map { Array($0.utf8) }

    static let headerValues: [[UInt8]] = [
        "Firefox", "Mozilla/5.0 Firefox/120.0", "curl/8.4", "t", "true", "True", "abc", "", "admin", "42",
        "Firefox\r\nx-debug: abc", "a\u{0}b", "line\nbreak", "Firefox\r", " Firefox", "Firefox ",
    ].map { Array($0.utf8) }

    /// A request target of up to `pieces` pieces.
    public static func path(_ input: inout FuzzInput, pieces: Int = 12) -> [UInt8] {
        var out: [UInt8] = []
        let count = input.below(pieces + 1)
        for _ in 0..<count {
            switch input.below(8) {
            case 0: out += input.raw(upTo: 8)
            case 1:
                out += [UInt8](
                    repeating: input.pick([UInt8(ascii: "a"), UInt8(ascii: "/"), UInt8(ascii: ".")]),
                    count: input.below(300)
                )
            default: out += input.pick(pathPieces)
            }
        }
        // Now and then a huge one, to reach the length limit.
        if input.oneIn(64) { out += [UInt8](repeating: UInt8(ascii: "a"), count: 70_000) }
        return out
    }

    /// A method: a known token or raw bytes.
    public static func method(_ input: inout FuzzInput) -> [UInt8] {
        input.oneIn(8) ? input.raw(upTo: 10) : input.pick(methods)
    }

    /// A header list with repeats, odd case, CR/LF and NUL.
    public static func headers(_ input: inout FuzzInput) -> [(name: [UInt8], value: [UInt8])] {
        var count = input.below(6)
        if input.oneIn(32) { count = 1_000 + input.below(40) }  // around the default limit of 1024
        var out: [(name: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let name = input.oneIn(8) ? input.raw(upTo: 8) : input.pick(headerNames)
            let value = input.oneIn(6) ? input.raw(upTo: 16) : input.pick(headerValues)
            out.append((name, value))
        }
        return out
    }
}
