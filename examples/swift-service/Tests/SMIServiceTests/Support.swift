import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import SMIEngine
import SMIService

/// A temporary policy folder, removed by ``remove()``.
struct PolicyFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("smi-service-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }

    /// Writes `text` to `name` atomically (a temporary file renamed over it), as a deploy tool would.
    func write(_ name: String, _ text: String) throws {
        try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func delete(_ name: String) throws {
        try FileManager.default.removeItem(at: url.appendingPathComponent(name))
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The policy most tests run with (SMI v1alpha1, destination `default/api-service`):
/// - `website` may GET `/api/items...` (TrafficTarget `website-reads`);
/// - `prometheus` may too, but only on port 9, never the test server's port (`prometheus-port-9`);
/// - `operator` may GET `/-/policy` (`operator-status`);
/// - `partner` may GET `/api/items...` only with `host: localhost` and `x-tenant: blue`
///   (`partner-by-host`).
let basePolicy = """
    apiVersion: specs.smi-spec.io/v1alpha1
    kind: HTTPRouteGroup
    metadata:
      name: api-routes
      namespace: default
    matches:
    - name: read-items
      pathRegex: /api/items
      methods: ["GET"]
    - name: status
      pathRegex: /-/policy
      methods: ["GET"]
    - name: partner-items
      pathRegex: /api/items
      methods: ["GET"]
      headers:
        host: "localhost(:[0-9]+)?"
        x-tenant: blue
    ---
    apiVersion: access.smi-spec.io/v1alpha1
    kind: TrafficTarget
    metadata:
      name: website-reads
      namespace: default
    destination:
      kind: ServiceAccount
      name: api-service
      namespace: default
    specs:
    - kind: HTTPRouteGroup
      name: api-routes
      matches: [read-items]
    sources:
    - kind: ServiceAccount
      name: website
      namespace: default
    ---
    apiVersion: access.smi-spec.io/v1alpha1
    kind: TrafficTarget
    metadata:
      name: prometheus-port-9
      namespace: default
    destination:
      kind: ServiceAccount
      name: api-service
      namespace: default
      port: 9
    specs:
    - kind: HTTPRouteGroup
      name: api-routes
      matches: [read-items]
    sources:
    - kind: ServiceAccount
      name: prometheus
      namespace: default
    ---
    apiVersion: access.smi-spec.io/v1alpha1
    kind: TrafficTarget
    metadata:
      name: operator-status
      namespace: default
    destination:
      kind: ServiceAccount
      name: api-service
      namespace: default
    specs:
    - kind: HTTPRouteGroup
      name: api-routes
      matches: [status]
    sources:
    - kind: ServiceAccount
      name: operator
      namespace: default
    ---
    apiVersion: access.smi-spec.io/v1alpha1
    kind: TrafficTarget
    metadata:
      name: partner-by-host
      namespace: default
    destination:
      kind: ServiceAccount
      name: api-service
      namespace: default
    specs:
    - kind: HTTPRouteGroup
      name: api-routes
      matches: [partner-items]
    sources:
    - kind: ServiceAccount
      name: partner
      namespace: default

    """

/// A quiet logger: reload failures (errors) still print, per-request lines do not.
func testLogger() -> Logger {
    var logger = Logger(label: "smi-service-test")
    logger.logLevel = .error
    return logger
}

/// Builds the service on `folder` for `destination`, reading the folder every 50 ms.
func makeTestService(
    folder: PolicyFolder, destination: String = "default/api-service"
) throws -> (application: some ApplicationProtocol, parts: SMIServiceParts) {
    let access = try SMIAccessConfiguration(destination: destination)
    let configuration = SMIServiceConfiguration(
        policyFolder: folder.path, access: access, port: 0, reloadInterval: .milliseconds(50), scratchPoolCapacity: 4)
    return try makeSMIServiceApplication(configuration: configuration, logger: testLogger())
}

/// Headers with the sidecar's source identity.
func from(_ identity: String, _ extra: [(String, String)] = []) -> HTTPFields {
    var fields = HTTPFields()
    if let name = HTTPField.Name("x-smi-source") { fields.append(HTTPField(name: name, value: identity)) }
    for (n, v) in extra {
        if let name = HTTPField.Name(n) { fields.append(HTTPField(name: name, value: v)) }
    }
    return fields
}

let denyReasonHeader = HTTPField.Name("x-smi-deny-reason")
let trafficTargetHeader = HTTPField.Name("x-smi-traffic-target")

extension TestResponse {
    var denyReason: String? { denyReasonHeader.flatMap { headers[$0] } }
    var trafficTarget: String? { trafficTargetHeader.flatMap { headers[$0] } }
    var text: String { String(buffer: body) }
}

/// Runs `probe` until it returns a value or `limit` passes (a bound, not a wait: it returns as
/// soon as the probe succeeds).
func eventually<T>(within limit: Duration = .seconds(20), _ probe: () async throws -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await probe()
}
