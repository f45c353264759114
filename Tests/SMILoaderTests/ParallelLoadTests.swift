import Foundation
import SMILoader
import SMIModel
import Testing

/// Inputs load on several threads (`LoaderLimits.threads`) and are merged in load order: the
/// model and the diagnostics, their order included, must not depend on the thread count.
@Suite("Loading on several threads")
struct ParallelLoadTests {
    /// Five inputs with problems in most of them: a wrong type and an unknown field, a duplicate key
    /// inside an SMI object, a non-SMI object, a syntax error after a valid object, a JSON error, a
    /// redefinition across files, a duplicate key outside any SMI object, an unknown version.
    static let files: [(name: String, text: String)] = [
        (
            "a.yaml",
            """
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata:
              name: t1
              namespace: ns
            spec:
              destination: {kind: ServiceAccount, name: api}
              sources:
              - {kind: ServiceAccount, name: web}
              rules: 5
              colour: blue
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r1, name: r2}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: svc}

            """
        ),
        (
            "b.yaml",
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: ok}
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: UDPRoute
            metadata: [name

            """
        ),
        (
            "c.json",
            """
            {"apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "HTTPRouteGroup", "metadata": {"name": "g"}, "spec": {"matches": 3}}

            """
        ),
        (
            "d.yaml",
            """
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: ok}
            ---
            kind: Thing
            a: 1
            a: 2

            """
        ),
        (
            "e.yaml",
            """
            apiVersion: specs.smi-spec.io/v1alpha9
            kind: TCPRoute
            metadata: {name: z}

            """
        ),
    ]

    static func sources() -> [PolicySource] {
        files.map { PolicySource(name: $0.name, text: $0.text) }
    }

    /// `file:line:column code`, the part of a diagnostic whose order is checked.
    static func summary(_ result: LoadResult) -> [String] {
        result.diagnostics.map { d in
            "\(d.location.map { "\($0.file):\($0.line):\($0.column)" } ?? "-") \(d.code)"
        }
    }

    @Test("errors in several files come out in the order a one-thread load gives, for any thread count")
    func orderOfDiagnostics() {
        // The order a one-by-one load gave before loading used threads (checked with that build's
        // `smi lint` on the same files).
        let expected = [
            "a.yaml:10:10 wrong-type", "a.yaml:11:3 unknown-field", "a.yaml:15:22 duplicate-key",
            "a.yaml:17:1 skipped", "b.yaml:8:1 syntax", "c.json:1:119 wrong-type", "d.yaml:3:18 redefined",
            "d.yaml:5:1 skipped", "d.yaml:7:1 duplicate-key", "e.yaml:1:13 invalid-value",
        ]
        var limits = LoaderLimits()
        limits.threads = 1
        let reference = PolicyLoader.load(sources: Self.sources(), limits: limits)
        #expect(Self.summary(reference) == expected)
        #expect(reference.model.tcpRoutes.map(\.origin.id.name) == ["ok"])
        for threads in [2, 3, 5, 8] {
            limits.threads = threads
            let result = PolicyLoader.load(sources: Self.sources(), limits: limits)
            #expect(result.diagnostics == reference.diagnostics, "threads: \(threads)")
            #expect(result.model == reference.model, "threads: \(threads)")
            #expect(result.timings.threads == min(threads, Self.files.count))
        }
    }

    @Test("the resource limit cuts at the same object for any thread count, even inside a file")
    func resourceLimitAcrossThreads() {
        // With a limit of 1, the TCPRoute of a.yaml is the second resource: it is not decoded, so
        // its duplicate key is a plain error without a resource, after the limit error.
        var limits = LoaderLimits()
        limits.maxResources = 1
        limits.threads = 1
        let reference = PolicyLoader.load(sources: Self.sources(), limits: limits)
        #expect(
            Array(Self.summary(reference).prefix(4)) == [
                "a.yaml:10:10 wrong-type", "a.yaml:11:3 unknown-field", "a.yaml:13:1 limit-exceeded",
                "a.yaml:15:22 duplicate-key",
            ])
        #expect(reference.diagnostics.count { $0.code == .limitExceeded } == 1)
        #expect(reference.diagnostics.first { $0.code == .duplicateKey }?.resource == nil)
        for maxResources in [0, 1, 2, 3, 4] {
            limits.maxResources = maxResources
            limits.threads = 1
            let one = PolicyLoader.load(sources: Self.sources(), limits: limits)
            for threads in [2, 4] {
                limits.threads = threads
                let many = PolicyLoader.load(sources: Self.sources(), limits: limits)
                #expect(many.diagnostics == one.diagnostics, "maxResources \(maxResources), threads \(threads)")
                #expect(many.model == one.model, "maxResources \(maxResources), threads \(threads)")
            }
        }
    }

    @Test("a folder with many files loads the same on one thread and on several")
    func folderOfFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "smi-parallel-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        // 60 files (more than the helpers' look-ahead window): the problem files over and over,
        // so later copies also redefine the resources of earlier ones.
        for i in 0..<60 {
            let name = String(format: "f%03d", i)
            let (suffix, text) = Self.files[i % Self.files.count]
            let ext = suffix.hasSuffix(".json") ? "json" : "yaml"
            try text.write(to: root.appendingPathComponent("\(name).\(ext)"), atomically: true, encoding: .utf8)
        }
        var limits = LoaderLimits()
        limits.threads = 1
        let one = PolicyLoader.load(paths: [root.path, root.appendingPathComponent("missing.yaml").path], limits: limits)
        #expect(one.diagnostics.count { $0.code == .redefined } > 12)
        #expect(one.diagnostics.last?.code == .io)
        for threads in [2, 3, 7] {
            limits.threads = threads
            let many = PolicyLoader.load(
                paths: [root.path, root.appendingPathComponent("missing.yaml").path], limits: limits)
            #expect(many.diagnostics == one.diagnostics, "threads: \(threads)")
            #expect(many.model == one.model, "threads: \(threads)")
        }
    }
}

@Suite("API versions")
struct APIVersionParsingTests {
    @Test("group/v1alphaN parses; everything else, signs and overflow included, as Int(_:) reads it")
    func parsing() {
        #expect(APIVersion(parsing: "access.smi-spec.io/v1alpha3") == APIVersion(.access, 3))
        #expect(APIVersion(parsing: "specs.smi-spec.io/v1alpha4") == APIVersion(.specs, 4))
        #expect(APIVersion(parsing: "split.smi-spec.io/v1alpha12") == APIVersion(.split, 12))
        #expect(APIVersion(parsing: "split.smi-spec.io/v1alpha+2") == APIVersion(.split, 2))
        for text in [
            "split.smi-spec.io/v1alpha0", "split.smi-spec.io/v1alpha-1", "split.smi-spec.io/v1alpha",
            "split.smi-spec.io/v1alpha+", "split.smi-spec.io/v1beta1", "split.smi-spec.io/v1alpha1/x",
            "split.smi-spec.io/v1alpha99999999999999999999", "other.io/v1alpha1", "v1alpha1", "",
            "split.smi-spec.io/v1alpha1 ", "split.smi-spec.io/v1alpha١",
        ] {
            #expect(APIVersion(parsing: text) == nil, "\(text)")
        }
    }
}
