/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final
/// complement. The check value of the ASCII bytes `123456789` is 0xE3069283.
public enum CRC32C {
    /// The byte-at-a-time table, built once.
    private static let table: [UInt32] = (0..<256).map { (byte: UInt32) -> UInt32 in
        var crc = byte
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// The running register before any byte (the initial value).
    public static let initial: UInt32 = 0xFFFF_FFFF

    /// Feeds `bytes` into a running register (start with ``initial``).
    public static func update(_ register: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = register
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        return crc
    }

    /// The final checksum of a running register.
    public static func finish(_ register: UInt32) -> UInt32 { ~register }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        finish(update(initial, bytes))
    }
}
