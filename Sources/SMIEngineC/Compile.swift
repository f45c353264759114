import CSMIEngine
import SMIEngine

// MARK: Compiling

/// The compile options and loader limits a caller's `smi_compile_options` select.
private struct CompileSettings {
    var options = PolicyOptions()
    var limits = LoaderLimits()
}

/// The options a caller passed, or a status when they are malformed.
private func policyOptions(_ pointer: UnsafePointer<smi_compile_options>?) -> Result<CompileSettings, StatusError> {
    var settings = CompileSettings()
    // Nothing in the C API reads disassembler annotations: they are kept only when asked for.
    settings.options.annotations = false
    // Nor does anything explain: the normalized source model (about 1 KB per TrafficTarget) goes.
    settings.options.keepsSourceModel = false
    guard let pointer else { return .success(settings) }
    // Read `size` alone first: the struct may be shorter than ours. A 0.1 caller's struct ends
    // after trust_domain; the fields added since are read only when `size` covers them.
    let size = Int(pointer.pointee.size)
    guard let firstAdded = MemoryLayout<smi_compile_options>.offset(of: \.max_headers), size >= firstAdded else {
        return .failure(.invalid)
    }
    var o = smi_compile_options()
    withUnsafeMutableBytes(of: &o) { own in
        own.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(size, own.count)))
    }
    let knownFlags =
        SMI_COMPILE_FULL_PATH_MATCH | SMI_COMPILE_ALLOW_CROSS_NAMESPACE | SMI_COMPILE_ANNOTATE | SMI_COMPILE_ONE_THREAD
    guard o.reserved == 0, o.flags & ~knownFlags == 0, o.normalization & ~SMI_NORMALIZE_ALL == 0 else {
        return .failure(.invalid)
    }
    if o.flags & SMI_COMPILE_ONE_THREAD != 0 { settings.limits.threads = 1 }
    var options = settings.options
    options.fullPathMatch = o.flags & SMI_COMPILE_FULL_PATH_MATCH != 0
    options.allowCrossNamespaceDestinations = o.flags & SMI_COMPILE_ALLOW_CROSS_NAMESPACE != 0
    options.annotations = o.flags & SMI_COMPILE_ANNOTATE != 0
    options.normalization = PathNormalization(rawValue: o.normalization)
    if o.match_limit != 0 { options.matchLimit = o.match_limit }
    if o.depth_limit != 0 { options.depthLimit = o.depth_limit }
    if o.max_headers != 0 { options.maxHeaders = Int(o.max_headers) }
    if o.max_target_length != 0 { options.maxTargetLength = Int(o.max_target_length) }
    guard let domain = o.trust_domain.swiftString else { return .failure(.invalid) }
    options.trustDomain = domain.isEmpty ? nil : domain
    settings.options = options
    return .success(settings)
}

/// A status as an error, for `Result`.
struct StatusError: Error {
    var status: smi_status
    static let invalid = StatusError(status: SMI_ERROR_INVALID_ARGUMENT)
}

/// Compiles with `compile` and hands out the policy and diagnostics the way both compile entry
/// points document.
private func compileAndHandOut(
    _ out: UnsafeMutablePointer<OpaquePointer?>, _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?,
    _ compile: () throws(PolicyCompileError) -> Policy
) -> smi_status {
    let policy: Policy
    do {
        policy = try compile()
    } catch {
        if let diagnostics { diagnostics.pointee = opaque(DiagnosticsHandle(error.diagnostics)) }
        return SMI_ERROR_COMPILE
    }
    out.pointee = opaque(PolicyHandle(policy))
    if let diagnostics { diagnostics.pointee = opaque(DiagnosticsHandle(policy.diagnostics)) }
    return SMI_OK
}

