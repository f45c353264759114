import CSMIEngine
import SMIBytecode
import SMIEngine
import SMIRuntime

// The request path: no allocation once the scratch has grown, no lock, no retain of the handles
// (`_withUnsafeGuaranteedRef`). Requests are read straight from the caller's memory; only the
// headers are converted, because `smi_header` (two pointer + length pairs) and `RawHeader` (two
// UnsafeRawBufferPointers, stored as start + end pointers) have different layouts: the scratch
// keeps a preallocated RawHeader array that grows only for a request with more headers than
// any before it (at most the policy's max_headers).

private var emptyBytes: UnsafeRawBufferPointer {
    @inline(__always) get { UnsafeRawBufferPointer(start: nil, count: 0) }
}

extension StatusError {
    static let limit = StatusError(status: SMI_ERROR_LIMIT)
    static let stale = StatusError(status: SMI_ERROR_STALE_IDENTITY)
}

/// The name index of one side of a request: from its cache when `tag` resolved it, else from its
/// name (written back to the cache when there is one).
@inline(__always)
private func resolve(
    _ cache: UnsafeMutablePointer<smi_identity>?, _ name: smi_string, _ policy: ExecutablePolicy, tag: UInt64
) -> Result<UInt32, StatusError> {
    if let cache, cache.pointee.policy_tag == tag { return .success(cache.pointee.index) }
    if name.isAbsent {
        guard let cache, name.length == 0 else { return .failure(.invalid) }
        // A zeroed cache was never resolved: there is nothing stale about it, only nothing to use.
        return .failure(cache.pointee.policy_tag == 0 ? .invalid : .stale)
    }
    guard let bytes = name.bytes else { return .failure(.invalid) }
    let index = policy.resolveIdentity(bytes)
    cache?.pointee = smi_identity(policy_tag: tag, index: index, reserved: 0)
    return .success(index)
}

/// The caller's headers as RawHeader views in the scratch's buffer.
@inline(__always)
private func headerViews(
    _ headers: UnsafePointer<smi_header>?, _ count: Int, _ scratch: ScratchHandle, limit: Int
) -> Result<UnsafeBufferPointer<RawHeader>, StatusError> {
    // A size_t above Int.max arrives negative: past the limit as well.
    guard count >= 0, count <= limit else { return .failure(.limit) }
    guard count > 0 else { return .success(UnsafeBufferPointer(start: nil, count: 0)) }
    guard let headers else { return .failure(.invalid) }
    let views = scratch.headerBuffer(count)
    for i in 0..<count {
        guard let name = headers[i].name.bytes, let value = headers[i].value.bytes else { return .failure(.invalid) }
        views[i] = RawHeader(name: name, value: value)  // i < count <= views.count
    }
    return .success(UnsafeBufferPointer(rebasing: views[0..<count]))
}

@inline(__always)
private func targetBytes(_ target: smi_string, limit: Int) -> Result<UnsafeRawBufferPointer, StatusError> {
    guard let bytes = target.bytes else { return .failure(.invalid) }
    guard bytes.count <= limit else { return .failure(.limit) }
    return .success(bytes)
}

/// A denied decision with no strings; `size` is the caller's and stays.
@inline(__always)
private func fillDenied(_ out: UnsafeMutablePointer<smi_access_decision>) {
    out.pointee.allowed = 0
    out.pointee.reason = SMI_REASON_NONE
    out.pointee.grant = UInt32.max
    out.pointee.traffic_target = .empty
    out.pointee.rule_kind = .empty
    out.pointee.match = .empty
    out.pointee.normalized_path = .empty
}

@inline(__always)
private func fillEmpty(_ out: UnsafeMutablePointer<smi_split_decision>) {
    out.pointee.reserved = 0
    out.pointee.backend = .empty
    out.pointee.traffic_split = .empty
}

