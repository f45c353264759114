// Compiled policy bundles: a Program as self-describing, checksummed bytes (docs/BUNDLE.md is
// the byte-by-byte specification; keep the two in step).
//
// Layout: a 64-byte header, a section table (16 bytes per section), then the sections, each at
// an offset that is a multiple of 8, zero bytes between them. Every integer is little-endian;
// every section is a whole number of 32-bit words. Nothing that varies from run to run (time,
// host, path, address) is written, so one Program always gives the same bytes.

/// The engine version this build writes into bundles as the producer (equal to the C header's
/// `SMI_VERSION_STRING`; a test keeps them equal).
public let engineVersion = "0.1.0"

/// The kinds of bundle sections. Format version 1 has each kind exactly once, in this order.
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
    /// The format version this build writes and the only one it reads.
    public static let formatVersion: UInt32 = 1
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

// MARK: - Writing

/// Encodes programs as bundles.
public enum BundleWriter {
    /// The bundle of `program`. The same program (and producer) always gives the same bytes.
    ///
    /// - Parameter producer: the producer version written into the header (at most 32 UTF-8
    ///   bytes; longer text is cut at a character boundary).
    public static func encode(_ program: Program, producer: String = engineVersion) -> [UInt8] {
        let sections: [(BundleSectionKind, [UInt8])] = BundleSectionKind.allCases.map { kind in
            var words = WordWriter()
            switch kind {
            case .options:
                let o = program.options
                let domain = o.trustDomain.map { Array($0.utf8) }
                words.append((o.fullPathMatch ? 1 : 0) | (domain == nil ? 0 : 2))
                words.append(o.normalization.rawValue)
                words.append(o.matchLimit)
                words.append(o.depthLimit)
                words.append(UInt32(truncatingIfNeeded: domain?.count ?? 0))
                words.appendBytes(domain ?? [])
            case .strings:
                let utf8 = program.strings.map { Array($0.utf8) }
                words.append(UInt32(truncatingIfNeeded: utf8.count))
                for s in utf8 { words.append(UInt32(truncatingIfNeeded: s.count)) }
                words.appendBytes(utf8.flatMap { $0 })
            case .names:
                words.appendCounted(program.names)
            case .methods:
                words.appendCounted(program.methods)
            case .grants:
                words.append(UInt32(truncatingIfNeeded: program.grants.count))
                for g in program.grants {
                    words.append(g.trafficTarget)
                    words.append(g.ruleKind.rawValue)
                    words.append(g.match)
                }
            case .routeSets:
                words.append(UInt32(truncatingIfNeeded: program.routeSets.count))
                for set in program.routeSets {
                    words.append(UInt32(truncatingIfNeeded: set.candidates.count))
                    for c in set.candidates {
                        words.append(c.grant)
                        words.append(c.path)
                        words.append(UInt32(truncatingIfNeeded: c.methods.count))
                        words.append(UInt32(truncatingIfNeeded: c.headers.count))
                        for m in c.methods { words.append(m) }
                        for h in c.headers {
                            words.append(h.name)
                            words.append(h.pattern)
                        }
                    }
                }
            case .splitConditions:
                words.append(UInt32(truncatingIfNeeded: program.splitConditions.count))
                for c in program.splitConditions {
                    words.append(c.routeSet)
                    words.append(c.anyPort ? 1 : 0)
                    words.appendCounted(c.ports)
                }
            case .code:
                words.appendCounted(program.code)
            case .tables:
                words.appendCounted(program.tables)
            case .entries:
                words.append(program.accessEntry)
                words.append(program.splitEntry)
            case .annotations:
                words.append(UInt32(truncatingIfNeeded: program.annotations.count))
                for a in program.annotations {
                    words.append(a.offset)
                    words.append(a.text)
                }
            }
            return (kind, words.bytes)
        }

        var out = [UInt8](repeating: 0, count: BundleLayout.headerLength)
        let tableEnd = BundleLayout.headerLength + sections.count * BundleLayout.sectionEntryLength
        var table: [UInt8] = []
        var body: [UInt8] = []
        var offset = alignUp(tableEnd)
        for (kind, bytes) in sections {
            store(kind.rawValue, into: &table)
            store(0, into: &table)
            store(UInt32(truncatingIfNeeded: offset), into: &table)
            store(UInt32(truncatingIfNeeded: bytes.count), into: &table)
            body += bytes
            let padded = alignUp(bytes.count)
            body += [UInt8](repeating: 0, count: padded - bytes.count)
            offset += padded
        }
        out += table
        out += [UInt8](repeating: 0, count: alignUp(tableEnd) - tableEnd)
        out += body

        out.replaceSubrange(0..<8, with: BundleLayout.magic)
        put(BundleLayout.formatVersion, at: BundleLayout.formatVersionOffset, in: &out)
        put(UInt32(BundleLayout.headerLength), at: BundleLayout.headerLengthOffset, in: &out)
        put(UInt32(truncatingIfNeeded: out.count), at: BundleLayout.totalLengthOffset, in: &out)
        put(UInt32(sections.count), at: BundleLayout.sectionCountOffset, in: &out)
        var producerBytes: [UInt8] = []
        for scalar in producer.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            if producerBytes.count + encoded.count > BundleLayout.producerLength { break }
            producerBytes += encoded
        }
        out.replaceSubrange(
            BundleLayout.producerOffset..<(BundleLayout.producerOffset + producerBytes.count), with: producerBytes)
        let checksum = out.withUnsafeBytes { CRC32C.checksum($0) }
        put(checksum, at: BundleLayout.checksumOffset, in: &out)
        return out
    }

    private static func store(_ value: UInt32, into bytes: inout [UInt8]) {
        bytes += [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
                  UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24)]
    }

    private static func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }
}