@c @implementation
public func smi_policy_compile(
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?,
    _ sources: UnsafePointer<smi_source>?, _ count: Int, _ options: UnsafePointer<smi_compile_options>?
) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = nil
    diagnostics?.pointee = nil
    guard count >= 0, count == 0 || sources != nil else { return SMI_ERROR_INVALID_ARGUMENT }
    let parsed: CompileSettings
    switch policyOptions(options) {
    case .success(let o): parsed = o
    case .failure(let e): return e.status
    }
    let limits = parsed.limits
    var list: [PolicySource] = []
    list.reserveCapacity(count)
    if let sources {
        for i in 0..<count {
            let s = sources[i]
            guard let name = s.name.swiftString, let text = s.text.bytes else { return SMI_ERROR_INVALID_ARGUMENT }
            // Past the loader's size limit the loader reports `limit-exceeded`; one byte more than
            // the limit is enough for that, so a huge buffer is not copied whole.
            let kept = UnsafeRawBufferPointer(rebasing: text.prefix(limits.maxDocumentBytes + 1))
            list.append(PolicySource(name: name, bytes: Array(kept)))
        }
    }
    return compileAndHandOut(out, diagnostics) { () throws(PolicyCompileError) in
        try Policy.compile(sources: list, options: parsed.options, limits: limits)
    }
}

@c @implementation
public func smi_policy_compile_paths(
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?,
    _ paths: UnsafePointer<smi_string>?, _ count: Int, _ options: UnsafePointer<smi_compile_options>?
) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = nil
    diagnostics?.pointee = nil
    guard count >= 0, count == 0 || paths != nil else { return SMI_ERROR_INVALID_ARGUMENT }
    let parsed: CompileSettings
    switch policyOptions(options) {
    case .success(let o): parsed = o
    case .failure(let e): return e.status
    }
    var list: [String] = []
    list.reserveCapacity(count)
    if let paths {
        for i in 0..<count {
            // A NUL inside a path would silently name another file: refused.
            guard let bytes = paths[i].bytes, !bytes.contains(0) else { return SMI_ERROR_INVALID_ARGUMENT }
            list.append(String(decoding: bytes, as: UTF8.self))
        }
    }
    return compileAndHandOut(out, diagnostics) { () throws(PolicyCompileError) in
        try Policy.compile(paths: list, options: parsed.options, limits: parsed.limits)
    }
}

// MARK: Bundles

/// Loads with `load` and hands out the policy and diagnostics as smi_policy_load_bundle documents.
private func loadAndHandOut(
    _ out: UnsafeMutablePointer<OpaquePointer?>, _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?,
    _ load: () throws(PolicyCompileError) -> Policy
) -> smi_status {
    let policy: Policy
    do {
        policy = try load()
    } catch {
        if let diagnostics { diagnostics.pointee = opaque(DiagnosticsHandle(error.diagnostics)) }
        return SMI_ERROR_BUNDLE
    }
    out.pointee = opaque(PolicyHandle(policy))
    if let diagnostics { diagnostics.pointee = opaque(DiagnosticsHandle(policy.diagnostics)) }
    return SMI_OK
}

@c @implementation
public func smi_policy_load_bundle(
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?,
    _ bytes: UnsafeRawPointer?, _ length: Int
) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = nil
    diagnostics?.pointee = nil
    guard length >= 0, length == 0 || bytes != nil else { return SMI_ERROR_INVALID_ARGUMENT }
    let buffer = UnsafeRawBufferPointer(start: length == 0 ? nil : bytes, count: length)
    return loadAndHandOut(out, diagnostics) { () throws(PolicyCompileError) in
        try Policy.load(bundle: buffer)
    }
}

@c @implementation
public func smi_policy_load_bundle_file(
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ diagnostics: UnsafeMutablePointer<OpaquePointer?>?,
    _ path: smi_string
) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = nil
    diagnostics?.pointee = nil
    // A NUL inside a path would silently name another file: refused, as is an empty path.
    guard let bytes = path.bytes, !bytes.isEmpty, !bytes.contains(0) else { return SMI_ERROR_INVALID_ARGUMENT }
    let name = String(decoding: bytes, as: UTF8.self)
    return loadAndHandOut(out, diagnostics) { () throws(PolicyCompileError) in
        try Policy.load(bundleAt: name)
    }
}

