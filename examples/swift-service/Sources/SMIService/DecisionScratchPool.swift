import SMIEngine
import Synchronization

/// A fixed set of ``DecisionScratch`` objects that concurrent request handlers borrow for the
/// length of one synchronous decision.
///
/// A `DecisionScratch` must never be used by two decisions at once (its PCRE2 match data, path
/// buffer, header arena and ``PolicyHolder`` hazard slot are written during a decision), but it
/// is not tied to a thread: what it needs is exclusive use while a decision runs. Swift tasks hop
/// between threads only at suspension points, and a decision has none, so lending a scratch for
/// exactly one synchronous call gives that exclusivity whatever executor runs the handler.
///
/// The free scratches are the set bits of one atomic word: borrowing clears the lowest set bit
/// with a compare-and-exchange (acquiring), returning sets it again (releasing), so the next
/// borrower sees every write the previous one made. No lock, no allocation. At most 64
/// scratches; if all are out at once (more threads deciding at the same moment than the pool
/// holds), the caller gets a temporary scratch and ``overflowCount`` counts it.
public final class DecisionScratchPool: Sendable {
    private let scratches: [DecisionScratch]
    /// Bit `i` set: `scratches[i]` is free.
    private let free: Atomic<UInt64>
    private let overflows = Atomic<Int>(0)

    /// The most scratches one pool holds (one bit each in a 64-bit word).
    public static let maximumCapacity = 64

    /// Creates `capacity` scratches (clamped to 1...64). Size it to the number of threads that
    /// can be deciding at the same moment: the event loop threads plus the cooperative pool's.
    public init(capacity: Int) {
        let count = min(max(capacity, 1), Self.maximumCapacity)
        scratches = (0..<count).map { _ in DecisionScratch() }
        free = Atomic(count == 64 ? UInt64.max : (UInt64(1) << UInt64(count)) - 1)
    }

    /// How many scratches the pool holds.
    public var capacity: Int { scratches.count }

    /// How many borrows found every scratch out and used a temporary one.
    public var overflowCount: Int { overflows.load(ordering: .relaxed) }

    /// Lends a scratch to `body`, which must not keep it (nor suspend: it is synchronous).
    @inline(__always)
    public func withScratch<R>(_ body: (DecisionScratch) throws -> R) rethrows -> R {
        var bits = free.load(ordering: .relaxed)
        while bits != 0 {
            let index = bits.trailingZeroBitCount
            let mask = UInt64(1) << UInt64(index)
            let (taken, seen) = free.compareExchange(
                expected: bits, desired: bits & ~mask, successOrdering: .acquiring, failureOrdering: .relaxed)
            if taken {
                defer { free.bitwiseOr(mask, ordering: .releasing) }
                return try body(scratches[index])
            }
            bits = seen
        }
        overflows.add(1, ordering: .relaxed)
        return try body(DecisionScratch())
    }
}