@inline(__always)
private func reasonCode(_ code: DenyCode) -> Int32 {
    switch code {
    case .pathRejected: return SMI_REASON_PATH_REJECTED
    case .noTrafficTarget: return SMI_REASON_NO_TRAFFIC_TARGET
    case .sourceNotAllowed: return SMI_REASON_SOURCE_NOT_ALLOWED
    case .portNotAllowed: return SMI_REASON_PORT_NOT_ALLOWED
    case .noRouteMatched: return SMI_REASON_NO_ROUTE_MATCHED
    case .regexBudgetExceeded: return SMI_REASON_REGEX_BUDGET_EXCEEDED
    }
}

/// Checks `request`, resolves its identities against `policy`, decides and fills `out` (already
/// filled as denied). `grantStrings` lends the traffic target, rule kind and match of a grant.
@inline(__always)
private func decideAccess(
    _ out: UnsafeMutablePointer<smi_access_decision>, _ policy: Policy, tag: UInt64, _ scratch: ScratchHandle,
    _ request: UnsafePointer<smi_access_request>, grantStrings: (Int) -> (smi_string, smi_string, smi_string)
) -> smi_status {
    guard Int(request.pointee.size) >= MemoryLayout<smi_access_request>.size else { return SMI_ERROR_INVALID_ARGUMENT }
    let r = request  // fields read through `pointee`, no copy of the whole struct
    guard r.pointee.reserved == 0, let proto = ProtocolCode(rawValue: r.pointee.protocol), r.pointee.port <= 65535 else {
        return SMI_ERROR_INVALID_ARGUMENT
    }
    let executable = policy.executable
    let source: UInt32
    let destination: UInt32
    switch resolve(r.pointee.source, r.pointee.source_name, executable, tag: tag) {
    case .success(let index): source = index
    case .failure(let e): return e.status
    }
    switch resolve(r.pointee.destination, r.pointee.destination_name, executable, tag: tag) {
    case .success(let index): destination = index
    case .failure(let e): return e.status
    }
    var method = emptyBytes
    var target = emptyBytes
    var headers = UnsafeBufferPointer<RawHeader>(start: nil, count: 0)
    if proto == .http {
        guard let m = r.pointee.method.bytes else { return SMI_ERROR_INVALID_ARGUMENT }
        method = m
        switch targetBytes(r.pointee.target, limit: policy.options.maxTargetLength) {
        case .success(let t): target = t
        case .failure(let e): return e.status
        }
        switch headerViews(r.pointee.headers, r.pointee.header_count, scratch, limit: policy.options.maxHeaders) {
        case .success(let h): headers = h
        case .failure(let e): return e.status
        }
    }
    let query = AccessQuery(
        source: source, destination: destination, port: r.pointee.port, proto: proto,
        method: method, target: target, headers: headers)
    let result = executable.decide(query, scratch: scratch.evaluation)
    if result.allowed, let grant = Int(exactly: result.grant), grant < policy.grantCount {
        let (trafficTarget, ruleKind, match) = grantStrings(grant)
        out.pointee.allowed = 1
        out.pointee.reason = SMI_REASON_NONE
        out.pointee.grant = result.grant
        out.pointee.traffic_target = trafficTarget
        out.pointee.rule_kind = ruleKind
        out.pointee.match = match
    } else {
        // An allowed result without a grant would be an engine bug: denied, as the Swift facade does.
        out.pointee.reason = result.allowed ? SMI_REASON_NO_ROUTE_MATCHED : reasonCode(result.reason)
    }
    if proto == .http {
        let path = scratch.evaluation.normalizedPathBytes
        out.pointee.normalized_path = path.count > 0 ? smi_string(path) : .empty
    }
    return SMI_OK
}

/// The size of a split request before `service_cache` (SMI_SPLIT_REQUEST_SIZE_V0).
private let splitRequestSizeV0 = MemoryLayout<smi_split_request>.offset(of: \.service_cache) ?? MemoryLayout<smi_split_request>.size

