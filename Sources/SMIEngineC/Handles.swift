// SMIEngineC: the C ABI of include/smi_engine.h, and the only module with `@c` exports and raw C
// pointers (STYLE.md habit 8). Every export checks its arguments, maps every failure to an
// `smi_status` and lets no Swift trap cross into C: no force unwraps, no unchecked indexing or
// integer conversion of caller data.
//
// Each `@c @implementation` function is checked by the compiler against its prototype in the
// header (imported through the C target CSMIEngine), so the two cannot drift; Tests/SMIEngineCTests
// also checks that the library exports exactly the header's functions.
//
// Handles. Every opaque handle is a retained object of a subclass of `Handle`. An entry point
// reads the handle's magic number and kind tag (stored fields, read without touching the
// object's type metadata or reference count) before it trusts the pointer's type, so a handle
// of the wrong kind gives SMI_ERROR_WRONG_HANDLE instead of undefined behaviour.
import CSMIEngine
import SMIEngine
import SMIRuntime
import Synchronization

enum HandleKind: UInt32 {
    case policy = 0x504F_4C59  // "POLY"
    case scratch = 0x5343_5243  // "SCRC"
    case diagnostics = 0x4449_4147  // "DIAG"
    case holder = 0x484F_4C44  // "HOLD"
}

/// The base of every handle: a magic number and the kind tag checked on every entry.
class Handle: @unchecked Sendable {
    static let liveMagic: UInt64 = 0x534D_4945_6E67_696E  // "SMIEngin"
    // Cleared when the handle is freed, which catches some double frees. Read on every entry,
    // by one thread or by several at once (never written while in use), hence unchecked.
    @exclusivity(unchecked) final var magic: UInt64 = Handle.liveMagic
    final let kind: HandleKind

    init(kind: HandleKind) { self.kind = kind }

    deinit { magic = 0 }
}

/// What a handle argument turned out to be.
enum HandleCheck<H: AnyObject> {
    case null
    case wrongKind
    case handle(Unmanaged<H>)

    /// The status for a handle that is not usable (SMI_OK for a usable one).
    var status: smi_status {
        switch self {
        case .null: return SMI_ERROR_INVALID_ARGUMENT
        case .wrongKind: return SMI_ERROR_WRONG_HANDLE
        case .handle: return SMI_OK
        }
    }
}

/// Checks that `pointer` is a live handle of `kind` and views it as `H` (no retain).
@inline(__always)
func checkHandle<H: Handle>(_ pointer: OpaquePointer?, _ kind: HandleKind, as: H.Type) -> HandleCheck<H> {
    guard let pointer else { return .null }
    let raw = UnsafeRawPointer(pointer)
    let matches = Unmanaged<Handle>.fromOpaque(raw)._withUnsafeGuaranteedRef { h in
        h.magic == Handle.liveMagic && h.kind == kind
    }
    // The kind tag proves the dynamic type: only `H` is created with `kind`.
    return matches ? .handle(Unmanaged<H>.fromOpaque(raw)) : .wrongKind
}

/// A new +1 handle as the opaque pointer C receives.
@inline(__always)
func opaque<H: Handle>(_ handle: H) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(handle).toOpaque())
}

// MARK: Policy

/// `smi_policy`: a compiled policy plus the UTF-8 of every string a decision can return, rendered
/// once so that decisions lend views into it.
final class PolicyHandle: Handle, @unchecked Sendable {
    let policy: Policy
    /// The identity-cache tag (`smi_identity.policy_tag`): the policy's process-unique serial,
    /// never 0, shared by every handle of the same policy.
    let tag: UInt64
    /// Per grant: traffic target, rule kind, match.
    let grants: StringTable
    /// Per name index: `namespace/name`.
    let names: StringTable

