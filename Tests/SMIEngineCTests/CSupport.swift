import CSMIEngine
import Foundation
import SMIEngine
import Testing

/// Test helpers that call the C API the way a C program does: through the header's prototypes
/// (CSMIEngine), with C-allocated strings.

/// C strings that live as long as the arena.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var arrays: [() -> Void] = []

    deinit {
        for b in blocks { free(b) }
        for a in arrays { a() }
    }

    /// `s` as an smi_string (its own copy, not NUL-terminated on purpose: one byte more is
    /// allocated and filled with 'X' so that a reader running past the length is visible).
    func str(_ s: String) -> smi_string {
        let bytes = Array(s.utf8)
        guard let p = malloc(bytes.count + 1) else { fatalError("malloc") }
        blocks.append(p)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(p), byteCount: bytes.count) }
        p.storeBytes(of: UInt8(ascii: "X"), toByteOffset: bytes.count, as: UInt8.self)
        return smi_string(data: p.assumingMemoryBound(to: CChar.self), length: bytes.count)
    }

    /// A C array of `values`, alive as long as the arena.
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        p.initialize(from: values, count: values.count)
        arrays.append { p.deallocate() }
        return p
    }
}

extension smi_string {
    /// The bytes as a string, nil for `{NULL, 0}`.
    var text: String? {
        guard let data else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }
}

func statusName(_ s: smi_status) -> String { String(cString: smi_status_string(s)) }

/// The result of smi_policy_compile as Swift values; releases what it holds.
final class Compiled {
    let status: smi_status
    let policy: OpaquePointer?
    let diagnostics: OpaquePointer?

    init(status: smi_status, policy: OpaquePointer?, diagnostics: OpaquePointer?) {
        self.status = status
        self.policy = policy
        self.diagnostics = diagnostics
    }

    deinit {
        smi_policy_release(policy)
        smi_diagnostics_free(diagnostics)
    }

    /// Every diagnostic's `text`.
    var diagnosticTexts: [String] {
        (0..<smi_diagnostics_count(diagnostics)).map { i in
            var d = smi_diagnostic()
            d.size = UInt32(MemoryLayout<smi_diagnostic>.size)
            #expect(smi_diagnostics_get(diagnostics, i, &d) == SMI_OK)
            return d.text.text ?? ""
        }
    }
}

func defaultOptions() -> smi_compile_options {
    var o = smi_compile_options()
    o.size = UInt32(MemoryLayout<smi_compile_options>.size)
    o.normalization = SMI_NORMALIZE_ALL
    return o
}

/// Compiles in-memory sources with the C API.
func compileC(_ sources: [(name: String, text: String)], options: smi_compile_options? = nil) -> Compiled {
    let arena = CArena()
    let list = arena.array(sources.map { smi_source(name: arena.str($0.name), text: arena.str($0.text)) })
    var policy: OpaquePointer?
    var diagnostics: OpaquePointer?
    let status: smi_status
    if var options {
        status = smi_policy_compile(&policy, &diagnostics, list, sources.count, &options)
    } else {
        status = smi_policy_compile(&policy, &diagnostics, list, sources.count, nil)
    }
    return Compiled(status: status, policy: policy, diagnostics: diagnostics)
}

func compileC(_ text: String, options: smi_compile_options? = nil) -> Compiled {
    compileC([("policy.yaml", text)], options: options)
}

/// A scratch freed with the object.
final class CScratch {
    let pointer: OpaquePointer?
    init() {
        var p: OpaquePointer?
        #expect(smi_scratch_create(&p) == SMI_OK)
        pointer = p
    }
    deinit { smi_scratch_free(pointer) }
}

/// One access decision as Swift values.
struct CAccess: Equatable, CustomStringConvertible {
    var status: smi_status
    var allowed: Bool
    var reason: String
    var grant: UInt32
    var trafficTarget: String?
    var ruleKind: String?
    var match: String?
    var normalizedPath: String?

    var description: String {
        "\(statusName(status)) allowed=\(allowed) reason=\(reason) grant=\(grant) tt=\(trafficTarget ?? "-") kind=\(ruleKind ?? "-") match=\(match ?? "-") path=\(normalizedPath ?? "-")"
    }

    init(_ status: smi_status, _ d: smi_access_decision) {
        self.status = status
        allowed = d.allowed != 0
        reason = String(cString: smi_reason_string(d.reason))
        grant = d.grant
        trafficTarget = d.traffic_target.text
        ruleKind = d.rule_kind.text
        match = d.match.text
        normalizedPath = d.normalized_path.text
    }
}