/// The caller's `service_cache`, read only when its `size` covers the field.
@inline(__always)
private func serviceCache(_ request: UnsafePointer<smi_split_request>) -> UnsafeMutablePointer<smi_identity>? {
    Int(request.pointee.size) >= MemoryLayout<smi_split_request>.size ? request.pointee.service_cache : nil
}

/// Checks `request`, picks the backend with `policy` and fills `out` (already emptied).
/// `names` lends the strings of a backend and a split name index (either may be `noIndex`).
@inline(__always)
private func selectBackend(
    _ out: UnsafeMutablePointer<smi_split_decision>, _ policy: Policy, tag: UInt64, _ scratch: ScratchHandle,
    _ request: UnsafePointer<smi_split_request>, names: (UInt32, UInt32) -> (smi_string?, smi_string?)
) -> smi_status {
    guard Int(request.pointee.size) >= splitRequestSizeV0 else { return SMI_ERROR_INVALID_ARGUMENT }
    // Fields are read one by one through `pointee` (no copy of the whole struct): a caller's
    // struct may end before `service_cache`.
    let r = request
    let known = SMI_SPLIT_HAS_PORT | SMI_SPLIT_HAS_METHOD | SMI_SPLIT_HAS_TARGET
    guard r.pointee.reserved == 0, r.pointee.flags & ~known == 0, let service = r.pointee.service.bytes else { return SMI_ERROR_INVALID_ARGUMENT }
    var method: UnsafeRawBufferPointer?
    var target: UnsafeRawBufferPointer?
    var port: UInt32?
    if r.pointee.flags & SMI_SPLIT_HAS_METHOD != 0 {
        guard let m = r.pointee.method.bytes else { return SMI_ERROR_INVALID_ARGUMENT }
        method = m
    }
    if r.pointee.flags & SMI_SPLIT_HAS_TARGET != 0 {
        switch targetBytes(r.pointee.target, limit: policy.options.maxTargetLength) {
        case .success(let t): target = t
        case .failure(let e): return e.status
        }
    }
    if r.pointee.flags & SMI_SPLIT_HAS_PORT != 0 {
        guard r.pointee.port <= 65535 else { return SMI_ERROR_INVALID_ARGUMENT }
        port = r.pointee.port
    }
    let headers: UnsafeBufferPointer<RawHeader>
    switch headerViews(r.pointee.headers, r.pointee.header_count, scratch, limit: policy.options.maxHeaders) {
    case .success(let h): headers = h
    case .failure(let e): return e.status
    }
    let executable = policy.executable
    let serviceIndex: UInt32
    let cache = serviceCache(request)
    if let cache, cache.pointee.policy_tag == tag {
        serviceIndex = cache.pointee.index
    } else {
        serviceIndex = executable.resolveName(service)
        cache?.pointee = smi_identity(policy_tag: tag, index: serviceIndex, reserved: 0)
    }
    let query = SplitQuery(
        service: serviceIndex, entropy: r.pointee.entropy, method: method, target: target, headers: headers, port: port)
    let result = executable.selectBackend(query, scratch: scratch.evaluation)
    let (backend, split) = names(result.backend, result.split)
    out.pointee.backend = backend ?? r.pointee.service
    out.pointee.traffic_split = split ?? .empty
    return SMI_OK
}

// MARK: Deciding with a policy

