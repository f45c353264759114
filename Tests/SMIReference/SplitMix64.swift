import Foundation

// A small, seedable random number generator, so that every run of the differential test can be
// replayed from the seed it prints: SMI_DIFF_SEED=<seed> swift test --filter Differential

extension Differential {
    /// SplitMix64 (Steele, Lea and Flood): 64 bits of state, good enough for test data.
    package struct SplitMix64: RandomNumberGenerator {
        private var state: UInt64

        package init(seed: UInt64) { state = seed }

        package mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// True with probability `p`.
        package mutating func chance(_ p: Double) -> Bool {
            Double(next() >> 11) / Double(UInt64(1) << 53) < p
        }

        /// A uniformly chosen element of a non-empty array.
        package mutating func pick<T>(_ items: [T]) -> T {
            precondition(!items.isEmpty, "pick from an empty list")
            return items[Int.random(in: 0..<items.count, using: &self)]
        }

        /// A uniformly chosen integer in `range`.
        package mutating func int(_ range: ClosedRange<Int>) -> Int {
            Int.random(in: range, using: &self)
        }

        /// `count` distinct elements of `items` (fewer if it has fewer), in random order.
        package mutating func distinct<T>(_ count: Int, of items: [T]) -> [T] {
            Array(items.shuffled(using: &self).prefix(count))
        }
    }

    /// The run's seed: `SMI_DIFF_SEED` (decimal or 0x-hex) if set, else random. Read once, so all
    /// shards of one run share it.
    package static let runSeed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["SMI_DIFF_SEED"] {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.lowercased().hasPrefix("0x"), let value = UInt64(trimmed.dropFirst(2), radix: 16) {
                return value
            }
            if let value = UInt64(trimmed) { return value }
        }
        var system = SystemRandomNumberGenerator()
        return system.next()
    }()

    /// The seed of policy number `index` of a run; policies can be replayed one by one with
    /// SMI_DIFF_POLICY=<index>.
    package static func policySeed(run: UInt64, index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: run ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return mixer.next()
    }
}
