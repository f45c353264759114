#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The decision words of an executable policy (instructions with their tables inline, see
/// ``DecisionLayout``), in memory the policy owns.
///
/// A decision at large N reads a few words at unrelated places of these arrays (the destination's
/// switch, its source and port tables), so with 4 KiB pages nearly every read also misses the TLB:
/// at 100,000 TrafficTargets the code and tables span about 18 MB, some 4,500 pages, more than a
/// core's second-level TLB holds. Arrays of ``hugePageThreshold`` bytes and more are therefore
/// mapped on their own, aligned to 2 MiB and rounded up to whole 2 MiB pages, and marked
/// `MADV_HUGEPAGE` before the first write, so that where transparent huge pages are enabled
/// (`always` or `madvise`) each 2 MiB takes one TLB entry. Where they are not, or the mapping
/// fails, the words live in ordinary memory: only speed differs, never a decision.
package struct PolicyWords: @unchecked Sendable {
    /// The words.
    package let buffer: UnsafeMutableBufferPointer<UInt32>
    /// The mapping to unmap, when the words have one of their own.
    private let mapping: (start: UnsafeMutableRawPointer, length: Int)?

    /// The size of a transparent huge page on x86-64 and arm64 (4 KiB base pages).
    package static let hugePageSize = 2 << 20
    /// Arrays from this size on get a huge-page-aligned mapping of their own.
    package static let hugePageThreshold = 2 << 20

    /// A copy of `words` (at least one word, so the buffer always has an address).
    package init(copying words: [UInt32]) {
        let count = max(words.count, 1)
        let byteCount = count * MemoryLayout<UInt32>.stride
        if byteCount >= Self.hugePageThreshold, let region = Self.mapAligned(byteCount) {
            let start = region.start.bindMemory(to: UInt32.self, capacity: count)
            buffer = UnsafeMutableBufferPointer(start: start, count: count)
            mapping = region
        } else {
            buffer = .allocate(capacity: count)
            mapping = nil
        }
        let written = buffer.initialize(fromContentsOf: words)
        if written < count { buffer[written] = 0 }  // the placeholder word of an empty array
    }

    /// Whether the words have a huge-page-aligned mapping of their own (tests and diagnostics).
    package var hasOwnMapping: Bool { mapping != nil }

    /// Frees the words; the value must not be used afterwards.
    package func release() {
        if let mapping {
            _ = munmap(mapping.start, mapping.length)
        } else {
            buffer.deallocate()
        }
    }

    /// An anonymous read-write mapping of `byteCount` bytes rounded up to whole huge pages, aligned
    /// to a huge page and advised for huge pages, or nil when the system refuses the mapping.
    private static func mapAligned(_ byteCount: Int) -> (start: UnsafeMutableRawPointer, length: Int)? {
        let page = hugePageSize
        let (rounded, overflow) = byteCount.addingReportingOverflow(page - 1)
        guard !overflow else { return nil }
        let length = rounded & ~(page - 1)
        // Map one huge page more than needed, then give back what lies outside the aligned part.
        let (reserve, tooLarge) = length.addingReportingOverflow(page)
        guard !tooLarge else { return nil }
        let raw = mmap(nil, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        let address = UInt(bitPattern: raw)
        let aligned = (address &+ UInt(page - 1)) & ~UInt(page - 1)
        let head = Int(aligned &- address)
        let tail = reserve - head - length
        if head > 0 { _ = munmap(raw, head) }
        let start = raw + head
        if tail > 0 { _ = munmap(start + length, tail) }
        // Advice only: without transparent huge pages the mapping works with small pages.
        _ = madvise(start, length, MADV_HUGEPAGE)
        return (start, length)
    }
}
