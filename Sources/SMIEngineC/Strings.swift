import CSMIEngine

/// Strings rendered once as UTF-8 into one buffer the table owns, lent out as `smi_string`
/// views that stay valid while the table lives. An absent string (nil) lends `{NULL, 0}`. Equal
/// strings are stored once (a policy's grants repeat their TrafficTarget and rule kind).
///
/// Strings that are read together (a grant's traffic target, rule kind and match) form a group
/// of `group` consecutive indices. Each group's spans are padded to a power-of-two stride in a
/// buffer aligned to 64 bytes, so a group of up to four strings is one cache line: an allowed
/// decision reads its grant's three spans from a single line.
final class StringTable: @unchecked Sendable {
    private struct Span {
        /// Offset into `bytes`; -1 for an absent string.
        var offset: Int
        var length: Int
    }

    private let bytes: UnsafeMutableRawBufferPointer
    /// The spans, `stride` per group (the last `stride - group` of each unused).
    private let spans: UnsafeMutableBufferPointer<Span>
    private let group: Int
    private let stride: Int
    /// The number of strings.
    let count: Int

    init(_ strings: [String?], group: Int = 1) {
        let group = max(group, 1)
        var stride = 1
        while stride < group { stride *= 2 }
        self.group = group
        self.stride = stride
        count = strings.count
        let groups = (strings.count + group - 1) / group
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(groups * stride, 1) * MemoryLayout<Span>.stride, alignment: 64)
        let spans = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Span.self, capacity: max(groups * stride, 1)), count: max(groups * stride, 1))
        spans.initialize(repeating: Span(offset: -1, length: 0))
        var first: [String: Int] = [:]  // string -> its slot
        var distinct: [Int] = []  // indices into `strings` of first occurrences
        var total = 0
        for (i, s) in strings.enumerated() {
            let slot = i / group * stride + i % group
            guard let s else { continue }
            if let earlier = first[s] {
                spans[slot] = spans[earlier]
                continue
            }
            let length = s.utf8.count
            first[s] = slot
            distinct.append(i)
            spans[slot] = Span(offset: total, length: length)
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

    deinit {
        bytes.deallocate()
        spans.deallocate()
    }

    /// The view of string `index`; `{NULL, 0}` when absent or out of range.
    @inline(__always)
    func string(_ index: Int) -> smi_string {
        guard index >= 0, index < count else { return .empty }
        return view(group == 1 ? index : index / group &* stride &+ index % group)
    }

    /// The view of string `field` of group `record` (index `record × group + field`), without a
    /// division; `{NULL, 0}` when absent or out of range.
    @inline(__always)
    func string(record: Int, field: Int) -> smi_string {
        guard record >= 0, field >= 0, field < group, record &* group &+ field < count else { return .empty }
        return view(record &* stride &+ field)
    }

    @inline(__always)
    private func view(_ slot: Int) -> smi_string {
        let span = spans[slot]
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
