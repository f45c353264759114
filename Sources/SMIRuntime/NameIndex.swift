#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Byte-string -> index lookup with no allocation per lookup: FNV-1a hashes over the UTF-8
/// bytes, open addressing over a power-of-two table, names stored in one arena.
final class NameIndex: @unchecked Sendable {
    private let arena: [UInt8]
    private let starts: [Int]
    private let slots: [UInt32]  // index + 1; 0 is empty
    private let hashes: [UInt64]
    private let mask: Int

    static let notFound: UInt32 = .max

    init(_ names: [String]) {
        var arena: [UInt8] = []
        var starts: [Int] = [0]
        var hashes: [UInt64] = []
        for name in names {
            arena += name.utf8
            starts.append(arena.count)
            var h = NameIndex.seed
            for b in name.utf8 { h = NameIndex.mix(h, b) }
            hashes.append(h)
        }
        var capacity = 8
        while capacity < names.count * 2 { capacity <<= 1 }
        var slots = [UInt32](repeating: 0, count: capacity)
        for (i, h) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: h) & (capacity - 1)
            while slots[s] != 0 { s = (s + 1) & (capacity - 1) }
            slots[s] = UInt32(i + 1)
        }
        self.arena = arena
        self.starts = starts
        self.slots = slots
        self.hashes = hashes
        self.mask = capacity - 1
    }

    static let seed: UInt64 = 0xCBF2_9CE4_8422_2325
    @inline(__always) static func mix(_ h: UInt64, _ b: UInt8) -> UInt64 { (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }

    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer, into h: inout UInt64) {
        for b in bytes { h = mix(h, b) }
    }

    /// The index of `bytes`, or ``notFound``.
    func lookup(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let count = bytes.count
        var h = NameIndex.seed
        if let p = bytes.baseAddress {
            for i in 0..<count { h = NameIndex.mix(h, p.load(fromByteOffset: i, as: UInt8.self)) }
        }
        return slots.withUnsafeBufferPointer { slots in
            hashes.withUnsafeBufferPointer { hashes in
                starts.withUnsafeBufferPointer { starts in
                    arena.withUnsafeBytes { arena in
                        var s = Int(truncatingIfNeeded: h) & mask
                        while true {
                            let entry = slots[s]
                            if entry == 0 { return NameIndex.notFound }
                            let i = Int(entry &- 1)
                            if hashes[i] == h {
                                let start = starts[i]
                                if starts[i &+ 1] &- start == count
                                    && (count == 0
                                        || memcmp(arena.baseAddress.unsafelyUnwrappedOrNull + start,
                                                  bytes.baseAddress.unsafelyUnwrappedOrNull, count) == 0)
                                {
                                    return UInt32(i)
                                }
                            }
                            s = (s &+ 1) & mask
                        }
                    }
                }
            }
        }
    }

    /// The index of `first` + `/` + `second`, or ``notFound``.
    func lookup(_ first: UnsafeRawBufferPointer, slash second: UnsafeRawBufferPointer) -> UInt32 {
        var h = NameIndex.seed
        NameIndex.hash(first, into: &h)
        h = NameIndex.mix(h, UInt8(ascii: "/"))
        NameIndex.hash(second, into: &h)
        let total = first.count + 1 + second.count
        return probe(h) { start, length in
            guard length == total else { return false }
            return arena.withUnsafeBytes { a in
                guard let base = a.baseAddress else { return false }
                if first.count > 0, let f = first.baseAddress, !memoryEqual(base + start, f, first.count) { return false }
                if a[start + first.count] != UInt8(ascii: "/") { return false }
                if second.count > 0, let s = second.baseAddress,
                    !memoryEqual(base + start + first.count + 1, s, second.count)
                { return false }
                return true
            }
        }
    }

    @inline(__always)
    private func probe(_ h: UInt64, _ equal: (Int, Int) -> Bool) -> UInt32 {
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = slots[s]
            if entry == 0 { return NameIndex.notFound }
            let i = Int(entry - 1)
            if hashes[i] == h, equal(starts[i], starts[i + 1] - starts[i]) { return UInt32(i) }
            s = (s + 1) & mask
        }
    }
}

@inline(__always)
func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// The methods of RFC 9110 and RFC 5789 that the HTTPRouteGroup schema lists, recognized
/// without hashing.
enum StandardMethod: UInt8, CaseIterable {
    case get, head, post, put, delete, patch, options, connect, trace

    var spelling: String {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        case .patch: return "PATCH"
        case .options: return "OPTIONS"
        case .connect: return "CONNECT"
        case .trace: return "TRACE"
        }
    }

    @inline(__always)
    init?(_ m: UnsafeRawBufferPointer) {
        guard let p = m.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        @inline(__always) func is_(_ s: StaticString) -> Bool {
            let q = s.utf8Start
            for i in 0..<m.count where p[i] != q[i] { return false }
            return true
        }
        switch m.count {
        case 3:
            if is_("GET") { self = .get } else if is_("PUT") { self = .put } else { return nil }
        case 4:
            if is_("POST") { self = .post } else if is_("HEAD") { self = .head } else { return nil }
        case 5:
            if is_("PATCH") { self = .patch } else if is_("TRACE") { self = .trace } else { return nil }
        case 6:
            if is_("DELETE") { self = .delete } else { return nil }
        case 7:
            if is_("OPTIONS") { self = .options } else if is_("CONNECT") { self = .connect } else { return nil }
        default:
            return nil
        }
    }
}
