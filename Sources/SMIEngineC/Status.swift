import CSMIEngine

// Versions and static texts. Swift string literals are emitted NUL-terminated, so a
// StaticString's utf8Start is a valid C string for the life of the process.

// SMI_VERSION_NUMBER is an expression macro Swift does not import: the same formula from the
// three plain macros.
@c @implementation
public func smi_version() -> UInt32 {
    UInt32(SMI_VERSION_MAJOR * 1_000_000 + SMI_VERSION_MINOR * 1000 + SMI_VERSION_PATCH)
}

@c @implementation
public func smi_abi_version() -> UInt32 { UInt32(SMI_ABI_VERSION) }

@c @implementation
public func smi_status_string(_ status: smi_status) -> UnsafePointer<CChar>? {
    let text: StaticString
    switch status {
    case SMI_OK: text = "ok"
    case SMI_ERROR_INVALID_ARGUMENT: text = "invalid argument"
    case SMI_ERROR_NO_MEMORY: text = "out of memory"
    case SMI_ERROR_COMPILE: text = "the policy has errors"
    case SMI_ERROR_WRONG_HANDLE: text = "wrong kind of handle"
    case SMI_ERROR_STALE_IDENTITY: text = "identity resolved by another policy and no name to re-resolve"
    case SMI_ERROR_OUT_OF_RANGE: text = "index out of range"
    case SMI_ERROR_NO_POLICY: text = "the holder has no policy"
    case SMI_ERROR_LIMIT: text = "request exceeds a limit"
    case SMI_ERROR_INTERNAL: text = "internal error"
    case SMI_ERROR_BUNDLE: text = "the policy bundle was refused"
    default: text = "unknown status"
    }
    return cString(text)
}

@c @implementation
public func smi_reason_string(_ reason: Int32) -> UnsafePointer<CChar>? {
    let text: StaticString
    switch reason {
    case SMI_REASON_NONE: text = "none"
    case SMI_REASON_PATH_REJECTED: text = "path-rejected"
    case SMI_REASON_NO_TRAFFIC_TARGET: text = "no-traffic-target"
    case SMI_REASON_SOURCE_NOT_ALLOWED: text = "source-not-allowed"
    case SMI_REASON_PORT_NOT_ALLOWED: text = "port-not-allowed"
    case SMI_REASON_NO_ROUTE_MATCHED: text = "no-route-matched"
    case SMI_REASON_REGEX_BUDGET_EXCEEDED: text = "regex-budget-exceeded"
    case SMI_REASON_REQUEST_TOO_LARGE: text = "request-too-large"
    default: text = "unknown"
    }
    return cString(text)
}

@inline(__always)
func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}
