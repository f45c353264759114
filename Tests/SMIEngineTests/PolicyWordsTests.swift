import SMIRuntime
import Testing

@Suite("Policy words: large code and table arrays get huge-page-aligned mappings")
struct PolicyWordsTests {
    @Test("an array past the threshold is copied into its own 2 MiB-aligned mapping")
    func largeArray() {
        let count = PolicyWords.hugePageThreshold / 4 + 12_345
        let words = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        let copy = PolicyWords(copying: words)
        defer { copy.release() }
        #expect(copy.hasOwnMapping)
        let address = UInt(bitPattern: copy.buffer.baseAddress)
        #expect(address % UInt(PolicyWords.hugePageSize) == 0)
        #expect(copy.buffer.count == count)
        #expect(Array(copy.buffer) == words)
    }

    @Test("small arrays stay in ordinary memory; an empty one still has one word", arguments: [0, 1, 1_000, PolicyWords.hugePageThreshold / 4 - 1])
    func smallArray(count: Int) {
        let words = (0..<count).map { UInt32($0) }
        let copy = PolicyWords(copying: words)
        defer { copy.release() }
        #expect(!copy.hasOwnMapping)
        #expect(copy.buffer.count == max(count, 1))
        #expect(Array(copy.buffer.prefix(count)) == words)
    }
}
