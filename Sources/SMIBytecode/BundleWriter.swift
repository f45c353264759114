// Writing bundles: docs/BUNDLE.md is the specification (types and layout in Bundle.swift).

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
