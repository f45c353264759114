import CSMIEngine

/// Strings rendered once as UTF-8 into one buffer the table owns, lent out as `smi_string`
/// views that stay valid while the table lives. An absent string (nil) lends `{NULL, 0}`. Equal
/// strings are stored once (a policy's grants repeat their TrafficTarget and rule kind).
///
/// Strings that are read together (a grant's traffic target, rule kind and match) form a record
/// of `group` consecutive indices. A span is 8 bytes, and each record's spans are padded to a
/// power-of-two stride in a buffer aligned to 64 bytes, so a record of up to eight strings never
/// straddles two cache lines: an allowed decision reads its grant's three spans from one line,
/// and two grants share it.
final class StringTable: @unchecked Sendable {
    private struct Span {
        /// Offset into `bytes`; `UInt32.max` for an absent string.
        var offset: UInt32
        var length: UInt32
    }

    private let bytes: UnsafeMutableRawBufferPointer
    /// The spans, `stride` per record (the last `stride - group` of each unused).
    private let spans: UnsafeMutableBufferPointer<Span>
    /// Offset and length per string instead, when the strings take 4 GiB or more.
    private let wide: [(offset: Int, length: Int)]?
    private let group: Int
    private let stride: Int
    private let records: Int
    /// The number of strings.
    let count: Int

    init(_ strings: [String?], group: Int = 1) {
        let group = max(group, 1)
        var stride = 1
        while stride < group { stride *= 2 }
        self.group = group
        self.stride = stride
        count = strings.count
        records = (strings.count + group - 1) / group
        var first: [String: Int] = [:]  // string -> its index
        var distinct: [Int] = []  // indices into `strings` of first occurrences
        var all: [(offset: Int, length: Int)] = []
        all.reserveCapacity(strings.count)
        var total = 0
        for (i, s) in strings.enumerated() {
            guard let s else {
                all.append((-1, 0))
                continue
            }
            if let earlier = first[s] {
                all.append(all[earlier])
                continue
            }
            let length = s.utf8.count
            first[s] = i
            distinct.append(i)
            all.append((total, length))
            total += length
        }
        let slots = max(records * stride, 1)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: slots * MemoryLayout<Span>.stride, alignment: 64)
        let spans = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Span.self, capacity: slots), count: slots)
        spans.initialize(repeating: Span(offset: .max, length: 0))
        if total < Int(UInt32.max) {
            for (i, span) in all.enumerated() where span.offset >= 0 {
                spans[i / group * stride + i % group] = Span(offset: UInt32(span.offset), length: UInt32(span.length))
            }
            wide = nil
        } else {
            wide = all
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

    deinit {
        bytes.deallocate()
        spans.deallocate()
    }

    /// The view of string `index`; `{NULL, 0}` when absent or out of range.
    @inline(__always)
    func string(_ index: Int) -> smi_string {
        guard index >= 0, index < count else { return .empty }
        return view(index, slot: group == 1 ? index : index / group &* stride &+ index % group)
    }

    /// The views of the three strings of record `record` (a table built with `group: 3`), with
    /// one bounds check; `{NULL, 0}` for absent strings and all three when out of range.
    @inline(__always)
    func strings3(record: Int) -> (smi_string, smi_string, smi_string) {
        guard group == 3, record >= 0, record < records else { return (.empty, .empty, .empty) }
        let slot = record &* stride
        let index = record &* 3
        return (view(index, slot: slot), view(index &+ 1, slot: slot &+ 1), view(index &+ 2, slot: slot &+ 2))
    }

    @inline(__always)
    private func view(_ index: Int, slot: Int) -> smi_string {
        guard let base = bytes.baseAddress else { return .empty }
        if let wide {
            guard index < wide.count, wide[index].offset >= 0 else { return .empty }
            return smi_string(data: (base + wide[index].offset).assumingMemoryBound(to: CChar.self), length: wide[index].length)
        }
        let span = spans[slot]
        guard span.offset != .max else { return .empty }
        return smi_string(data: (base + Int(span.offset)).assumingMemoryBound(to: CChar.self), length: Int(span.length))
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
