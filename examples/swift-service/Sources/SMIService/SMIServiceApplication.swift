import Foundation
import Hummingbird
import Logging
import SMIEngine

/// Everything the example service is configured with.
public struct SMIServiceConfiguration: Sendable {
    /// The policy folder (or file) compiled and watched.
    public var policyFolder: String
    /// How requests map to decisions.
    public var access: SMIAccessConfiguration
    /// The address to listen on. The default, loopback, suits a service behind a sidecar that
    /// sets the source identity header: nothing else may reach the service directly.
    public var host: String
    /// The port to listen on.
    public var port: Int
    /// How often the policy folder is read.
    public var reloadInterval: Duration
    /// Compile options (SEMANTICS.md defaults).
    public var policyOptions: PolicyOptions
    /// Scratches in the pool; nil picks four per processor (at most 64).
    public var scratchPoolCapacity: Int?

    /// Creates a configuration.
    public init(
        policyFolder: String, access: SMIAccessConfiguration, host: String = "127.0.0.1", port: Int = 8080,
        reloadInterval: Duration = .seconds(2), policyOptions: PolicyOptions = .init(), scratchPoolCapacity: Int? = nil
    ) {
        self.policyFolder = policyFolder
        self.access = access
        self.host = host
        self.port = port
        self.reloadInterval = reloadInterval
        self.policyOptions = policyOptions
        self.scratchPoolCapacity = scratchPoolCapacity
    }
}

/// The parts of a built service that a caller may want to look at.
public struct SMIServiceParts: Sendable {
    /// The policy in force.
    public let holder: PolicyHolder
    /// The folder watcher (also one of the application's services).
    public let reloader: PolicyReloader
    /// The scratches the middleware borrows.
    public let pool: DecisionScratchPool
}

/// What `/-/policy` answers: the reloader's status and the service's identity.
public struct PolicyStatusResponse: ResponseCodable {
    /// The service's identity (the decisions' destination).
    public var destination: String
    /// The header read for the caller's identity.
    public var sourceHeader: String
    /// The reloader's status.
    public var reload: PolicyReloadStatus
}

/// Builds the example service: loads the policy (throws its diagnostics if it does not compile),
/// then returns the application with the access middleware on every route, the folder watcher
/// as a service, and a few routes.
///
/// Routes, all behind the access check:
/// - `GET /-/policy`: the reload status as JSON (grant it to an operator's identity);
/// - `GET /api/items`, `GET /api/items/{id}`, `POST /api/items`: a toy resource that answers who
///   called and which TrafficTarget let them in.
public func makeSMIServiceApplication(
    configuration: SMIServiceConfiguration, logger: Logger
) throws -> (application: some ApplicationProtocol, parts: SMIServiceParts) {
    let holder = PolicyHolder()
    let reloader = PolicyReloader(
        folder: configuration.policyFolder, holder: holder, interval: configuration.reloadInterval,
        options: configuration.policyOptions, logger: logger)
    try reloader.loadInitial()
    let capacity = configuration.scratchPoolCapacity ?? ProcessInfo.processInfo.activeProcessorCount * 4
    let pool = DecisionScratchPool(capacity: capacity)

    let router = Router(context: SMIRequestContext.self)
    router.add(middleware: SMIAccessMiddleware(configuration: configuration.access, holder: holder, pool: pool))
    let access = configuration.access
    router.get("/-/policy") { _, _ in
        PolicyStatusResponse(
            destination: access.destination, sourceHeader: access.sourceHeader.rawName, reload: reloader.status)
    }
    router.get("/api/items") { request, _ in
        "items for \(request.headers[access.sourceHeader] ?? "?")\n"
    }
    router.get("/api/items/{id}") { request, context in
        let id = try context.parameters.require("id")
        return "item \(id) for \(request.headers[access.sourceHeader] ?? "?")\n"
    }
    router.post("/api/items") { _, _ in
        Response(status: .created)
    }

    let application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "smi-service"),
        services: [reloader],
        logger: logger)
    return (application, SMIServiceParts(holder: holder, reloader: reloader, pool: pool))
}
