#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failure to write the generated files.
public struct GenerateError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// What was generated, for the summary line.
public struct MeshSummary: Sendable, CustomStringConvertible {
    public var namespaces = 0
    public var trafficTargets = 0
    public var targetsByVersion: [Int: Int] = [:]
    public var routeGroups = 0
    public var routeMatches = 0
    public var tcpRoutes = 0
    public var udpRoutes = 0
    public var splits = 0
    public var splitsWithMatches = 0
    public var rules = 0
    public var policyBytes = 0
    public var requests = 0
    /// `class outcome` → count.
    public var outcomes: [String: Int] = [:]

    public var description: String {
        var s = "namespaces \(namespaces), TrafficTargets \(trafficTargets)"
        s += " (v1alpha1 \(targetsByVersion[1] ?? 0), v1alpha2 \(targetsByVersion[2] ?? 0), v1alpha3 \(targetsByVersion[3] ?? 0))"
        s += ", HTTPRouteGroups \(routeGroups) (\(routeMatches) matches), TCPRoutes \(tcpRoutes), UDPRoutes \(udpRoutes)"
        s += ", TrafficSplits \(splits) (\(splitsWithMatches) with matches), rules.jsonl lines \(rules)"
        s += ", policy \(policyBytes) bytes, requests \(requests)"
        for key in outcomes.keys.sorted() { s += "\n  \(key): \(outcomes[key] ?? 0)" }
        return s
    }
}

extension Mesh {
    /// Counts of the mesh and of `requests`.
    public func summary(requests: [GeneratedRequest] = [], policyBytes: Int = 0) -> MeshSummary {
        var s = MeshSummary()
        s.namespaces = Set(targets.map(\.namespace)).union(groups.map(\.namespace)).count
        s.trafficTargets = targets.count
        for t in targets { s.targetsByVersion[t.version, default: 0] += 1 }
        s.routeGroups = groups.count
        s.routeMatches = groups.reduce(0) { $0 + $1.matches.count }
        s.tcpRoutes = portRoutes.filter { $0.kind == .tcp }.count
        s.udpRoutes = portRoutes.filter { $0.kind == .udp }.count
        s.splits = splits.count
        s.splitsWithMatches = splits.filter { !$0.matches.isEmpty }.count
        s.rules = targets.reduce(0) { $0 + grantingUnits($1).count }
        s.policyBytes = policyBytes
        s.requests = requests.count
        for r in requests { s.outcomes[r.requestClass.rawValue + " " + r.outcome, default: 0] += 1 }
        return s
    }

    /// Writes `DIR/policy/<namespace>.yaml`, `DIR/requests.jsonl`, `DIR/expected.jsonl`,
    /// `DIR/rules.jsonl` and `DIR/splits.jsonl`, creating the folders. Returns the summary.
    @discardableResult
    public func write(to directory: String, requests: [GeneratedRequest]) throws(GenerateError) -> MeshSummary {
        try makeDirectory(directory)
        try makeDirectory(directory + "/policy")
        var bytes = 0
        for file in policyFiles() {
            bytes += file.text.utf8.count
            try writeFile(directory + "/policy/" + file.name, file.text)
        }
        var requestText = ""
        var expectedText = ""
        for r in requests {
            requestText += r.jsonLine + "\n"
            expectedText += r.expectedLine + "\n"
        }
        try writeFile(directory + "/requests.jsonl", requestText)
        try writeFile(directory + "/expected.jsonl", expectedText)
        try writeFile(directory + "/rules.jsonl", rulesJSONL())
        try writeFile(directory + "/splits.jsonl", splitsJSONL())
        return summary(requests: requests, policyBytes: bytes)
    }
}

func makeDirectory(_ path: String) throws(GenerateError) {
    var components: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: false) {
        components.append(part)
        let prefix = components.joined(separator: "/")
        if prefix.isEmpty { continue }
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw GenerateError(description: "cannot create `\(prefix)`: \(String(cString: strerror(errno)))")
        }
    }
}

func writeFile(_ path: String, _ text: String) throws(GenerateError) {
    guard let f = fopen(path, "wb") else {
        throw GenerateError(description: "cannot write `\(path)`: \(String(cString: strerror(errno)))")
    }
    var text = text
    let ok = text.withUTF8 { buffer in
        buffer.isEmpty || fwrite(buffer.baseAddress, 1, buffer.count, f) == buffer.count
    }
    if fclose(f) != 0 || !ok {
        throw GenerateError(description: "cannot write `\(path)`: \(String(cString: strerror(errno)))")
    }
}