/// Rounds up to a multiple of ``BundleLayout/sectionAlignment``.
@inline(__always)
func alignUp(_ n: Int) -> Int {
    (n + BundleLayout.sectionAlignment - 1) / BundleLayout.sectionAlignment * BundleLayout.sectionAlignment
}

/// Little-endian 32-bit words, with byte runs zero-padded to a word boundary.
private struct WordWriter {
    var bytes: [UInt8] = []

    mutating func append(_ value: UInt32) {
        bytes += [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
                  UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24)]
    }

    mutating func appendCounted(_ values: [UInt32]) {
        append(UInt32(truncatingIfNeeded: values.count))
        for v in values { append(v) }
    }

    mutating func appendBytes(_ run: [UInt8]) {
        bytes += run
        bytes += [UInt8](repeating: 0, count: (4 - run.count % 4) % 4)
    }
}

// MARK: - Reading

/// What a bundle's header and section table say, and whether its contents hold up; read
/// without compiling any regex.
public struct BundleInfo: Sendable {
    /// The format version.
    public var formatVersion: UInt32
    /// The producer version text.
    public var producer: String
    /// The total length the header gives (equal to the byte count, or reading stops earlier).
    public var totalLength: Int
    /// The stored checksum.
    public var storedChecksum: UInt32
    /// The checksum of the bytes.
    public var computedChecksum: UInt32
    /// The section table, in table order (empty when the table itself is malformed).
    public var sections: [BundleSection]
    /// The decoded program, when the sections decode.
    public var program: Program?
    /// The first problem found after the header, if any (checksum, section table, contents).
    public var problem: BundleError?
    /// Why the verifier refuses the decoded program, if it does.
    public var verification: VerificationError?

    /// Whether the stored checksum is the bytes' checksum.
    public var checksumOK: Bool { storedChecksum == computedChecksum }

    /// Whether the bundle would load (regexes aside, which only loading compiles).
    public var isValid: Bool { problem == nil && verification == nil && program != nil }
}

