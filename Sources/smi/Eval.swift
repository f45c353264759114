import ArgumentParser
import SMIEngine

/// `smi eval`: one JSON answer per JSON request line (the contract in conformance/README.md).
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer access and split requests, one JSON object per line.",
        discussion: """
            Reads one JSON request per line from --requests FILE, or from standard input, \
            and prints one JSON answer per line, in order. Blank lines are skipped. Each \
            answer is written before more input is read, so a process can send requests \
            through a pipe one at a time and read each answer.

            Access request (method and path are required for http only):
              {"type":"access","source":"default/prometheus",
               "destination":"default/api-service","port":9090,"protocol":"http",
               "method":"GET","path":"/metrics?x=1","headers":{"user-agent":"curl/8"}}
            Answers ("path" is the normalized path of an http request):
              {"allowed":true,"trafficTarget":"default/api-service-metrics",
               "rule":"HTTPRouteGroup","match":"metrics","path":"/metrics"}
              {"allowed":false,"reason":"no-route-matched","path":"/metrics"}
            Deny reasons: path-rejected, no-traffic-target, source-not-allowed,
            port-not-allowed, no-route-matched, regex-budget-exceeded.

            Split request (entropy is an unsigned 64-bit integer; method, path,
            headers and port matter only for splits with matches):
              {"type":"split","service":"default/website","entropy":912093742110}
            Answer ("trafficSplit" is absent when no split applies):
              {"backend":"default/website-v2","trafficSplit":"default/website-canary"}

            A line that is not a valid request is answered {"error":"..."} and the \
            next line goes on. If the policy does not compile, nothing is printed on \
            standard output, every diagnostic is printed on standard error and the \
            exit status is 1.

            Examples:
              smi eval --policy examples/policies/seed.yaml \\
                  --requests examples/policies/seed-requests.jsonl
              echo '{"type":"split","service":"default/website","entropy":7}' \\
                  | smi eval --policy examples/policies/
            """
    )

    @OptionGroup
    var policy: PolicyArguments

    @Option(help: ArgumentHelp("Read requests from this file instead of standard input.", valueName: "file"))
    var requests: String?

    func run() throws {
        var reader = try openRequests()
        let policy = try self.policy.compile()
        let scratch = policy.makeScratch()
        var output = OutputBuffer(fd: 1)
        do {
            var lineNumber = 0
            while let line = try reader.next(beforeRead: { () throws(IOError) in try output.flush() }) {
                lineNumber += 1
                switch line {
                case .tooLong:
                    let limit = reader.maxLineBytes
                    try output.appendLine(Self.error("line \(lineNumber): longer than the limit of \(limit) bytes"))
                case .text(let bytes) where bytes.allSatisfy(Self.isJSONWhitespace):
                    continue
                case .text(let bytes):
                    try output.appendLine(Self.answer(bytes, lineNumber: lineNumber, policy: policy, scratch: scratch))
                }
            }
            try output.flush()
        } catch {
            StandardError.writeLine("smi: \(error)")
            throw ExitCode.failure
        }
    }

    /// The requests file, or standard input.
    private func openRequests() throws -> LineReader {
        guard let requests else { return LineReader(fd: 0) }
        do {
            return try LineReader.open(path: requests)
        } catch {
            StandardError.writeLine("smi: \(error)")
            throw ExitCode.failure
        }
    }

    /// The answer to one non-blank line.
    private static func answer(_ line: [UInt8], lineNumber: Int, policy: Policy, scratch: DecisionScratch) -> String {
        let request: EvalRequest
        do {
            request = try EvalRequest.decode(line)
        } catch {
            return Self.error("line \(lineNumber): \(error.message)")
        }
        var object = JSONObjectText()
        switch request {
        case .access(let access):
            let decision = policy.decide(access, scratch: scratch)
            object.add("allowed", decision.allowed)
            if decision.allowed {
                object.add("trafficTarget", decision.trafficTarget)
                object.add("rule", decision.ruleKind)
                object.add("match", decision.match)
            } else {
                object.add("reason", decision.reason?.rawValue)
            }
            // The scratch keeps the path of the last http decision: read it only for http.
            if access.transport == .http { object.add("path", scratch.normalizedPath) }
        case .split(let split):
            let decision = policy.selectBackend(split, scratch: scratch)
            object.add("backend", decision.backend)
            object.add("trafficSplit", decision.trafficSplit)
        }
        return object.finished
    }

    private static func error(_ message: String) -> String {
        var object = JSONObjectText()
        object.add("error", message)
        return object.finished
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
