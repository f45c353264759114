import Foundation
import SMILoader
import SMIModel
import Testing

/// The real-world manifests in ../shared/realworld, next to the package folder.
private let realworld: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // SMILoaderTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // main
    .deletingLastPathComponent()
    .appendingPathComponent("shared/realworld")

private struct Expectation: Decodable {
    var file: String
    var expect: String
}

private func expectations() throws -> [Expectation] {
    let data = try Data(contentsOf: realworld.appendingPathComponent("expectations.json"))
    return try JSONDecoder().decode([Expectation].self, from: data)
}

/// Files whose expected error the loader itself must find (the others fail later, in the compiler).
private let loaderErrorFiles: Set<String> = [
    "manifests/openservicemesh-osm-docs/tcp_traffic_routing-block9.yaml",
    "manifests/traefik-mesh/v1.0-docs-configuration-block7-missing-colon.yaml",
    "manifests/nginxinc-nginx-service-mesh/docs-smi-traffic-policies-block0.yaml",
    "manifests/layer5io-learn-layer5/traffic-spec-03-install.yaml",
    "manifests/layer5io-learn-layer5/traffic-spec-05-install.yaml",
    "manifests/linkerd-website/blog-2022-0309-multi-cluster-failover-block1.yaml",
]

@Suite("real-world manifests")
struct CorpusTests {
    @Test("every manifest expected to load gives no loader error")
    func loads() throws {
        let entries = try expectations()
        #expect(entries.count > 50)
        for entry in entries where entry.expect == "loads" {
            let path = realworld.appendingPathComponent(entry.file).path
            let result = PolicyLoader.load(paths: [path])
            let errors = result.diagnostics.filter { $0.severity == .error }
            #expect(errors.isEmpty, "\(entry.file):\n\(errors.map(\.description).joined(separator: "\n"))")
        }
    }

    @Test("the syntax and layout error files give loader errors")
    func fails() throws {
        let entries = try expectations()
        for file in loaderErrorFiles {
            #expect(entries.contains { $0.file == file && $0.expect == "error" }, "\(file) is not expected to fail")
            let result = PolicyLoader.load(paths: [realworld.appendingPathComponent(file).path])
            #expect(result.diagnostics.containsErrors, "\(file) loaded without errors")
        }
    }

    @Test("the whole corpus loads as one folder without crashing")
    func wholeFolder() {
        let result = PolicyLoader.load(paths: [realworld.appendingPathComponent("manifests").path])
        #expect(result.model.resourceCount > 50)
    }
}
