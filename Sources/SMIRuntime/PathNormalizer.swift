import SMIBytecode

/// SEMANTICS.md §5: cut the query, reject unsafe paths, decode unreserved escapes, merge
/// slashes, remove dot segments; each step can be turned off. Works in a caller buffer, in
/// place, without allocating.
/// Byte classes of the fast path: 0 plain (unreserved or a sub-delimiter, `:` or `@`),
/// 1 `/`, 2 `.`, 3 `?` or `#`, 4 anything that needs the full treatment. Written once, then only
/// read (hence `nonisolated(unsafe)`).
nonisolated(unsafe) package let plainClasses: UnsafePointer<UInt8> = {
    let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    table.initialize(repeating: 4, count: 256)
    for b in Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~!$&'()*+,;=:@".utf8) {
        table[Int(b)] = 0
    }
    table[Int(UInt8(ascii: "/"))] = 1
    table[Int(UInt8(ascii: "."))] = 2
    table[Int(UInt8(ascii: "?"))] = 3
    table[Int(UInt8(ascii: "#"))] = 3
    return UnsafePointer(table)
}()

package enum PathNormalizer {
    /// Normalizes `target` into `buffer` (which must hold at least `target.count` bytes);
    /// returns the normalized length, or nil when the path is rejected.
    package static func normalize(
        _ target: UnsafeRawBufferPointer, steps: PathNormalization, into buffer: UnsafeMutableRawBufferPointer,
        classes: UnsafePointer<UInt8> = plainClasses
    ) -> Int? {
        // Fast path: a path made only of plain characters and single slashes, with no segment
        // starting with `.`, needs no step beyond the query cut: copy it.
        if steps == .all, let end = plainLength(target, classes) {
            if end > 0, let from = target.baseAddress, let to = buffer.baseAddress {
                to.copyMemory(from: from, byteCount: end)
            }
            return end
        }
        return normalizeInSteps(target, steps: steps, into: buffer)
    }

    /// The length up to the query when every step of the normalization would leave the path
    /// unchanged, or nil when it needs the full treatment (or is rejected).
    @inline(__always)
    private static func plainLength(_ target: UnsafeRawBufferPointer, _ classes: UnsafePointer<UInt8>) -> Int? {
        guard let base = target.baseAddress, target.count > 0, base.load(as: UInt8.self) == UInt8(ascii: "/") else {
            return nil
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let n = target.count
        // `i` is always just past a slash here: the segment must not start with `/` or `.`.
        var i = 1
        while i < n {
            switch classes[Int(bytes[i])] {
            case 0: break  // plain: the segment goes on
            case 3: return i  // `?` or `#` right after the slash
            default: return nil  // `//`, a segment starting with `.`, or anything else
            }
            i &+= 1
            // The rest of the segment: plain bytes (class 0) and dots (class 2), four at a time
            // while they last (their classes OR to 0 or 2 only when all four are either).
            while i &+ 4 <= n {
                let any = classes[Int(bytes[i])] | classes[Int(bytes[i &+ 1])] | classes[Int(bytes[i &+ 2])]
                    | classes[Int(bytes[i &+ 3])]
                if any & ~2 != 0 { break }
                i &+= 4
            }
            segment: while i < n {
                switch classes[Int(bytes[i])] {
                case 0, 2: i &+= 1  // a dot inside a segment is an ordinary byte
                case 1: break segment
                case 3: return i
                default: return nil
                }
            }
            if i == n { return n }
            i &+= 1  // past the slash
        }
        return i
    }

    /// Every enabled step, one after the other.
    private static func normalizeInSteps(
        _ target: UnsafeRawBufferPointer, steps: PathNormalization, into buffer: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var end = target.count
        if steps.contains(.stripQuery) {
            for i in 0..<target.count where target[i] == UInt8(ascii: "?") || target[i] == UInt8(ascii: "#") {
                end = i
                break
            }
        }
        if steps.contains(.rejectUnsafe) && !isSafe(target, end: end) { return nil }

        // Decode unreserved escapes once (also copies into the buffer).
        var n = 0
        var i = 0
        let decode = steps.contains(.decodeUnreserved)
        while i < end {
            let b = target[i]
            if decode, b == UInt8(ascii: "%"), i + 2 < end,
                let hi = hexValue(target[i + 1]), let lo = hexValue(target[i + 2])
            {
                let v = hi << 4 | lo
                if isUnreserved(v) {
                    buffer[n] = v
                    n += 1
                    i += 3
                    continue
                }
            }
            buffer[n] = b
            n += 1
            i += 1
        }
        if steps.contains(.mergeSlashes) { n = mergeSlashes(buffer, n) }
        if steps.contains(.removeDotSegments), n > 0 {
            n = buffer[0] == UInt8(ascii: "/") ? removeDotSegments(buffer, n) : removeDotSegmentsRelative(buffer, n)
        }
        return n
    }

    private static func isSafe(_ p: UnsafeRawBufferPointer, end: Int) -> Bool {
        guard end > 0, p[0] == UInt8(ascii: "/") else { return false }
        var i = 0
        while i < end {
            let b = p[i]
            if b < 0x20 || b == 0x7F || b == UInt8(ascii: " ") || b == UInt8(ascii: "\\") { return false }
            if b == UInt8(ascii: "%") {
                guard i + 2 < end, let hi = hexValue(p[i + 1]), let lo = hexValue(p[i + 2]) else { return false }
                let v = hi << 4 | lo
                if v == 0x2F || v == 0x5C || v == 0x00 { return false }
                i += 3
                continue
            }
            if b >= 0x80 {
                guard let length = utf8SequenceLength(p, at: i, end: end) else { return false }
                i += length
                continue
            }
            i += 1
        }
        return true
    }

    /// The length of the valid UTF-8 sequence starting at `i` (lead byte >= 0x80), or nil.
    private static func utf8SequenceLength(_ p: UnsafeRawBufferPointer, at i: Int, end: Int) -> Int? {
        let b0 = p[i]
        func cont(_ k: Int) -> UInt8? { i + k < end && p[i + k] & 0xC0 == 0x80 ? p[i + k] : nil }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) != nil ? 2 : nil
        case 0xE0...0xEF:
            guard let b1 = cont(1), cont(2) != nil else { return nil }
            if b0 == 0xE0 && b1 < 0xA0 { return nil }  // overlong
            if b0 == 0xED && b1 > 0x9F { return nil }  // surrogates
            return 3
        case 0xF0...0xF4:
            guard let b1 = cont(1), cont(2) != nil, cont(3) != nil else { return nil }
            if b0 == 0xF0 && b1 < 0x90 { return nil }  // overlong
            if b0 == 0xF4 && b1 > 0x8F { return nil }  // above U+10FFFF
            return 4
        default:
            return nil  // continuation byte, overlong C0/C1, F5..FF
        }
    }

    @inline(__always)
    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    @inline(__always)
    private static func isUnreserved(_ v: UInt8) -> Bool {
        switch v {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func mergeSlashes(_ p: UnsafeMutableRawBufferPointer, _ n: Int) -> Int {
        var out = 0
        for i in 0..<n {
            if p[i] == UInt8(ascii: "/"), out > 0, p[out - 1] == UInt8(ascii: "/") { continue }
            p[out] = p[i]
            out += 1
        }
        return out
    }

    /// RFC 3986 §5.2.4 for a path that does not start with `/`, in place. Only reachable with
    /// reject-unsafe turned off (it refuses such paths); rules A–E of the RFC one by one, so that
    /// `?x=/../admin` (query cutting off too) gives `/admin` as the RFC says. The decide fuzz
    /// target found this path left as it was while the reference evaluator resolved it.
    private static func removeDotSegmentsRelative(_ p: UnsafeMutableRawBufferPointer, _ n: Int) -> Int {
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        var out = 0
        var i = 0
        var end = n
        func at(_ k: Int, _ c: UInt8) -> Bool { k < end && p[k] == c }
        // Removes the output's last segment and the `/` before it (everything when it has none).
        func popSegment() {
            while out > 0 {
                out -= 1
                if p[out] == slash { break }
            }
        }
        // out <= i throughout, so moving input to the output never overwrites unread bytes.
        while i < end {
            if at(i, dot) && at(i + 1, dot) && at(i + 2, slash) {
                i += 3  // A: "../"
            } else if at(i, dot) && at(i + 1, slash) {
                i += 2  // A: "./"
            } else if at(i, slash) && at(i + 1, dot) && at(i + 2, slash) {
                i += 2  // B: "/./" -> "/"
            } else if at(i, slash) && at(i + 1, dot) && i + 2 == end {
                end = i + 1  // B: "/." at the end -> "/"
            } else if at(i, slash) && at(i + 1, dot) && at(i + 2, dot) && at(i + 3, slash) {
                i += 3  // C: "/../" -> "/", and drop the last output segment
                popSegment()
            } else if at(i, slash) && at(i + 1, dot) && at(i + 2, dot) && i + 3 == end {
                end = i + 1  // C: "/.." at the end -> "/"
                popSegment()
            } else if (at(i, dot) && i + 1 == end) || (at(i, dot) && at(i + 1, dot) && i + 2 == end) {
                break  // D: "." or ".." alone
            } else {
                // E: move the first segment, with its leading "/" if any.
                var j = i
                if p[j] == slash { j += 1 }
                while j < end && p[j] != slash { j += 1 }
                for k in i..<j {
                    p[out] = p[k]
                    out += 1
                }
                i = j
            }
        }
        return out
    }

    /// RFC 3986 §5.2.4 for an absolute path, in place; never climbs above the root.
    private static func removeDotSegments(_ p: UnsafeMutableRawBufferPointer, _ n: Int) -> Int {
        var out = 0
        var i = 1  // p[0] is '/'
        while true {
            // The segment p[i..<j], ended by '/' or the end.
            var j = i
            while j < n, p[j] != UInt8(ascii: "/") { j += 1 }
            let isLast = j >= n
            let length = j - i
            let isDot = length == 1 && p[i] == UInt8(ascii: ".")
            let isDotDot = length == 2 && p[i] == UInt8(ascii: ".") && p[i + 1] == UInt8(ascii: ".")
            if isDot {
                if isLast { p[out] = UInt8(ascii: "/"); out += 1 }
            } else if isDotDot {
                while out > 0 {
                    out -= 1
                    if p[out] == UInt8(ascii: "/") { break }
                }
                if isLast { p[out] = UInt8(ascii: "/"); out += 1 }
            } else {
                p[out] = UInt8(ascii: "/")
                out += 1
                // out <= i always holds, so this copy never overwrites unread bytes.
                for k in i..<j {
                    p[out] = p[k]
                    out += 1
                }
            }
            if isLast { break }
            i = j + 1
        }
        if out == 0 {
            p[0] = UInt8(ascii: "/")
            out = 1
        }
        return out
    }
}
