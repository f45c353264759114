import ArgumentParser
import SMIEngine

/// `smi explain`: why one access request is allowed or denied, for a person.
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain, target by target, why an access request is allowed or denied.",
        discussion: """
            Prints the decision and, for every TrafficTarget of the destination, how far the \
            request got (source, port, route) and why it stopped. The exit status is 0 \
            whether the request is allowed or denied, 1 if the policy does not compile.

            Examples:
              smi explain --policy examples/policies/seed.yaml \\
                  --source default/prometheus --destination default/api-service \\
                  --port 9090 --protocol http --method GET --path /metrics
              smi explain --policy policies/ --source shop/orders \\
                  --destination shop/postgres --port 5432 --protocol tcp
              smi explain --policy policies/ --source default/gateway \\
                  --destination default/backend --port 80 --protocol http \\
                  --path /api --header 'User-Agent: Mozilla/5.0 (iPhone)'
            """
    )

    @OptionGroup
    var policy: PolicyArguments

    @Option(help: ArgumentHelp("The caller: namespace/name or a SPIFFE id.", valueName: "identity"))
    var source: String

    @Option(help: ArgumentHelp("The protected workload: namespace/name or a SPIFFE id.", valueName: "identity"))
    var destination: String

    @Option(help: ArgumentHelp("The port the connection arrived on (0-65535).", valueName: "port"))
    var port: Int

    @Option(name: .customLong("protocol"), help: "http, tcp or udp.")
    var transport: TransportArgument

    @Option(help: "The HTTP method (http only).")
    var method = "GET"

    @Option(help: ArgumentHelp("The request target, with an optional ?query (http only).", valueName: "path"))
    var path = "/"

    @Option(
        name: .customLong("header"),
        help: ArgumentHelp("A request header, 'Name: value' (http only); repeat for more.", valueName: "header")
    )
    var headerLines: [String] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        _ = try headers()
    }

    func run() throws {
        let request = AccessRequest(
            source: source,
            destination: destination,
            port: port,
            transport: transport.value,
            method: method,
            path: path,
            headers: try headers()
        )
        print(try policy.compile().explain(request).description)
    }

    /// The `--header` options, folded by ``HeaderList``.
    private func headers() throws -> [HTTPHeader] {
        var headers = HeaderList()
        for line in headerLines {
            guard let colon = line.firstIndex(of: ":") else {
                throw ValidationError("--header `\(line)` must be written 'Name: value'")
            }
            let name = String(line[..<colon]).trimmingSpaces
            guard !name.isEmpty else { throw ValidationError("--header `\(line)` has no name") }
            let value = String(line[line.index(after: colon)...]).trimmingSpaces
            headers.add(name: name, value: value)
        }
        return headers.headers
    }
}

/// `--protocol`, spelled as in requests.
enum TransportArgument: String, CaseIterable, ExpressibleByArgument {
    case http, tcp, udp

    var value: TransportProtocol {
        switch self {
        case .http: return .http
        case .tcp: return .tcp
        case .udp: return .udp
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