/// Decodes bundles. Never traps: every offset and count is checked against the bytes first,
/// and no allocation is larger than the bytes given.
public enum BundleReader {
    /// The program in `bytes`; throws the first problem found. The program is not verified:
    /// load it through `ExecutablePolicy`, which verifies it and compiles its regexes.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(BundleError) -> Program {
        let header = try readHeader(bytes)
        let bundle = UnsafeRawBufferPointer(rebasing: bytes[0..<header.totalLength])
        let computed = checksum(of: bundle)
        guard computed == header.checksum else {
            throw .checksumMismatch(stored: header.checksum, computed: computed)
        }
        _ = try readProducer(bundle)
        let sections = try readSectionTable(bundle, count: header.sectionCount)
        return try readProgram(bundle, sections: sections)
    }

    /// The program in `bytes` (as the buffer variant does).
    public static func decode(_ bytes: [UInt8]) throws(BundleError) -> Program {
        let result: Result<Program, BundleError> = bytes.withUnsafeBytes { raw in
            do throws(BundleError) { return .success(try decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Describes `bytes`. Throws only when the header cannot be read (bad magic, unsupported
    /// version, truncated, trailing bytes, bad header or total length); later problems are reported in
    /// ``BundleInfo/problem`` so that a damaged bundle can still be described.
    public static func info(_ bytes: UnsafeRawBufferPointer) throws(BundleError) -> BundleInfo {
        let header = try readHeader(bytes)
        let bundle = UnsafeRawBufferPointer(rebasing: bytes[0..<header.totalLength])
        let computed = checksum(of: bundle)
        var info = BundleInfo(
            formatVersion: header.formatVersion, producer: "", totalLength: header.totalLength,
            storedChecksum: header.checksum, computedChecksum: computed, sections: [], program: nil,
            problem: computed == header.checksum ? nil : .checksumMismatch(stored: header.checksum, computed: computed),
            verification: nil)
        do {
            info.producer = try readProducer(bundle)
            info.sections = try readSectionTable(bundle, count: header.sectionCount)
            let program = try readProgram(bundle, sections: info.sections)
            info.program = program
            do { try Verifier.verify(program) } catch { info.verification = error }
        } catch {
            if info.problem == nil { info.problem = error }
        }
        return info
    }

    /// Describes `bytes` (as the buffer variant does).
    public static func info(_ bytes: [UInt8]) throws(BundleError) -> BundleInfo {
        let result: Result<BundleInfo, BundleError> = bytes.withUnsafeBytes { raw in
            do throws(BundleError) { return .success(try info(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    // MARK: Header

    private struct Header {
        var formatVersion: UInt32
        var totalLength: Int
        var checksum: UInt32
        var sectionCount: Int
    }

    private static func readHeader(_ bytes: UnsafeRawBufferPointer) throws(BundleError) -> Header {
        let magic = BundleLayout.magic
        for i in 0..<min(bytes.count, magic.count) where bytes[i] != magic[i] { throw .badMagic }
        // Enough bytes to read the version: a newer format may have another header size.
        guard bytes.count >= BundleLayout.formatVersionOffset + 4 else {
            throw .truncated(expected: BundleLayout.headerLength, actual: bytes.count)
        }
        let version = word(bytes, BundleLayout.formatVersionOffset)
        guard version == BundleLayout.formatVersion else {
            throw .unsupportedFormatVersion(found: version, supported: BundleLayout.formatVersion)
        }
        guard bytes.count >= BundleLayout.headerLength else {
            throw .truncated(expected: BundleLayout.headerLength, actual: bytes.count)
        }
        let headerLength = word(bytes, BundleLayout.headerLengthOffset)
        guard headerLength == BundleLayout.headerLength else {
            throw .badHeader("header length \(headerLength), expected \(BundleLayout.headerLength)")
        }
        let total = Int(word(bytes, BundleLayout.totalLengthOffset))
        guard total >= BundleLayout.headerLength else {
            throw .badHeader("total length \(total) is shorter than the header")
        }
        guard bytes.count >= total else { throw .truncated(expected: total, actual: bytes.count) }
        guard bytes.count == total else { throw .trailingBytes(expected: total, actual: bytes.count) }
        return Header(
            formatVersion: version, totalLength: total, checksum: word(bytes, BundleLayout.checksumOffset),
            sectionCount: Int(word(bytes, BundleLayout.sectionCountOffset)))
    }

    /// The producer text, once the reserved flags are known to be zero. Read after the checksum:
    /// any damage there is reported as a checksum mismatch first.
    private static func readProducer(_ bytes: UnsafeRawBufferPointer) throws(BundleError) -> String {
        let flags = word(bytes, BundleLayout.flagsOffset)
        guard flags == 0 else { throw .badHeader("reserved flags \(hex(flags)) are not zero") }
        let field = UnsafeRawBufferPointer(
            rebasing: bytes[BundleLayout.producerOffset..<(BundleLayout.producerOffset + BundleLayout.producerLength)])
        var used = 0
        while used < field.count, field[used] != 0 { used += 1 }
        guard field[used...].allSatisfy({ $0 == 0 }) else { throw .badHeader("producer field is not zero-padded") }
        guard let producer = String(validating: field[0..<used], as: UTF8.self) else {
            throw .badHeader("producer is not valid UTF-8")
        }
        return producer
    }

    /// CRC-32C of the bundle with the checksum field read as zeros.
    private static func checksum(of bundle: UnsafeRawBufferPointer) -> UInt32 {
        let at = BundleLayout.checksumOffset
        var crc = CRC32C.update(CRC32C.initial, UnsafeRawBufferPointer(rebasing: bundle[0..<at]))
        let zeros: [UInt8] = [0, 0, 0, 0]
        crc = zeros.withUnsafeBytes { CRC32C.update(crc, $0) }
        crc = CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: bundle[(at + 4)...]))
        return CRC32C.finish(crc)
    }

    // MARK: Section table

    private static func readSectionTable(_ bundle: UnsafeRawBufferPointer, count: Int) throws(BundleError) -> [BundleSection] {
        let expected = BundleSectionKind.allCases
        guard count == expected.count else {
            throw .badSectionTable("\(count) sections, format version 1 has \(expected.count)")
        }
        let tableEnd = BundleLayout.headerLength + count * BundleLayout.sectionEntryLength
        guard tableEnd <= bundle.count else { throw .badSectionTable("the table runs past the end of the bundle") }
        var sections: [BundleSection] = []
        var previousEnd = tableEnd
        for i in 0..<count {
            let at = BundleLayout.headerLength + i * BundleLayout.sectionEntryLength
            let rawKind = word(bundle, at)
            guard let kind = BundleSectionKind(rawValue: rawKind) else {
                throw .badSectionTable("entry \(i) has unknown kind \(rawKind)")
            }
            guard kind == expected[i] else {
                throw .badSectionTable("entry \(i) is \(kind), expected \(expected[i]) (each kind once, in order)")
            }
            guard word(bundle, at + 4) == 0 else { throw .badSectionTable("entry \(i) (\(kind)): reserved word is not zero") }
            let offset = Int(word(bundle, at + 8))
            let length = Int(word(bundle, at + 12))
            guard offset % BundleLayout.sectionAlignment == 0, length % 4 == 0 else {
                throw .badSectionTable("section \(kind) is misaligned (offset \(offset), length \(length))")
            }
            guard offset >= previousEnd else {
                throw .badSectionTable(
                    "section \(kind) at \(offset) overlaps the table or the previous section (ends at \(previousEnd))")
            }
            guard offset + length <= bundle.count else {
                throw .badSectionTable("section \(kind) (\(offset)+\(length)) runs past the end of the bundle (\(bundle.count))")
            }
            sections.append(BundleSection(kind: kind, offset: offset, length: length))
            previousEnd = offset + length
        }
        return sections
    }

    // MARK: Sections

    private static func readProgram(_ bundle: UnsafeRawBufferPointer, sections: [BundleSection]) throws(BundleError) -> Program {
        func reader(_ kind: BundleSectionKind) -> SectionReader {
            // The table was checked: every kind is present once and in range.
            let s = sections.first { $0.kind == kind } ?? BundleSection(kind: kind, offset: 0, length: 0)
            return SectionReader(kind: kind, bytes: UnsafeRawBufferPointer(rebasing: bundle[s.offset..<(s.offset + s.length)]))
        }

        var r = reader(.options)
        let flags = try r.word()
        guard flags & ~3 == 0 else { throw .badSection(section: .options, "unknown flags \(hex(flags))") }
        let normalization = try r.word()
        guard normalization & ~PathNormalization.all.rawValue == 0 else {
            throw .badSection(section: .options, "unknown normalization steps \(hex(normalization))")
        }
        let matchLimit = try r.word()
        let depthLimit = try r.word()
        let domainLength = try r.word()
        let domainBytes = try r.bytes(domainLength)
        var trustDomain: String?
        if flags & 2 != 0 {
            guard let domain = String(validating: domainBytes, as: UTF8.self) else {
                throw .badUTF8(section: .options, index: 0)
            }
            trustDomain = domain
        } else if domainLength != 0 {
            throw .badSection(section: .options, "a trust domain length without the trust-domain flag")
        }
        try r.finish()
        var program = Program(options: ProgramOptions(
            fullPathMatch: flags & 1 != 0, normalization: PathNormalization(rawValue: normalization),
            matchLimit: matchLimit, depthLimit: depthLimit, trustDomain: trustDomain))

        r = reader(.strings)
        let stringCount = try r.count(wordsEach: 1)
        var lengths: [Int] = []
        lengths.reserveCapacity(stringCount)
        for _ in 0..<stringCount { lengths.append(Int(try r.word())) }
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for (i, length) in lengths.enumerated() {
            let bytes = try r.unpaddedBytes(UInt32(length))
            guard let s = String(validating: bytes, as: UTF8.self) else { throw .badUTF8(section: .strings, index: i) }
            strings.append(s)
        }
        try r.skipPadding()
        try r.finish()
        program.strings = strings

        r = reader(.names)
        program.names = try r.countedWords()
        try r.finish()

        r = reader(.methods)
        program.methods = try r.countedWords()
        try r.finish()

        r = reader(.grants)
        let grantCount = try r.count(wordsEach: 3)
        program.grants.reserveCapacity(grantCount)
        for i in 0..<grantCount {
            let target = try r.word()
            let rawKind = try r.word()
            guard let kind = GrantRuleKind(rawValue: rawKind) else {
                throw .badSection(section: .grants, "grant \(i) has unknown rule kind \(rawKind)")
            }
            program.grants.append(Grant(trafficTarget: target, ruleKind: kind, match: try r.word()))
        }
        try r.finish()

        r = reader(.routeSets)
        let setCount = try r.count(wordsEach: 1)
        program.routeSets.reserveCapacity(setCount)
        for _ in 0..<setCount {
            let candidateCount = try r.count(wordsEach: 4)
            var candidates: [RouteCandidate] = []
            candidates.reserveCapacity(candidateCount)
            for _ in 0..<candidateCount {
                let grant = try r.word()
                let path = try r.word()
                let methodCount = try r.word()
                let headerCount = try r.word()
                let methods = try r.words(methodCount)
                let headerCountChecked = try r.checkedCount(headerCount, wordsEach: 2)
                var headers: [HeaderTest] = []
                headers.reserveCapacity(headerCountChecked)
                for _ in 0..<headerCountChecked {
                    headers.append(HeaderTest(name: try r.word(), pattern: try r.word()))
                }
                candidates.append(RouteCandidate(grant: grant, path: path, methods: methods, headers: headers))
            }
            program.routeSets.append(RouteSet(candidates: candidates))
        }
        try r.finish()

        r = reader(.splitConditions)
        let conditionCount = try r.count(wordsEach: 3)
        program.splitConditions.reserveCapacity(conditionCount)
        for i in 0..<conditionCount {
            let routeSet = try r.word()
            let anyPort = try r.word()
            guard anyPort <= 1 else {
                throw .badSection(section: .splitConditions, "condition \(i): anyPort is \(anyPort), not 0 or 1")
            }
            let ports = try r.countedWords()
            program.splitConditions.append(SplitCondition(routeSet: routeSet, anyPort: anyPort == 1, ports: ports))
        }
        try r.finish()

        r = reader(.code)
        program.code = try r.countedWords()
        try r.finish()

        r = reader(.tables)
        program.tables = try r.countedWords()
        try r.finish()

        r = reader(.entries)
        program.accessEntry = try r.word()
        program.splitEntry = try r.word()
        try r.finish()

        r = reader(.annotations)
        let annotationCount = try r.count(wordsEach: 2)
        program.annotations.reserveCapacity(annotationCount)
        for _ in 0..<annotationCount {
            program.annotations.append(Annotation(offset: try r.word(), text: try r.word()))
        }
        try r.finish()
        return program
    }
}

/// The little-endian word at byte `offset` (the caller has checked the range).
@inline(__always)
func word(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}

/// Reads one section front to back, checking every read and every count against what is left.
private struct SectionReader {
    let kind: BundleSectionKind
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(kind: BundleSectionKind, bytes: UnsafeRawBufferPointer) {
        self.kind = kind
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - position }

    mutating func word() throws(BundleError) -> UInt32 {
        guard remaining >= 4 else { throw .badSection(section: kind, "ends in the middle of a value") }
        defer { position += 4 }
        return SMIBytecode.word(bytes, position)
    }

    /// `count`, once it is known that `count` items of at least `wordsEach` words fit.
    mutating func checkedCount(_ count: UInt32, wordsEach: Int) throws(BundleError) -> Int {
        guard Int(count) <= remaining / (4 * wordsEach) else {
            throw .countTooLarge(section: kind, count: count, available: remaining)
        }
        return Int(count)
    }

    /// Reads a count of items of at least `wordsEach` words each.
    mutating func count(wordsEach: Int) throws(BundleError) -> Int {
        let n = try word()
        return try checkedCount(n, wordsEach: wordsEach)
    }

    mutating func words(_ n: UInt32) throws(BundleError) -> [UInt32] {
        let count = try checkedCount(n, wordsEach: 1)
        var result: [UInt32] = []
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try word()) }
        return result
    }

    mutating func countedWords() throws(BundleError) -> [UInt32] {
        let n = try word()
        return try words(n)
    }

    /// `n` bytes, without padding.
    mutating func unpaddedBytes(_ n: UInt32) throws(BundleError) -> UnsafeRawBufferPointer {
        guard Int(n) <= remaining else { throw .countTooLarge(section: kind, count: n, available: remaining) }
        defer { position += Int(n) }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(n))])
    }

    /// Zero bytes up to the next word boundary.
    mutating func skipPadding() throws(BundleError) {
        while position % 4 != 0 {
            guard position < bytes.count, bytes[position] == 0 else {
                throw .badSection(section: kind, "padding is missing or not zero")
            }
            position += 1
        }
    }

    /// `n` bytes and their zero padding.
    mutating func bytes(_ n: UInt32) throws(BundleError) -> UnsafeRawBufferPointer {
        let run = try unpaddedBytes(n)
        try skipPadding()
        return run
    }

    /// Checks that nothing is left.
    func finish() throws(BundleError) {
        guard remaining == 0 else { throw .badSection(section: kind, "\(remaining) bytes left over") }
    }
}
