import Foundation
import SMILoader
import SMIModel
import SMITestSupport
import Testing

@Suite("inputs: documents, lists, JSON, files and folders")
struct InputTests {
    @Test("several documents, non-SMI objects skipped, empty documents ignored")
    func multiDocument() {
        let result = load(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r, namespace: b}
            spec: {matches: {ports: [80, 443]}}
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r, namespace: a}
            ---
            """
        )
        #expect(!result.diagnostics.containsErrors)
        #expect(result.diagnostics.map(\.code) == [.skipped])
        #expect(result.model.tcpRoutes.map(\.origin.id.qualifiedName) == ["a/r", "b/r"])
        #expect(result.model.tcpRoutes.last?.ports.map(\.value) == [80, 443])
        #expect(
            result.model.tcpRoutes.last?.ports.last?.location == SourceLocation(file: "test.yaml", line: 8, column: 30))
    }

    @Test("a kind: List is expanded, nested lists too")
    func list() {
        let result = load(
            """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: specs.smi-spec.io/v1alpha2
              kind: TCPRoute
              metadata: {name: a}
            - apiVersion: v1
              kind: List
              items:
              - apiVersion: specs.smi-spec.io/v1alpha3
                kind: TCPRoute
                metadata: {name: b}
            """
        )
        #expect(result.diagnostics.isEmpty)
        #expect(result.model.tcpRoutes.map(\.origin.id.name) == ["a", "b"])
    }

    @Test("a typed list from the API server (`TrafficSplitList`) is expanded too")
    func typedList() {
        let result = load(
            """
            apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplitList
            items:
            - apiVersion: split.smi-spec.io/v1alpha2
              kind: TrafficSplit
              metadata: {name: s}
              spec: {service: web, backends: [{service: v1, weight: 1}]}
            """
        )
        #expect(result.diagnostics.isEmpty)
        #expect(result.model.trafficSplits.count == 1)
    }

    @Test("diagnostics come by input in load order, then by position")
    func diagnosticOrder() {
        let bad =
            "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: r, x: 1}\nspec: {matches: {ports: [true]}, y: 1}\n"
        let result = PolicyLoader.load(sources: [
            PolicySource(name: "z.yaml", text: bad), PolicySource(name: "a.yaml", text: bad),
        ])
        #expect(result.diagnostics.map(\.location?.file) == ["z.yaml", "z.yaml", "a.yaml", "a.yaml", "a.yaml"])
        #expect(result.diagnostics.map(\.code) == [.wrongType, .unknownField, .redefined, .wrongType, .unknownField])
        #expect(result.diagnostics.map { $0.location?.line ?? 0 } == [4, 4, 3, 4, 4])
    }

    @Test("a document that is not a mapping is an error")
    func notAMapping() {
        expectDiagnostics("1️⃣- a\n- b\n", [("1️⃣", .wrongType, .error)])
        expectDiagnostics("1️⃣just text\n", [("1️⃣", .wrongType, .error)])
    }

    @Test("JSON input, with exact positions, a List included")
    func json() {
        let input = MarkedText(
            """
            {
              "apiVersion": "v1",
              "kind": "List",
              "items": [
                {
                  "apiVersion": "split.smi-spec.io/v1alpha2",
                  "kind": "TrafficSplit",
                  "metadata": {"name": "s"},
                  "spec": {"service": "web", "backends": [{"service": "v1", "weight": 1️⃣-5}]}
                },
                {
                  "apiVersion": "specs.smi-spec.io/v1alpha4",
                  "kind": "HTTPRouteGroup",
                  "metadata": {"name": "g"},
                  "spec": {"matches": [{"name": "m", "headers": {"x-debug": 2️⃣1}}]}
                }
              ]
            }
            """
        )
        let result = PolicyLoader.load(sources: [PolicySource(name: "policy.json", text: input.text)])
        #expect(errors(result).map(\.code) == [.invalidValue, .wrongType])
        #expect(errors(result).map { $0.location?.line } == [input["1️⃣"].line, input["2️⃣"].line])
        #expect(errors(result).map { $0.location?.column } == [input["1️⃣"].column, input["2️⃣"].column])
        #expect(errors(result).first?.location?.file == "policy.json")

        // Content sniffing: a name without extension starting with `{` is JSON.
        let sniffed = PolicyLoader.load(sources: [
            PolicySource(
                name: "stdin",
                text:
                    "{\"apiVersion\": \"specs.smi-spec.io/v1alpha1\", \"kind\": \"TCPRoute\", \"metadata\": {\"name\": \"r\"}, }"
            )
        ])
        #expect(sniffed.diagnostics.map(\.code) == [.syntax])
    }

    @Test("files and folders: sorted, recursive, only policy extensions; missing paths are io errors")
    func folders() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "smi-loader-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: root) }
        let nested = root.appendingPathComponent("b/c")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        func write(_ path: String, _ text: String) throws {
            try text.write(to: root.appendingPathComponent(path), atomically: true, encoding: .utf8)
        }
        let route = { (name: String) in
            "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: \(name)}\n"
        }
        try write("a.yaml", route("r1"))
        try write("b/c/d.yml", route("r1"))  // later in path order: redefines
        try write(
            "b/x.json",
            "{\"apiVersion\": \"specs.smi-spec.io/v1alpha4\", \"kind\": \"UDPRoute\", \"metadata\": {\"name\": \"u\"}}")
        try write("b/notes.txt", "not: [valid")

        let result = PolicyLoader.load(paths: [root.path])
        #expect(result.diagnostics.map(\.code) == [.redefined])
        #expect(result.diagnostics.first?.location?.file == root.appendingPathComponent("b/c/d.yml").path)
        #expect(result.model.tcpRoutes.count == 1)
        #expect(result.model.udpRoutes.count == 1)

        // A file named directly is read whatever its extension.
        let text = PolicyLoader.load(paths: [root.appendingPathComponent("b/notes.txt").path])
        #expect(text.diagnostics.map(\.code) == [.syntax])

        let missing = root.appendingPathComponent("nope.yaml").path
        let io = PolicyLoader.load(paths: [missing])
        #expect(io.diagnostics.map(\.code) == [.io])
        #expect(io.diagnostics.first?.location?.file == missing)
    }

    @Test("limits: document size and resource count")
    func limits() {
        var limits = LoaderLimits()
        limits.maxDocumentBytes = 10
        #expect(load("apiVersion: v1\nkind: x\n", limits: limits).diagnostics.map(\.code) == [.limitExceeded])
        limits = LoaderLimits()
        limits.maxResources = 1
        let two =
            "apiVersion: specs.smi-spec.io/v1alpha1\nkind: TCPRoute\nmetadata: {name: a}\n---\napiVersion: specs.smi-spec.io/v1alpha1\nkind: TCPRoute\nmetadata: {name: b}\n"
        let result = load(two, limits: limits)
        #expect(result.diagnostics.map(\.code) == [.limitExceeded])
        #expect(result.model.tcpRoutes.count == 1)
    }

    @Test("garbage never crashes the loader")
    func garbage() {
        var generator = SystemRandomNumberGenerator()
        let samples = [
            "apiVersion: access.smi-spec.io/v1alpha3\nkind: TrafficTarget\nmetadata: {name: t}\nspec:\n  destination: {kind: ServiceAccount, name: b}\n  sources: [{kind: ServiceAccount, name: a}]\n  rules: [{kind: HTTPRouteGroup, name: g, matches: [m]}]\n",
            "{\"apiVersion\": \"split.smi-spec.io/v1alpha1\", \"kind\": \"TrafficSplit\", \"metadata\": {\"name\": \"s\"}, \"spec\": {\"service\": \"a\", \"backends\": [{\"service\": \"b\", \"weight\": \"500m\"}]}}",
        ]
        for sample in samples {
            let bytes = Array(sample.utf8)
            for _ in 0..<300 {
                var mutated = bytes
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<mutated.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: mutated[index] = UInt8.random(in: 0...255, using: &generator)
                    case 1: mutated.remove(at: index)
                    default: mutated.insert(mutated[index], at: index)
                    }
                    if mutated.isEmpty { break }
                }
                _ = PolicyLoader.load(sources: [PolicySource(name: "fuzz", bytes: mutated)])
            }
        }
    }
}
