import ArgumentParser
import Hummingbird
import Logging
import SMIEngine
import SMIService

/// `smi-service`: the example service from the command line.
@main
struct SMIServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smi-service",
        abstract: "A Hummingbird service that enforces SMI access policy and reloads it when the folder changes.")

    @Option(name: .long, help: "The policy folder (or file): SMI manifests in YAML or JSON.")
    var policy: String

    @Option(name: .long, help: "This service's identity, `namespace/name` or a SPIFFE id (the decisions' destination).")
    var identity: String

    @Option(name: .long, help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "The port to listen on.")
    var port: Int = 8080

    @Option(name: .long, help: "The request header carrying the caller's identity, as the mesh sidecar sets it.")
    var sourceHeader: String = "x-smi-source"

    @Option(name: .long, help: "The port decisions are made for (default: the port the connection arrived on).")
    var policyPort: Int?

    @Option(name: .long, help: "Seconds between reads of the policy folder.")
    var reloadInterval: Double = 2

    @Option(name: .long, help: "Accept SPIFFE ids of this trust domain only.")
    var trustDomain: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard reloadInterval > 0, reloadInterval <= 86_400 else {
            throw ValidationError("--reload-interval must be above 0 and at most 86400 seconds")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level `\(logLevel)`") }
    }

    func run() async throws {
        var logger = Logger(label: "smi-service")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let access: SMIAccessConfiguration
        do {
            access = try SMIAccessConfiguration(destination: identity, sourceHeader: sourceHeader, port: policyPort)
        } catch {
            throw ValidationError(error.description)
        }
        var options = PolicyOptions()
        options.trustDomain = trustDomain
        let configuration = SMIServiceConfiguration(
            policyFolder: policy, access: access, host: host, port: port,
            reloadInterval: .milliseconds(Int64(reloadInterval * 1000)), policyOptions: options)
        do {
            let (application, parts) = try makeSMIServiceApplication(configuration: configuration, logger: logger)
            logger.info(
                "smi-service starting",
                metadata: ["identity": "\(identity)", "policy": "\(policy)", "pool": "\(parts.pool.capacity)"])
            try await application.runService()
        } catch let error as PolicyCompileError {
            for diagnostic in error.diagnostics { logger.error("\(diagnostic)") }
            throw ExitCode(1)
        }
    }
}