@c @implementation
public func smi_policy_decide_access(
    _ out: UnsafeMutablePointer<smi_access_decision>?, _ policy: OpaquePointer?, _ scratch: OpaquePointer?,
    _ request: UnsafePointer<smi_access_request>?
) -> smi_status {
    guard let out, Int(out.pointee.size) >= MemoryLayout<smi_access_decision>.size else { return SMI_ERROR_INVALID_ARGUMENT }
    fillDenied(out)
    guard let request else { return SMI_ERROR_INVALID_ARGUMENT }
    let p = checkHandle(policy, .policy, as: PolicyHandle.self)
    let s = checkHandle(scratch, .scratch, as: ScratchHandle.self)
    guard case .handle(let ph) = p else { return p.status }
    guard case .handle(let sh) = s else { return s.status }
    return ph._withUnsafeGuaranteedRef { handle in
        sh._withUnsafeGuaranteedRef { scratch in
            decideAccess(out, handle.policy, tag: handle.tag, scratch, request) { grant in
                let base = grant * 3
                return (handle.grants.string(base), handle.grants.string(base + 1), handle.grants.string(base + 2))
            }
        }
    }
}

@c @implementation
public func smi_policy_select_backend(
    _ out: UnsafeMutablePointer<smi_split_decision>?, _ policy: OpaquePointer?, _ scratch: OpaquePointer?,
    _ request: UnsafePointer<smi_split_request>?
) -> smi_status {
    guard let out, Int(out.pointee.size) >= MemoryLayout<smi_split_decision>.size else { return SMI_ERROR_INVALID_ARGUMENT }
    fillEmpty(out)
    guard let request else { return SMI_ERROR_INVALID_ARGUMENT }
    let p = checkHandle(policy, .policy, as: PolicyHandle.self)
    let s = checkHandle(scratch, .scratch, as: ScratchHandle.self)
    guard case .handle(let ph) = p else { return p.status }
    guard case .handle(let sh) = s else { return s.status }
    return ph._withUnsafeGuaranteedRef { handle in
        sh._withUnsafeGuaranteedRef { scratch in
            selectBackend(out, handle.policy, tag: handle.tag, scratch, request) { backend, split in
                (tableString(handle.names, backend), tableString(handle.names, split))
            }
        }
    }
}

@inline(__always)
private func tableString(_ table: StringTable, _ index: UInt32) -> smi_string? {
    guard index != noIndex, let i = Int(exactly: index), i < table.count else { return nil }
    return table.string(i)
}

// MARK: Hot reload

/// Copies up to three strings into the scratch's copy buffer (one growth at most) and lends
/// views of the copies; a nil string lends nil.
@inline(__always)
private func copyStrings(_ scratch: ScratchHandle, _ a: String?, _ b: String?, _ c: String?) -> (smi_string?, smi_string?, smi_string?) {
    let total = (a?.utf8.count ?? 0) + (b?.utf8.count ?? 0) + (c?.utf8.count ?? 0)
    let buffer = scratch.copyBuffer(total)
    var at = 0
    func copy(_ s: String?) -> smi_string? {
        guard var s else { return nil }
        return s.withUTF8 { utf8 in
            let start = at
            if utf8.count > 0, let from = utf8.baseAddress, let to = buffer.baseAddress {
                (to + at).copyMemory(from: from, byteCount: utf8.count)  // at + count <= total <= buffer.count
            }
            at += utf8.count
            return smi_string(UnsafeRawBufferPointer(rebasing: buffer[start..<at]))
        }
    }
    let x = copy(a)
    let y = copy(b)
    let z = copy(c)
    return (x, y, z)
}

@c @implementation
public func smi_holder_create(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ initial: OpaquePointer?) -> smi_status {
    guard let out else { return SMI_ERROR_INVALID_ARGUMENT }
    out.pointee = nil
    var first: PolicyHandle?
    if initial != nil {
        let p = checkHandle(initial, .policy, as: PolicyHandle.self)
        guard case .handle(let ph) = p else { return p.status }
        first = ph.takeUnretainedValue()
    }
    out.pointee = opaque(HolderHandle(first))
    return SMI_OK
}

@c @implementation
public func smi_holder_swap(_ holder: OpaquePointer?, _ policy: OpaquePointer?) -> smi_status {
    let h = checkHandle(holder, .holder, as: HolderHandle.self)
    let p = checkHandle(policy, .policy, as: PolicyHandle.self)
    guard case .handle(let hh) = h else { return h.status }
    guard case .handle(let ph) = p else { return p.status }
    hh.takeUnretainedValue().swap(ph.takeUnretainedValue())
    return SMI_OK
}

