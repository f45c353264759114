import CSMIEngine

/// Strings rendered once as UTF-8 into one buffer the table owns, lent out as `smi_string`
/// views that stay valid while the table lives. An absent string (nil) lends `{NULL, 0}`. Equal
/// strings are stored once (a policy's grants repeat their TrafficTarget and rule kind).
final class StringTable: @unchecked Sendable {
    private let bytes: UnsafeMutableRawBufferPointer
    /// Offset and length per string; offset -1 for an absent one.
    private let spans: [(offset: Int, length: Int)]

    init(_ strings: [String?]) {
        var spans: [(offset: Int, length: Int)] = []
        spans.reserveCapacity(strings.count)
        var first: [String: Int] = [:]  // string -> its span
        var distinct: [Int] = []  // indices into `strings` of first occurrences
        var total = 0
        for (i, s) in strings.enumerated() {
            guard let s else {
                spans.append((-1, 0))
                continue
            }
            if let earlier = first[s] {
                spans.append(spans[earlier])
                continue
            }
            let length = s.utf8.count
            first[s] = i
            distinct.append(i)
            spans.append((total, length))
            total += length
        }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 8)
        var at = 0
        for i in distinct {
            for b in strings[i]?.utf8 ?? "".utf8 {
                bytes[at] = b  // total counted every byte above
                at += 1
            }
        }
        self.bytes = bytes
        self.spans = spans
    }

    deinit { bytes.deallocate() }

    var count: Int { spans.count }

    /// The view of string `index`; `{NULL, 0}` when absent or out of range.
    @inline(__always)
    func string(_ index: Int) -> smi_string {
        guard index >= 0, index < spans.count else { return .empty }
        let span = spans[index]
        guard span.offset >= 0, let base = bytes.baseAddress else { return .empty }
        return smi_string(data: (base + span.offset).assumingMemoryBound(to: CChar.self), length: span.length)
    }
}

extension smi_string {
    /// `{NULL, 0}`.
    static var empty: smi_string { smi_string(data: nil, length: 0) }

    /// A view of `bytes` (`{NULL, 0}` for an empty buffer without an address).
    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        self.init(data: bytes.baseAddress?.assumingMemoryBound(to: CChar.self), length: bytes.count)
    }

    /// The caller's bytes, or nil when the string is malformed: NULL with a non-zero length, or a
    /// length that does not fit the address space. `{NULL, 0}` gives an empty buffer.
    @inline(__always)
    var bytes: UnsafeRawBufferPointer? {
        guard let data else { return length == 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : nil }
        // size_t imports as Int: a length above Int.max arrives negative.
        guard length >= 0, UInt(bitPattern: data).addingReportingOverflow(UInt(bitPattern: length)).overflow == false else {
            return nil
        }
        return UnsafeRawBufferPointer(start: data, count: length)
    }

    /// Whether the string is absent (`data` NULL); `{p, 0}` is present and empty.
    @inline(__always)
    var isAbsent: Bool { data == nil }

    /// The bytes as a Swift string (invalid UTF-8 repaired), or nil when malformed.
    var swiftString: String? {
        bytes.map { String(decoding: $0, as: UTF8.self) }
    }
}
