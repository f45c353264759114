import SMIEngine
import SMIReference
import SMIRuntime
import Testing

@Suite("Path normalization: the fast path agrees with the full steps and with the reference")
struct PathFastPathTests {
    /// A byte-class table that sends every path through the full steps.
    nonisolated(unsafe) static let noFastPath: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        table.initialize(repeating: 4, count: 256)
        return UnsafePointer(table)
    }()

    static func normalized(_ path: String, classes: UnsafePointer<UInt8>) -> String? {
        let bytes = Array(path.utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 1, alignment: 8)
        defer { buffer.deallocate() }
        return bytes.withUnsafeBytes { target in
            PathNormalizer.normalize(target, steps: .all, into: buffer, classes: classes).map {
                String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<$0]), as: UTF8.self)
            }
        }
    }

    @Test("random paths over slashes, dots, queries, escapes and plain bytes")
    func randomPaths() {
        // Short alphabets make every boundary of the four-byte steps and every class meet.
        let alphabet = Array("/./a/b.c/?#%2e%2F-~\\ x".utf8)
        var random = Differential.SplitMix64(seed: 0x5EED)
        func next() -> UInt64 { random.next() }
        var fastAccepted = 0
        for _ in 0..<20_000 {
            let length = Int(next() % 24)
            var bytes: [UInt8] = [UInt8(ascii: "/")]
            for _ in 0..<length { bytes.append(alphabet[Int(next() % UInt64(alphabet.count))]) }
            let path = String(decoding: bytes, as: UTF8.self)
            let fast = Self.normalized(path, classes: plainClasses)
            let full = Self.normalized(path, classes: Self.noFastPath)
            #expect(fast == full, "\(path)")
            let reference: String? = switch Differential.normalize(path, steps: .all) {
            case .rejected: nil
            case .path(let p): p
            }
            #expect(fast == reference, "\(path)")
            if fast == path { fastAccepted += 1 }
        }
        // Plenty of the inputs were plain enough to stay as they were.
        #expect(fastAccepted > 500)
    }

    @Test("segment and step boundaries", arguments: [
        "/", "/a", "/a/", "/ab", "/abcd", "/abcde", "/abcd/", "/abcd/e", "/a.b.c.d.e", "/a/.b", "/a/b./c",
        "/api/v1/items/x?y=/../z", "/abcd?x", "/abc#f", "/a//b", "/abcd//e", "/abcd/./e", "/abcd/..", "/a/b/c/",
        "/%2e/x", "/abcdefgh%41", "/abc\\d", "/abcdefg h",
    ])
    func boundaries(path: String) {
        #expect(Self.normalized(path, classes: plainClasses) == Self.normalized(path, classes: Self.noFastPath))
    }
}