let protocolCodes: [TransportProtocol: UInt32] = [
    .http: UInt32(SMI_PROTOCOL_HTTP), .tcp: UInt32(SMI_PROTOCOL_TCP), .udp: UInt32(SMI_PROTOCOL_UDP),
]

/// Builds an smi_access_request for `r` (strings in `arena`).
func cRequest(
    _ r: AccessRequest, arena: CArena, source: UnsafeMutablePointer<smi_identity>? = nil,
    destination: UnsafeMutablePointer<smi_identity>? = nil, names: Bool = true
) -> smi_access_request {
    var q = smi_access_request()
    q.size = UInt32(MemoryLayout<smi_access_request>.size)
    q.protocol = protocolCodes[r.transport] ?? 0
    q.port = UInt32(r.port)
    q.source = source
    q.destination = destination
    if names {
        q.source_name = arena.str(r.source)
        q.destination_name = arena.str(r.destination)
    }
    q.method = arena.str(r.method)
    q.target = arena.str(r.path)
    if !r.headers.isEmpty {
        q.headers = UnsafePointer(arena.array(r.headers.map { smi_header(name: arena.str($0.name), value: arena.str($0.value)) }))
        q.header_count = r.headers.count
    }
    return q
}

func decisionBuffer() -> smi_access_decision {
    var d = smi_access_decision()
    d.size = UInt32(MemoryLayout<smi_access_decision>.size)
    return d
}

func decideC(_ policy: OpaquePointer?, _ scratch: OpaquePointer?, _ r: AccessRequest) -> CAccess {
    let arena = CArena()
    var q = cRequest(r, arena: arena)
    var d = decisionBuffer()
    let status = smi_policy_decide_access(&d, policy, scratch, &q)
    return CAccess(status, d)
}

/// What the Swift facade decides, in the same shape.
func decideSwift(_ policy: Policy, _ r: AccessRequest) -> CAccess {
    let scratch = policy.makeScratch()
    let d = policy.decide(r, scratch: scratch)
    var out = decisionBuffer()
    out.allowed = d.allowed ? 1 : 0
    var c = CAccess(SMI_OK, out)
    c.reason = d.reason?.rawValue ?? "none"
    c.trafficTarget = d.trafficTarget
    c.ruleKind = d.ruleKind
    c.match = d.match
    c.grant = .max
    c.normalizedPath = r.transport == .http ? scratch.normalizedPath : nil
    return c
}

/// One split decision as Swift values.
struct CSplit: Equatable {
    var status: smi_status
    var backend: String?
    var trafficSplit: String?
}

func splitRequestC(_ r: SplitRequest, arena: CArena) -> smi_split_request {
    var q = smi_split_request()
    q.size = UInt32(MemoryLayout<smi_split_request>.size)
    q.entropy = r.entropy
    q.service = arena.str(r.service)
    if let m = r.method {
        q.flags |= SMI_SPLIT_HAS_METHOD
        q.method = arena.str(m)
    }
    if let p = r.path {
        q.flags |= SMI_SPLIT_HAS_TARGET
        q.target = arena.str(p)
    }
    if let p = r.port {
        q.flags |= SMI_SPLIT_HAS_PORT
        q.port = UInt32(p)
    }
    if !r.headers.isEmpty {
        q.headers = UnsafePointer(arena.array(r.headers.map { smi_header(name: arena.str($0.name), value: arena.str($0.value)) }))
        q.header_count = r.headers.count
    }
    return q
}

func splitBuffer() -> smi_split_decision {
    var d = smi_split_decision()
    d.size = UInt32(MemoryLayout<smi_split_decision>.size)
    return d
}

func selectC(_ policy: OpaquePointer?, _ scratch: OpaquePointer?, _ r: SplitRequest) -> CSplit {
    let arena = CArena()
    var q = splitRequestC(r, arena: arena)
    var d = splitBuffer()
    let status = smi_policy_select_backend(&d, policy, scratch, &q)
    return CSplit(status: status, backend: d.backend.text, trafficSplit: d.traffic_split.text)
}

func selectSwift(_ policy: Policy, _ r: SplitRequest) -> CSplit {
    let d = policy.selectBackend(r, scratch: policy.makeScratch())
    return CSplit(status: SMI_OK, backend: d.backend, trafficSplit: d.trafficSplit)
}

/// The package root (for scripts and the header).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a command; returns its exit status and combined output.
@discardableResult
func run(_ command: String, _ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [command] + arguments
    if let environment { p.environment = environment }
    if let directory { p.currentDirectoryURL = directory }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
