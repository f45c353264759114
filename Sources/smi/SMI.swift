import ArgumentParser

/// `smi`: compile SMI policies and ask them questions from the command line.
@main
struct SMI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smi",
        abstract: "Compile SMI (Service Mesh Interface) policies and evaluate requests against them.",
        discussion: """
            A policy is one or more YAML/JSON files or folders of SMI resources (TrafficTarget, \
            HTTPRouteGroup, TCPRoute, UDPRoute, TrafficSplit). Diagnostics are printed as \
            FILE:LINE:COLUMN: error: MESSAGE on standard error.

            Examples:
              smi eval --policy policies/ --requests requests.jsonl
              smi lint manifests/
              smi explain --policy policies/ --source default/prometheus \\
                  --destination default/api-service --port 9090 --protocol http \\
                  --path /metrics
              smi disasm --policy policies/
              smi compile policies/ -o policy.smib
              smi info policy.smib
              smi eval --bundle policy.smib --requests requests.jsonl
              smi generate --targets 1000 --seed 1 --out /tmp/mesh
            """,
        subcommands: [Eval.self, Lint.self, Explain.self, Disasm.self, Compile.self, Info.self, Generate.self]
    )
}
