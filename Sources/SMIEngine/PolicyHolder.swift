import Synchronization

/// Holds the policy in force and swaps in new ones while other threads decide (hot reload).
///
/// Readers never block and never see a freed policy: a decision publishes the policy it read in
/// its scratch's hazard slot and checks that it is still in force; a swap retires the old policy
/// and releases it only once no scratch's hazard slot names it (a retired policy still in use is
/// released by a later swap, or when the holder is freed). Swaps are serialized by a lock that
/// readers never take. A compilation that fails never reaches the holder, so the old policy
/// stays in force.
public final class PolicyHolder: @unchecked Sendable {
    private let current = Atomic<UnsafeMutableRawPointer?>(nil)  // a +1 Unmanaged<Policy>
    private let retired = LockedValue<[RetiredPolicy]>([])

    /// Creates a holder, optionally with a first policy in force.
    public init(_ initial: Policy? = nil) {
        if let initial { current.store(Unmanaged.passRetained(initial).toOpaque(), ordering: .sequentiallyConsistent) }
    }

    deinit {
        // No thread may be deciding through a holder that is being freed.
        if let p = current.exchange(nil, ordering: .sequentiallyConsistent) {
            Unmanaged<Policy>.fromOpaque(p).release()
        }
        retired.withLock { list in
            for p in list { Unmanaged<Policy>.fromOpaque(p.raw).release() }
            list.removeAll()
        }
    }

    /// Puts `policy` in force; decisions already running finish with the policy they started with.
    public func swap(_ policy: Policy) {
        let fresh = Unmanaged.passRetained(policy).toOpaque()
        retired.withLock { list in
            if let old = current.exchange(fresh, ordering: .sequentiallyConsistent) { list.append(RetiredPolicy(raw: old)) }
            let inUse = HazardRegistry.shared.protectedPointers()
            list.removeAll { p in
                guard !inUse.contains(p.raw) else { return false }
                Unmanaged<Policy>.fromOpaque(p.raw).release()
                return true
            }
        }
    }

    /// How many replaced policies are still waiting for a reader to finish.
    public var retiredCount: Int { retired.withLock { $0.count } }

    /// The policy in force (a strong reference), or nil.
    public func policy(scratch: DecisionScratch) -> Policy? {
        withPolicy(scratch: scratch) { $0 }
    }

    /// Runs `body` with the policy in force, protected from being freed meanwhile; nil when the
    /// holder has no policy. `scratch` is the calling thread's.
    @inline(__always)
    public func withPolicy<R>(scratch: DecisionScratch, _ body: (Policy) -> R) -> R? {
        let slot = scratch.hazard
        var p: UnsafeMutableRawPointer
        while true {
            guard let seen = current.load(ordering: .sequentiallyConsistent) else { return nil }
            slot.publish(seen)
            if current.load(ordering: .sequentiallyConsistent) == seen {
                p = seen
                break
            }
        }
        defer { slot.clear() }
        return Unmanaged<Policy>.fromOpaque(p)._withUnsafeGuaranteedRef { body($0) }
    }

    /// Decides with the policy in force; nil when the holder has no policy.
    public func decide(_ request: AccessRequest, scratch: DecisionScratch) -> AccessDecision? {
        withPolicy(scratch: scratch) { $0.decide(request, scratch: scratch) }
    }

    /// Picks a backend with the policy in force; nil when the holder has no policy.
    public func selectBackend(_ request: SplitRequest, scratch: DecisionScratch) -> SplitDecision? {
        withPolicy(scratch: scratch) { $0.selectBackend(request, scratch: scratch) }
    }
}

/// A replaced policy (+1) waiting until no reader uses it.
struct RetiredPolicy: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// Every live scratch's hazard slot, so that a swap can tell which retired policies are in use.
/// Registering and unregistering (scratch creation and destruction) take the lock; decisions do
/// not.
final class HazardRegistry: @unchecked Sendable {
    static let shared = HazardRegistry()
    private let slots = LockedValue<[ObjectIdentifier: Unmanaged<HazardSlot>]>([:])

    func register(_ slot: HazardSlot) {
        slots.withLock { $0[ObjectIdentifier(slot)] = Unmanaged.passUnretained(slot) }
    }

    func unregister(_ slot: HazardSlot) {
        _ = slots.withLock { $0.removeValue(forKey: ObjectIdentifier(slot)) }
    }

    /// The policies some reader has published right now.
    func protectedPointers() -> Set<UnsafeMutableRawPointer> {
        slots.withLock { all in
            var result = Set<UnsafeMutableRawPointer>()
            for slot in all.values {
                if let p = slot.takeUnretainedValue().load() { result.insert(p) }
            }
            return result
        }
    }
}

/// One reader's hazard pointer.
final class HazardSlot: @unchecked Sendable {
    private let pointer = Atomic<UnsafeMutableRawPointer?>(nil)

    init() { HazardRegistry.shared.register(self) }
    deinit { HazardRegistry.shared.unregister(self) }

    /// Publishes `p` (sequentially consistent: the reader's re-check must follow it).
    @inline(__always)
    func publish(_ p: UnsafeMutableRawPointer) { pointer.store(p, ordering: .sequentiallyConsistent) }

    /// Withdraws the published pointer.
    @inline(__always)
    func clear() { pointer.store(nil, ordering: .releasing) }

    @inline(__always)
    func load() -> UnsafeMutableRawPointer? { pointer.load(ordering: .sequentiallyConsistent) }
}
