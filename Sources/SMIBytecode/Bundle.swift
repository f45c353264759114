// Compiled policy bundles: a Program as self-describing, checksummed bytes (docs/BUNDLE.md is
// the byte-by-byte specification; keep the two in step).
//
// Layout: a 64-byte header, a section table (16 bytes per section), then the sections, each at
// an offset that is a multiple of 8, zero bytes between them. Every integer is little-endian;
// every section is a whole number of 32-bit words. Nothing that varies from run to run (time,
// host, path, address) is written, so one Program always gives the same bytes.
//
// This file holds the layout constants and the shared types; BundleWriter.swift encodes,
// BundleReader.swift decodes and describes, CRC32C.swift checksums.

/// The engine version this build writes into bundles as the producer (equal to the C header's
/// `SMI_VERSION_STRING`; a test keeps them equal).
public let engineVersion = "0.1.0"

/// The kinds of bundle sections. Format version 2 (like 1) has each kind exactly once, in this order.
public enum BundleSectionKind: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case options = 1
    case strings = 2
    case names = 3
    case methods = 4
    case grants = 5
    case routeSets = 6
    case splitConditions = 7
    case code = 8
    case tables = 9
    case entries = 10
    case annotations = 11

    /// The section's name in docs/BUNDLE.md and in messages.
    public var description: String {
        switch self {
        case .options: return "options"
        case .strings: return "strings"
        case .names: return "names"
        case .methods: return "methods"
        case .grants: return "grants"
        case .routeSets: return "routeSets"
        case .splitConditions: return "splitConditions"
        case .code: return "code"
        case .tables: return "tables"
        case .entries: return "entries"
        case .annotations: return "annotations"
        }
    }
}

/// Constants of the bundle layout (docs/BUNDLE.md, "Header").
public enum BundleLayout {
    /// The first eight bytes: `SMIB`, CR, LF, 0x1A, LF (a text-mode copy or a truncated
    /// download breaks them).
    public static let magic: [UInt8] = [0x53, 0x4D, 0x49, 0x42, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The format version this build writes and the only one it reads (``Program/formatVersion``).
    public static let formatVersion: UInt32 = Program.formatVersion
    /// The header's size in bytes.
    public static let headerLength = 64
    /// Where the format version is.
    public static let formatVersionOffset = 8
    /// Where the header length is.
    public static let headerLengthOffset = 12
    /// Where the total length is.
    public static let totalLengthOffset = 16
    /// Where the checksum is; the checksum is computed with these four bytes as zeros.
    public static let checksumOffset = 20
    /// Where the section count is.
    public static let sectionCountOffset = 24
    /// Where the reserved flags word is (must be 0).
    public static let flagsOffset = 28
    /// Where the producer version is: UTF-8, zero-padded.
    public static let producerOffset = 32
    /// The producer field's size.
    public static let producerLength = 32
    /// The size of one section table entry: kind, reserved, offset, length.
    public static let sectionEntryLength = 16
    /// Sections start at multiples of this.
    public static let sectionAlignment = 8
}

/// Why bytes are not a bundle this build can read. Every case has a stable ``code``.
public enum BundleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes do not start with the bundle magic.
    case badMagic
    /// The bundle's format version is not one this build reads.
    case unsupportedFormatVersion(found: UInt32, supported: UInt32)
    /// Fewer bytes than the header or the header's total length needs.
    case truncated(expected: Int, actual: Int)
    /// More bytes than the header's total length.
    case trailingBytes(expected: Int, actual: Int)
    /// A header field holds a value this format does not allow.
    case badHeader(String)
    /// The stored checksum is not the checksum of the bytes.
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// The section table is malformed: unknown, missing, repeated or misordered kinds,
    /// misaligned, overlapping or out-of-range sections.
    case badSectionTable(String)
    /// A count is larger than the bytes left in its section could hold.
    case countTooLarge(section: BundleSectionKind, count: UInt32, available: Int)
    /// A string is not valid UTF-8.
    case badUTF8(section: BundleSectionKind, index: Int)
    /// A section's contents are malformed (a value out of its domain, bytes left over, ...).
    case badSection(section: BundleSectionKind, String)

    /// The stable code, as diagnostics show it.
    public var code: String {
        switch self {
        case .badMagic: return "bundle-bad-magic"
        case .unsupportedFormatVersion: return "bundle-unsupported-version"
        case .truncated: return "bundle-truncated"
        case .trailingBytes: return "bundle-trailing-bytes"
        case .badHeader: return "bundle-bad-header"
        case .checksumMismatch: return "bundle-checksum-mismatch"
        case .badSectionTable: return "bundle-bad-section-table"
        case .countTooLarge: return "bundle-count-too-large"
        case .badUTF8: return "bundle-bad-utf8"
        case .badSection: return "bundle-bad-section"
        }
    }

    /// One lowercase line.
    public var description: String {
        switch self {
        case .badMagic:
            return "not a policy bundle (bad magic)"
        case .unsupportedFormatVersion(let found, let supported):
            return "bundle format version \(found) is not supported; this build reads version \(supported)"
        case .truncated(let expected, let actual):
            return "bundle is truncated: \(actual) bytes, expected \(expected)"
        case .trailingBytes(let expected, let actual):
            return "bundle has trailing bytes: \(actual) bytes, the header says \(expected)"
        case .badHeader(let message):
            return "bad bundle header: \(message)"
        case .checksumMismatch(let stored, let computed):
            return "bundle checksum mismatch: stored \(hex(stored)), computed \(hex(computed))"
        case .badSectionTable(let message):
            return "bad bundle section table: \(message)"
        case .countTooLarge(let section, let count, let available):
            return "bundle section \(section): count \(count) is too large for the \(available) bytes left"
        case .badUTF8(let section, let index):
            return "bundle section \(section): string \(index) is not valid UTF-8"
        case .badSection(let section, let message):
            return "bundle section \(section): \(message)"
        }
    }
}

/// `0x1234ABCD`.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// One row of a bundle's section table.
public struct BundleSection: Sendable, Hashable {
    /// What the section holds.
    public var kind: BundleSectionKind
    /// Its first byte, from the start of the bundle.
    public var offset: Int
    /// Its length in bytes.
    public var length: Int
}
