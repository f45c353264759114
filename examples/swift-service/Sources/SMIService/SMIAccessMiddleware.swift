import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SMIEngine

/// A request context that knows the local port its connection arrived on: the port an SMI
/// access decision is about (the pod/target port, SEMANTICS.md §2).
public protocol ConnectionPortProviding {
    /// The local port of the request's connection, when known.
    var localPort: Int? { get }
}

/// The service's request context: Hummingbird's core storage plus the connection's local port.
public struct SMIRequestContext: RequestContext, ConnectionPortProviding {
    /// Hummingbird's per-request storage (logger, parameters, endpoint path).
    public var coreContext: CoreRequestContextStorage
    /// The port the connection was accepted on.
    public let localPort: Int?

    /// Creates the context of a request arriving on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        localPort = source.channel.localAddress?.port
    }
}

/// A configuration value that is not valid, with the value and why.
public struct SMIServiceConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, for a person.
    public var description: String
}

/// How ``SMIAccessMiddleware`` turns a request into an ``AccessRequest`` and answers a deny.
public struct SMIAccessConfiguration: Sendable {
    /// This service's identity (`namespace/name` or a SPIFFE id): the decision's destination.
    public var destination: String
    /// The header the mesh sidecar sets to the caller's verified identity.
    public var sourceHeader: HTTPField.Name
    /// The port decisions are made for; nil means the port the connection arrived on.
    public var port: Int?
    /// The response header that carries the reason of a deny.
    public var denyReasonHeader: HTTPField.Name
    /// The response header that names the granting TrafficTarget; nil to leave it out.
    public var trafficTargetHeader: HTTPField.Name?

    /// Creates a configuration; header names must be HTTP tokens, the port 0–65535.
    public init(
        destination: String,
        sourceHeader: String = "x-smi-source",
        port: Int? = nil,
        denyReasonHeader: String = "x-smi-deny-reason",
        trafficTargetHeader: String? = "x-smi-traffic-target"
    ) throws(SMIServiceConfigurationError) {
        guard !destination.isEmpty else {
            throw SMIServiceConfigurationError(description: "the service identity (destination) is empty")
        }
        if let port, !(0...65535).contains(port) {
            throw SMIServiceConfigurationError(description: "port \(port) is outside 0-65535")
        }
        self.destination = destination
        self.port = port
        self.sourceHeader = try Self.fieldName(sourceHeader)
        self.denyReasonHeader = try Self.fieldName(denyReasonHeader)
        self.trafficTargetHeader = try trafficTargetHeader.map { name throws(SMIServiceConfigurationError) in
            try Self.fieldName(name)
        }
    }

    private static func fieldName(_ name: String) throws(SMIServiceConfigurationError) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else {
            throw SMIServiceConfigurationError(description: "`\(name)` is not a valid HTTP header name")
        }
        return field
    }
}

/// Why the middleware denied a request before asking the engine. The engine's own reasons are
/// ``DenyReason``'s spellings (SEMANTICS.md §7); these never collide with them.
public enum SMIServiceDenyReason: String, Sendable, CaseIterable {
    /// The request carries no source identity header (or an empty one).
    case missingSourceIdentity = "missing-source-identity"
    /// The request carries the source identity header more than once.
    case ambiguousSourceIdentity = "ambiguous-source-identity"
    /// No policy is loaded (answered with 503, not 403).
    case noPolicy = "no-policy"
}

/// Enforces SMI access policy on every request: allowed requests go on to the next handler with
/// the granting TrafficTarget in the logger metadata and a response header; denied ones get 403
/// with the reason in ``SMIAccessConfiguration/denyReasonHeader`` and a one-line body.
///
/// The decision uses the policy in force in `holder` (which a ``PolicyReloader`` may swap at any
/// time) and a scratch borrowed from `pool` for the length of the synchronous decision.
public struct SMIAccessMiddleware<Context: RequestContext & ConnectionPortProviding>: RouterMiddleware {
    /// The mapping from request to decision.
    public let configuration: SMIAccessConfiguration
    /// The policy in force.
    public let holder: PolicyHolder
    /// The scratches decisions borrow.
    public let pool: DecisionScratchPool

    /// Creates the middleware.
    public init(configuration: SMIAccessConfiguration, holder: PolicyHolder, pool: DecisionScratchPool) {
        self.configuration = configuration
        self.holder = holder
        self.pool = pool
    }

    /// Decides `request`; calls `next` only when the policy allows it.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let sources = request.headers[values: configuration.sourceHeader]
        guard sources.count == 1, let source = sources.first, !source.isEmpty else {
            let reason: SMIServiceDenyReason = sources.count > 1 ? .ambiguousSourceIdentity : .missingSourceIdentity
            context.logger.info("smi deny", metadata: ["smi.reason": "\(reason.rawValue)"])
            return deny(.forbidden, reason: reason.rawValue)
        }
        let accessRequest = Self.accessRequest(
            request, source: source, destination: configuration.destination,
            port: configuration.port ?? context.localPort ?? 0)
        let holder = self.holder
        guard let decision = pool.withScratch({ holder.decide(accessRequest, scratch: $0) }) else {
            context.logger.error("smi deny: no policy loaded")
            return deny(.serviceUnavailable, reason: SMIServiceDenyReason.noPolicy.rawValue)
        }
        guard decision.allowed, let trafficTarget = decision.trafficTarget else {
            let reason = decision.reason?.rawValue ?? DenyReason.noRouteMatched.rawValue
            context.logger.info(
                "smi deny",
                metadata: ["smi.source": "\(source)", "smi.reason": "\(reason)", "smi.port": "\(accessRequest.port)"])
            return deny(.forbidden, reason: reason)
        }
        var context = context
        context.logger[metadataKey: "smi.source"] = "\(source)"
        context.logger[metadataKey: "smi.traffic_target"] = "\(trafficTarget)"
        if let match = decision.match { context.logger[metadataKey: "smi.match"] = "\(match)" }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            // A handler's HTTP error (a 404, say) still says which grant let the request in.
            response = try error.response(from: request, context: context)
        }
        if let header = configuration.trafficTargetHeader { response.headers[header] = trafficTarget }
        return response
    }

    /// The engine's view of `request`: method, the raw request target (path and query exactly as
    /// received: the engine normalizes and judges it, SEMANTICS.md §5) and every header. HTTP/1's
    /// `Host` reaches Hummingbird as the `:authority` pseudo-header, so it is handed back as `host`.
    public static func accessRequest(_ request: Request, source: String, destination: String, port: Int) -> AccessRequest {
        var headers: [HTTPHeader] = []
        headers.reserveCapacity(request.headers.count + 1)
        var sawHost = false
        for field in request.headers {
            headers.append(HTTPHeader(field.name.rawName, field.value))
            if field.name.canonicalName == "host" { sawHost = true }
        }
        if let authority = request.head.authority, !sawHost {
            headers.append(HTTPHeader("host", authority))
        }
        return AccessRequest(
            source: source, destination: destination, port: port, transport: .http,
            method: request.method.rawValue, path: request.head.path ?? "", headers: headers)
    }

    private func deny(_ status: HTTPResponse.Status, reason: String) -> Response {
        var headers = HTTPFields()
        headers[configuration.denyReasonHeader] = reason
        headers[.contentType] = "text/plain; charset=utf-8"
        let body = "\(status == .forbidden ? "forbidden" : "unavailable"): \(reason)\n"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
