// Reading bundles: docs/BUNDLE.md is the specification (types and layout in Bundle.swift).

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
            throw .badSectionTable("\(count) sections, format version \(BundleLayout.formatVersion) has \(expected.count)")
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
