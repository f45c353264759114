import SMILoader
import SMIModel
import Testing

@Suite("JSON reader")
struct JSONReaderTests {
    private func parse(_ text: String) -> Result<DocumentNode, Diagnostic> {
        JSONReader.parse(Array(text.utf8), file: "x.json")
    }

    private func failure(_ text: String) -> Diagnostic? {
        if case .failure(let diagnostic) = parse(text) { return diagnostic }
        return nil
    }

    @Test("values, types and exact positions")
    func values() throws {
        let root = try parse("{\n  \"a\": [1, -2.5e3, true, null],\n  \"b\": \"x\"\n}").get()
        #expect(root.isMapping)
        let a = try #require(root["a"])
        #expect(a.location == SourceLocation(file: "x.json", line: 2, column: 8))
        #expect(a.items.map(\.scalarType) == [.int, .float, .bool, .null])
        #expect(a.items[1].text == "-2.5e3")
        #expect(a.items[1].location.column == 12)
        #expect(root["b"]?.string == "x")
        #expect(root["b"]?.isQuoted == true)
        #expect(root["b"]?.location == SourceLocation(file: "x.json", line: 3, column: 8))
    }

    @Test("a 64-bit unsigned entropy is read exactly")
    func entropy() throws {
        let root = try parse(#"{"entropy": 18446744073709551615, "n": 9007199254740993}"#).get()
        #expect(root["entropy"]?.uint64 == UInt64.max)
        #expect(root["n"]?.uint64 == 9_007_199_254_740_993)
        #expect(root["entropy"]?.text == "18446744073709551615")
    }

    @Test("escapes, surrogate pairs and raw UTF-8")
    func escapes() throws {
        let root = try parse(#"["a\"\\\/\b\f\n\r\t", "\u00e9\ud83d\ude00", "ü😀"]"#).get()
        #expect(root.items[0].string == "a\"\\/\u{8}\u{c}\n\r\t")
        #expect(root.items[1].string == "é😀")
        #expect(root.items[2].string == "ü😀")
        #expect(root.items[2].location.column == 45)
    }

    @Test("strict: malformed inputs are syntax errors with positions")
    func strict() {
        let bad = [
            "{\"a\": 1,}", "[1,]", "01", "1.", "-", "+1", "'a'", "{a: 1}", "[1] x", "", "tru",
            "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\x\"", "\"a\nb\"", "// c\n1", "NaN", "[1 2]",
        ]
        for text in bad {
            #expect(failure(text)?.code == .syntax, "\(text)")
        }
        #expect(failure("{\n  \"a\": 1,\n  }")?.location == SourceLocation(file: "x.json", line: 3, column: 3))
    }

    @Test("invalid UTF-8 in strings is rejected")
    func invalidUTF8() {
        for bytes: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
        ] {
            guard case .failure(let diagnostic) = JSONReader.parse(bytes, file: "x.json") else {
                Issue.record("accepted \(bytes)")
                continue
            }
            #expect(diagnostic.code == .syntax)
        }
    }

    @Test("duplicate keys and deep nesting")
    func limits() {
        let twice = Array(#"{"a": 1, "a": 2}"#.utf8)
        guard case .failure(let duplicate) = JSONReader.parse(twice, file: "x.json", rejectingDuplicateKeys: true)
        else {
            Issue.record("a repeated key was accepted")
            return
        }
        #expect(duplicate.code == .duplicateKey)
        #expect(duplicate.location?.column == 10)
        // By default both entries are kept, in order; the subscript finds the first.
        let kept = try? JSONReader.parse(twice, file: "x.json").get()
        #expect(kept?.entries.map(\.value.text) == ["1", "2"])
        #expect(kept?["a"]?.text == "1")
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(failure(deep)?.code == .limitExceeded)
        let deepest = String(repeating: "[", count: 100_000)
        #expect(failure(deepest)?.code == .limitExceeded)
    }
}