@c @implementation
public func smi_holder_acquire(_ holder: OpaquePointer?, _ scratch: OpaquePointer?) -> OpaquePointer? {
    guard case .handle(let hh) = checkHandle(holder, .holder, as: HolderHandle.self),
        case .handle(let sh) = checkHandle(scratch, .scratch, as: ScratchHandle.self)
    else { return nil }
    let h = hh.takeUnretainedValue()
    guard let policy = h.holder.policy(scratch: sh.takeUnretainedValue().decision) else { return nil }
    return opaque(h.handle(for: policy))
}

@c @implementation
public func smi_holder_decide_access(
    _ out: UnsafeMutablePointer<smi_access_decision>?, _ holder: OpaquePointer?, _ scratch: OpaquePointer?,
    _ request: UnsafePointer<smi_access_request>?
) -> smi_status {
    guard let out, Int(out.pointee.size) >= MemoryLayout<smi_access_decision>.size else { return SMI_ERROR_INVALID_ARGUMENT }
    fillDenied(out)
    guard let request else { return SMI_ERROR_INVALID_ARGUMENT }
    let h = checkHandle(holder, .holder, as: HolderHandle.self)
    let s = checkHandle(scratch, .scratch, as: ScratchHandle.self)
    guard case .handle(let hh) = h else { return h.status }
    guard case .handle(let sh) = s else { return s.status }
    return hh._withUnsafeGuaranteedRef { holder in
        sh._withUnsafeGuaranteedRef { scratch in
            // The strings are copied inside withPolicy, while the hazard slot still protects the policy.
            holder.holder.withPolicy(scratch: scratch.decision) { policy in
                decideAccess(out, policy, tag: policy.serial, scratch, request) { grant in
                    let g = policy.grantNames(grant)  // decideAccess checked grant < grantCount
                    let (a, b, c) = copyStrings(scratch, g.trafficTarget, g.ruleKind, g.match)
                    return (a ?? .empty, b ?? .empty, c ?? .empty)
                }
            } ?? SMI_ERROR_NO_POLICY
        }
    }
}

@c @implementation
public func smi_holder_select_backend(
    _ out: UnsafeMutablePointer<smi_split_decision>?, _ holder: OpaquePointer?, _ scratch: OpaquePointer?,
    _ request: UnsafePointer<smi_split_request>?
) -> smi_status {
    guard let out, Int(out.pointee.size) >= MemoryLayout<smi_split_decision>.size else { return SMI_ERROR_INVALID_ARGUMENT }
    fillEmpty(out)
    guard let request else { return SMI_ERROR_INVALID_ARGUMENT }
    let h = checkHandle(holder, .holder, as: HolderHandle.self)
    let s = checkHandle(scratch, .scratch, as: ScratchHandle.self)
    guard case .handle(let hh) = h else { return h.status }
    guard case .handle(let sh) = s else { return s.status }
    return hh._withUnsafeGuaranteedRef { holder in
        sh._withUnsafeGuaranteedRef { scratch in
            holder.holder.withPolicy(scratch: scratch.decision) { policy in
                selectBackend(out, policy, tag: policy.serial, scratch, request) { backend, split in
                    let executable = policy.executable
                    let b = backend == noIndex ? nil : executable.name(backend)
                    let s = split == noIndex ? nil : executable.name(split)
                    let (x, y, _) = copyStrings(scratch, b, s, nil)
                    return (x, y)
                }
            } ?? SMI_ERROR_NO_POLICY
        }
    }
}

@c @implementation
public func smi_holder_free(_ holder: OpaquePointer?) {
    guard case .handle(let h) = checkHandle(holder, .holder, as: HolderHandle.self) else { return }
    h.release()
}
