import Foundation
import SMIBytecode
import SMIEngine
import Testing

/// Golden files (STYLE.md habit 2): each folder under Golden/ holds `input.yaml` and
/// `requests.jsonl` (the `smi eval` request format), and the checked-in outputs
/// `expected.disasm`, `expected.decisions` and `expected.diagnostics`.
/// `SMI_UPDATE_GOLDEN=1 swift test --filter GoldenTests` rewrites the outputs; review the diff.
@Suite("Golden files: manifests in, disassembly, decisions and diagnostics out")
struct GoldenTests {
    static let cases = [
        "seed-v1alpha1",
        "l4-and-l7-v1alpha3",
        "headers-both-forms",
        "split-quantities",
        "split-matches",
        "mixed-versions",
    ]

    @Test("each golden case compiles to the checked-in disassembly, decisions and diagnostics", arguments: cases)
    func goldenCase(_ name: String) throws {
        let folder = GoldenCase.folder(name)
        let input = try String(contentsOf: folder.appendingPathComponent("input.yaml"), encoding: .utf8)
        let requests = try String(contentsOf: folder.appendingPathComponent("requests.jsonl"), encoding: .utf8)
        let policy = try Policy.compile(text: input, name: "input.yaml")

        let disasm = policy.disassembly()
        let diagnostics = policy.diagnostics.map(\.description).joined(separator: "\n") + (policy.diagnostics.isEmpty ? "" : "\n")
        var decisions: [String] = []
        for (number, line) in requests.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            if line.hasPrefix("#") { continue }
            decisions.append(try GoldenCase.decide(String(line), policy: policy, lineNumber: number + 1))
        }
        let decisionText = decisions.joined(separator: "\n") + "\n"

        try GoldenCase.check(folder, "expected.disasm", disasm)
        try GoldenCase.check(folder, "expected.decisions", decisionText)
        try GoldenCase.check(folder, "expected.diagnostics", diagnostics)
    }

    @Test("compiling a golden input twice gives an identical program that the verifier accepts", arguments: cases)
    func deterministicAndVerified(_ name: String) throws {
        let input = try String(contentsOf: GoldenCase.folder(name).appendingPathComponent("input.yaml"), encoding: .utf8)
        let first = try Policy.compile(text: input, name: "input.yaml")
        let second = try Policy.compile(text: input, name: "input.yaml")
        #expect(first.program == second.program)
        #expect(first.disassembly() == second.disassembly())
        #expect(first.diagnostics == second.diagnostics)
        #expect(throws: Never.self) { try Verifier.verify(first.program) }
    }
}

/// Helpers of the golden suite.
enum GoldenCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    static var updating: Bool { ProcessInfo.processInfo.environment["SMI_UPDATE_GOLDEN"] == "1" }

    /// Compares `actual` with the file, or rewrites the file when updating.
    static func check(_ folder: URL, _ file: String, _ actual: String) throws {
        let url = folder.appendingPathComponent(file)
        if updating {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        if expected != actual {
            Issue.record(Comment(rawValue: "\(folder.lastPathComponent)/\(file) differs (rerun with SMI_UPDATE_GOLDEN=1 and review the diff):\n" + diff(expected, actual)))
        }
    }

    /// A line diff good enough for reading: `-` expected lines, `+` actual lines, with line numbers.
    static func diff(_ expected: String, _ actual: String) -> String {
        let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [String] = []
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? String(a[i]) : nil
            let y = i < b.count ? String(b[i]) : nil
            if x == y { continue }
            if let x { out.append("-\(i + 1): \(x)") }
            if let y { out.append("+\(i + 1): \(y)") }
            if out.count > 40 {
                out.append("...")
                break
            }
        }
        return out.joined(separator: "\n")
    }

    /// One request line in the `smi eval` format.
    struct RequestLine: Decodable {
        var type: String
        var source: String?
        var destination: String?
        var port: Int?
        var `protocol`: String?
        var method: String?
        var path: String?
        var headers: [String: String]?
        var service: String?
        var entropy: UInt64?
    }

    /// The request and its decision as one stable line.
    static func decide(_ line: String, policy: Policy, lineNumber: Int) throws -> String {
        let r = try JSONDecoder().decode(RequestLine.self, from: Data(line.utf8))
        // Header order: as written in the JSON object is lost by the decoder, so sort by name.
        let headers = (r.headers ?? [:]).sorted { $0.key < $1.key }.map { HTTPHeader($0.key, $0.value) }
        let headerText = headers.isEmpty ? "" : " [" + headers.map { "\($0.name): \($0.value)" }.joined(separator: "; ") + "]"
        switch r.type {
        case "access":
            let transport = try #require(TransportProtocol(rawValue: r.protocol ?? ""), "line \(lineNumber): bad protocol")
            let request = AccessRequest(
                source: r.source ?? "", destination: r.destination ?? "", port: r.port ?? 0, transport: transport,
                method: r.method ?? "GET", path: r.path ?? "/", headers: headers)
            let scratch = policy.makeScratch()
            let d = policy.decide(request, scratch: scratch)
            var text = transport == .http ? "\(request.method) \(request.path) " : ""
            text += "\(request.source) -> \(request.destination) :\(request.port) \(transport.rawValue)\(headerText) => "
            if d.allowed {
                text += "allow \(d.trafficTarget ?? "?") \(d.ruleKind ?? "?")"
                if let m = d.match { text += " \(m)" }
            } else {
                text += "deny \(d.reason?.rawValue ?? "?")"
            }
            if transport == .http, d.reason != .pathRejected {
                text += " (path \(scratch.normalizedPath ?? "-"))"
            }
            return text
        case "split":
            let request = SplitRequest(
                service: r.service ?? "", entropy: r.entropy ?? 0, method: r.method, path: r.path, headers: headers,
                port: r.port)
            let d = policy.selectBackend(request, scratch: policy.makeScratch())
            var text = "split \(request.service) entropy=\(request.entropy)"
            if let m = request.method { text += " \(m)" }
            if let p = request.path { text += " \(p)" }
            if let p = request.port { text += " :\(p)" }
            text += headerText + " => \(d.backend)"
            text += d.trafficSplit.map { " by \($0)" } ?? " (no split)"
            return text
        default:
            Issue.record("line \(lineNumber): unknown request type \(r.type)")
            return "?"
        }
    }
}
