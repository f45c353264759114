import Foundation
import SMIBytecode
import Testing

@Suite("Documentation stays derived from the code")
struct DocsTests {
    static let bytecodeDoc = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/BYTECODE.md")

    @Test("docs/BYTECODE.md lists exactly the opcode table of the code")
    func opcodeTableMatches() throws {
        let text = try String(contentsOf: Self.bytecodeDoc, encoding: .utf8)
        let begin = "<!-- opcode-table:begin -->\n"
        let end = "<!-- opcode-table:end -->"
        let start = try #require(text.range(of: begin))
        let stop = try #require(text.range(of: end))
        let documented = String(text[start.upperBound..<stop.lowerBound])
        let expected = Opcode.markdownTable + "\n"
        if ProcessInfo.processInfo.environment["SMI_UPDATE_GOLDEN"] == "1" {
            let updated = String(text[..<start.upperBound]) + expected + String(text[stop.lowerBound...])
            try updated.write(to: Self.bytecodeDoc, atomically: true, encoding: .utf8)
            return
        }
        #expect(documented == expected, "docs/BYTECODE.md's opcode table is stale; rerun with SMI_UPDATE_GOLDEN=1")
        for op in Opcode.allCases {
            #expect(documented.contains("`\(op.info.mnemonic)`"))
        }
    }
}
