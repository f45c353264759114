/// The fuzzer's bytes read as a stream of small decisions. Past the end every read returns 0
/// (or the empty list), so any input, including the empty one, decodes to something.
public struct FuzzInput: Sendable {
    /// The input.
    public let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var position = 0

    /// Reads `bytes` from the start.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte has been read.
    public var isExhausted: Bool { position >= bytes.count }

    /// The next byte, or 0.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next two bytes, little-endian.
    public mutating func uint16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }

    /// The next four bytes, little-endian.
    public mutating func uint32() -> UInt32 { UInt32(uint16()) | UInt32(uint16()) << 16 }

    /// The next eight bytes, little-endian.
    public mutating func uint64() -> UInt64 { UInt64(uint32()) | UInt64(uint32()) << 32 }

    /// A number below `bound` (which must be positive) from one byte, or two when `bound` > 256.
    public mutating func below(_ bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        return bound > 256 ? Int(uint16()) % bound : Int(byte()) % bound
    }

    /// True about once in `n` reads.
    public mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }

    /// One element of a non-empty list.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Up to `maximum` raw bytes, the count read first.
    public mutating func raw(upTo maximum: Int) -> [UInt8] {
        let count = below(maximum + 1)
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for _ in 0..<count where !isExhausted { out.append(byte()) }
        return out
    }
}
