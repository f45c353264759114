import SMILoader
import SMIModel
import SMITestSupport
import Testing

@Suite("YAML reader")
struct YAMLReaderTests {
    private func parse(_ text: String, limits: LoaderLimits = .init()) -> ([DocumentNode], [Diagnostic]) {
        YAMLReader.parseDocuments(Array(text.utf8), file: "x.yaml", limits: limits)
    }

    @Test("plain scalars resolve by the YAML 1.2 core schema; quoted ones are strings")
    func coreSchema() throws {
        let (docs, diags) = parse(
            """
            a: ~
            b: null
            c:
            d: True
            e: 0x1F
            f: 0o17
            g: -12
            h: 1.5e3
            i: .inf
            j: .nan
            k: "12"
            l: 'true'
            m: |
              7
            n: yes
            o: 1_000
            """
        )
        #expect(diags.isEmpty)
        let root = try #require(docs.first)
        let types = root.entries.map { $0.value.scalarType }
        #expect(
            types == [
                .null, .null, .null, .bool, .int, .int, .int, .float, .float, .float, .string, .string, .string,
                .string, .string,
            ])
        #expect(root["e"]?.int64 == 31)
        #expect(root["f"]?.int64 == 15)
        #expect(root["g"]?.int64 == -12)
        #expect(root["g"]?.uint64 == nil)
        #expect(root["d"]?.bool == true)
        #expect(root["k"]?.string == "12")
        #expect(root["k"]?.isQuoted == true)
        #expect(root["m"]?.string == "7\n")
        #expect(root["h"]?.double == 1500)
    }

    @Test("64-bit unsigned integers are read exactly")
    func bigIntegers() throws {
        let (docs, _) = parse("a: 18446744073709551615\nb: 18446744073709551616\nc: -9223372036854775808")
        let root = try #require(docs.first)
        #expect(root["a"]?.uint64 == UInt64.max)
        #expect(root["a"]?.int64 == nil)
        #expect(root["b"]?.uint64 == nil)
        #expect(root["c"]?.int64 == Int64.min)
    }

    @Test("several documents; an empty one is a null root")
    func multiDocument() {
        let (docs, diags) = parse("a: 1\n---\nb: 2\n---\n")
        #expect(diags.isEmpty)
        #expect(docs.count == 3)
        #expect(docs.last?.isNull == true)
        #expect(docs[1]["b"]?.location == SourceLocation(file: "x.yaml", line: 3, column: 4))
    }

    @Test("aliases resolve to their anchor's node")
    func aliases() throws {
        let (docs, diags) = parse("base: &b {x: 1}\ncopy: *b\nlist: [*b, *b]")
        #expect(diags.isEmpty)
        let root = try #require(docs.first)
        #expect(root["copy"]?["x"]?.int64 == 1)
        #expect(root["list"]?.items.count == 2)
        #expect(root["copy"]?.location.line == 2)
    }

    @Test("an unknown alias is an error")
    func unknownAlias() {
        let (_, diags) = parse("a: *nope")
        #expect(diags.map(\.code) == [.syntax])
    }

    @Test("a billion laughs stops at the alias limit")
    func billionLaughs() {
        var text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            text += "l\(level): &l\(level) [\(refs)]\n"
        }
        let (docs, diags) = parse(text)
        #expect(docs.isEmpty)
        #expect(diags.map(\.code) == [.limitExceeded])
    }

    @Test("nesting deeper than the limit is an error, not a crash")
    func depthLimit() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let (_, diags) = parse(deep)
        #expect(diags.map(\.code) == [.limitExceeded])
        var limits = LoaderLimits()
        limits.maxDepth = 3
        #expect(parse("a: {b: {c: 1}}", limits: limits).1.isEmpty)
        #expect(parse("a: {b: {c: [1]}}", limits: limits).1.map(\.code) == [.limitExceeded])
    }

    @Test("a duplicate key is an error at the second key")
    func duplicateKey() {
        let input = MarkedText(
            """
            metadata:
              name: a
              1️⃣name: b
            """
        )
        let (docs, diags) = parse(input.text)
        #expect(docs.count == 1)
        #expect(diags.map(\.code) == [.duplicateKey])
        #expect(diags.first?.location?.line == input["1️⃣"].line)
        #expect(diags.first?.location?.column == input["1️⃣"].column)
    }

    @Test("a syntax error carries libyaml's problem and position")
    func syntaxError() {
        let input = MarkedText(
            """
            a:
              b: 1
             1️⃣- c
            """
        )
        let (_, diags) = parse(input.text)
        #expect(diags.count == 1)
        #expect(diags.first?.code == .syntax)
        #expect(diags.first?.location?.line == input["1️⃣"].line)
        #expect(diags.first?.location?.column == input["1️⃣"].column)
    }

    @Test("an error at the end of input without a final newline is placed on the last line, not after it (found by fuzzing)")
    func syntaxErrorAtEnd() {
        for (text, line, column) in [("a: [b, c", 1, 9), ("a: [é, c", 1, 9), ("a: [b,\rc", 2, 2), ("a:\n  b: {c: d,", 2, 12), ("a: [b, c\n", 2, 1), ("a: \"x", 1, 6)] {
            let (_, diags) = parse(text)
            #expect(diags.map(\.code) == [.syntax], "\(text.debugDescription)")
            #expect(diags.first?.location?.line == line && diags.first?.location?.column == column, "\(text.debugDescription): \(diags)")
            // Any line in the context message lies inside the input too.
            #expect(!(diags.first?.message.contains("line \(line + 1)") ?? false), "\(diags)")
        }
    }

    @Test("invalid UTF-8 is a syntax error, not a crash")
    func invalidUTF8() {
        let (_, diags) = YAMLReader.parseDocuments([0x61, 0x3A, 0x20, 0xFF, 0x0A], file: "x.yaml")
        #expect(diags.map(\.code) == [.syntax])
    }

    @Test("columns count Unicode scalars")
    func unicodeColumns() throws {
        let (docs, _) = parse("é: ü\nb: [ö, x]")
        let root = try #require(docs.first)
        #expect(root["é"]?.location.column == 4)
        #expect(root["b"]?.items[1].location.column == 8)
    }
}