    init(_ policy: Policy) {
        self.policy = policy
        tag = policy.serial
        var grantStrings: [String?] = []
        grantStrings.reserveCapacity(policy.grantCount * 3)
        for g in (0..<policy.grantCount).lazy.map(policy.grantNames) {
            grantStrings.append(g.trafficTarget)
            grantStrings.append(g.ruleKind)
            grantStrings.append(g.match)
        }
        grants = StringTable(grantStrings)
        names = StringTable(policy.program.names.indices.map { policy.program.name(UInt32(truncatingIfNeeded: $0)) })
        super.init(kind: .policy)
    }
}

// MARK: Scratch

/// `smi_scratch`: a thread's DecisionScratch (evaluation scratch and hazard slot), the converted
/// header views of the request being decided and the copies of a holder decision's strings.
final class ScratchHandle: Handle, @unchecked Sendable {
    let decision: DecisionScratch
    let evaluation: EvaluationScratch
    @exclusivity(unchecked) var headers: UnsafeMutableBufferPointer<RawHeader>
    @exclusivity(unchecked) var copies: UnsafeMutableRawBufferPointer

    init?(_ decision: DecisionScratch) {
        guard let evaluation = decision.raw else { return nil }
        self.decision = decision
        self.evaluation = evaluation
        headers = .allocate(capacity: 16)
        copies = .allocate(byteCount: 256, alignment: 8)
        super.init(kind: .scratch)
    }

    deinit {
        headers.deallocate()
        copies.deallocate()
    }

    /// Header views for `count` headers (count <= SMI_MAX_HEADERS); grows only when needed.
    @inline(__always)
    func headerBuffer(_ count: Int) -> UnsafeMutableBufferPointer<RawHeader> {
        if count > headers.count {
            headers.deallocate()
            headers = .allocate(capacity: max(count, headers.count * 2))
        }
        return headers
    }

    /// Room for `count` bytes of copied decision strings; grows only when needed.
    @inline(__always)
    func copyBuffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if count > copies.count {
            copies.deallocate()
            copies = .allocate(byteCount: max(count, copies.count * 2), alignment: 8)
        }
        return copies
    }
}

// MARK: Diagnostics

/// `smi_diagnostics`: diagnostics with every string pre-rendered, so that reads lend stable views.
final class DiagnosticsHandle: Handle, @unchecked Sendable {
    static let stringsPerDiagnostic = 6
    let diagnostics: [Diagnostic]
    let errorCount: Int
    /// Per diagnostic: file, code, resource, field, message, text.
    let strings: StringTable

    init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
        errorCount = diagnostics.reduce(0) { $0 + ($1.severity == .error ? 1 : 0) }
        var all: [String?] = []
        all.reserveCapacity(diagnostics.count * DiagnosticsHandle.stringsPerDiagnostic)
        for d in diagnostics {
            all.append(d.location?.file)
            all.append(d.code.rawValue)
            all.append(d.resource?.description)
            all.append(d.field)
            all.append(d.message)
            all.append(d.description)
        }
        strings = StringTable(all)
        super.init(kind: .diagnostics)
    }
}

// MARK: Holder

/// `smi_holder`: a PolicyHolder, plus the handle last swapped in or acquired so that
/// smi_holder_acquire usually returns it instead of rendering a new handle.
final class HolderHandle: Handle, @unchecked Sendable {
    let holder: PolicyHolder
    private let last: LockedValue<PolicyHandle?>

    init(_ initial: PolicyHandle?) {
        holder = PolicyHolder(initial?.policy)
        last = LockedValue(initial)
        super.init(kind: .holder)
    }

    func swap(_ handle: PolicyHandle) {
        last.withLock { last in
            holder.swap(handle.policy)
            last = handle
        }
    }

    /// A handle for `policy` (a policy the holder had in force): the last one when it matches.
    func handle(for policy: Policy) -> PolicyHandle {
        last.withLock { last in
            if let current = last, current.policy === policy { return current }
            let fresh = PolicyHandle(policy)
            last = fresh
            return fresh
        }
    }
}