@c @implementation
public func smi_policy_retain(_ policy: OpaquePointer?) -> OpaquePointer? {
    guard case .handle(let h) = checkHandle(policy, .policy, as: PolicyHandle.self) else { return nil }
    _ = h.retain()
    return policy
}

@c @implementation
public func smi_policy_release(_ policy: OpaquePointer?) {
    guard case .handle(let h) = checkHandle(policy, .policy, as: PolicyHandle.self) else { return }
    h.release()
}

// MARK: Diagnostics

@c @implementation
public func smi_diagnostics_count(_ diagnostics: OpaquePointer?) -> Int {
    guard case .handle(let h) = checkHandle(diagnostics, .diagnostics, as: DiagnosticsHandle.self) else { return 0 }
    return h._withUnsafeGuaranteedRef { $0.diagnostics.count }
}

@c @implementation
public func smi_diagnostics_error_count(_ diagnostics: OpaquePointer?) -> Int {
    guard case .handle(let h) = checkHandle(diagnostics, .diagnostics, as: DiagnosticsHandle.self) else { return 0 }
    return h._withUnsafeGuaranteedRef { $0.errorCount }
}

@c @implementation
public func smi_diagnostics_get(
    _ diagnostics: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<smi_diagnostic>?
) -> smi_status {
    guard let out, Int(out.pointee.size) >= MemoryLayout<smi_diagnostic>.size else { return SMI_ERROR_INVALID_ARGUMENT }
    let check = checkHandle(diagnostics, .diagnostics, as: DiagnosticsHandle.self)
    guard case .handle(let h) = check else { return check.status }
    return h._withUnsafeGuaranteedRef { d in
        guard index >= 0, index < d.diagnostics.count else { return SMI_ERROR_OUT_OF_RANGE }
        let diagnostic = d.diagnostics[index]
        let base = index * DiagnosticsHandle.stringsPerDiagnostic
        let severity: Int32
        switch diagnostic.severity {
        case .error: severity = SMI_SEVERITY_ERROR
        case .warning: severity = SMI_SEVERITY_WARNING
        case .note: severity = SMI_SEVERITY_NOTE
        }
        out.pointee.severity = severity
        out.pointee.line = UInt32(clamping: diagnostic.location?.line ?? 0)
        out.pointee.column = UInt32(clamping: diagnostic.location?.column ?? 0)
        out.pointee.file = d.strings.string(base)
        out.pointee.code = d.strings.string(base + 1)
        out.pointee.resource = d.strings.string(base + 2)
        out.pointee.field = d.strings.string(base + 3)
        out.pointee.message = d.strings.string(base + 4)
        out.pointee.text = d.strings.string(base + 5)
        return SMI_OK
    }
}

@c @implementation
public func smi_diagnostics_free(_ diagnostics: OpaquePointer?) {
    guard case .handle(let h) = checkHandle(diagnostics, .diagnostics, as: DiagnosticsHandle.self) else { return }
    h.release()
}

// MARK: Scratch

@c @implementation
public func smi_scratch_create(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = nil
    guard let scratch = ScratchHandle(DecisionScratch()) else { return SMI_ERROR_NO_MEMORY }
    out.pointee = opaque(scratch)
    return SMI_OK
}

@c @implementation
public func smi_scratch_free(_ scratch: OpaquePointer?) {
    guard case .handle(let h) = checkHandle(scratch, .scratch, as: ScratchHandle.self) else { return }
    h.release()
}

// MARK: Identities

@c @implementation
public func smi_identity_resolve(_ out: UnsafeMutablePointer<smi_identity>?, _ policy: OpaquePointer?, _ name: smi_string) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = smi_identity(policy_tag: 0, index: UInt32.max, reserved: 0)
    let check = checkHandle(policy, .policy, as: PolicyHandle.self)
    guard case .handle(let h) = check else { return check.status }
    guard let bytes = name.bytes else { return SMI_ERROR_INVALID_ARGUMENT }
    return h._withUnsafeGuaranteedRef { p in
        out.pointee = smi_identity(policy_tag: p.tag, index: p.policy.executable.resolveIdentity(bytes), reserved: 0)
        return SMI_OK
    }
}
