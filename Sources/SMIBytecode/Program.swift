/// A string-table index meaning "none".
public let noIndex: UInt32 = .max

/// Options baked into a program when it was compiled.
public struct ProgramOptions: Sendable, Hashable {
    /// `pathRegex` anchored at both ends.
    public var fullPathMatch: Bool
    /// Path normalization steps.
    public var normalization: PathNormalization
    /// PCRE2 match limit per evaluation.
    public var matchLimit: UInt32
    /// PCRE2 depth limit per evaluation.
    public var depthLimit: UInt32
    /// Required SPIFFE trust domain, or nil for any.
    public var trustDomain: String?

    /// Creates options.
    public init(fullPathMatch: Bool, normalization: PathNormalization, matchLimit: UInt32, depthLimit: UInt32, trustDomain: String?) {
        self.fullPathMatch = fullPathMatch
        self.normalization = normalization
        self.matchLimit = matchLimit
        self.depthLimit = depthLimit
        self.trustDomain = trustDomain
    }
}

/// Rule kinds as a grant records them.
public enum GrantRuleKind: UInt32, Sendable, CaseIterable {
    case httpRouteGroup = 0
    case tcpRoute = 1
    case udpRoute = 2

    /// `HTTPRouteGroup`, `TCPRoute` or `UDPRoute`.
    public var spelling: String {
        switch self {
        case .httpRouteGroup: return "HTTPRouteGroup"
        case .tcpRoute: return "TCPRoute"
        case .udpRoute: return "UDPRoute"
        }
    }
}

/// What an allow names: the TrafficTarget, the rule kind and the match.
public struct Grant: Sendable, Hashable {
    /// String index of the TrafficTarget's `namespace/name`.
    public var trafficTarget: UInt32
    /// The granting rule's kind.
    public var ruleKind: GrantRuleKind
    /// String index of the match name, or ``noIndex`` for an L4 grant.
    public var match: UInt32

    /// Creates a grant.
    public init(trafficTarget: UInt32, ruleKind: GrantRuleKind, match: UInt32) {
        self.trafficTarget = trafficTarget
        self.ruleKind = ruleKind
        self.match = match
    }
}

/// A header condition: the (lowercase) name's value must match the pattern as a whole.
public struct HeaderTest: Sendable, Hashable {
    /// String index of the lowercase header name.
    public var name: UInt32
    /// String index of the value pattern.
    public var pattern: UInt32

    /// Creates a header test.
    public init(name: UInt32, pattern: UInt32) {
        self.name = name
        self.pattern = pattern
    }
}

/// One candidate of a route set: an HTTP match with the grant it gives.
public struct RouteCandidate: Sendable, Hashable {
    /// Index into `grants` (``noIndex`` in split conditions).
    public var grant: UInt32
    /// String index of the path pattern, or ``noIndex`` when any path matches.
    public var path: UInt32
    /// Method indices the candidate accepts; empty means any method.
    public var methods: [UInt32]
    /// Header conditions, all of which must hold.
    public var headers: [HeaderTest]

    /// Creates a candidate.
    public init(grant: UInt32, path: UInt32, methods: [UInt32], headers: [HeaderTest]) {
        self.grant = grant
        self.path = path
        self.methods = methods
        self.headers = headers
    }
}

/// An ordered list of candidates, answered as "the first that matches".
public struct RouteSet: Sendable, Hashable {
    /// The candidates, in priority order.
    public var candidates: [RouteCandidate]

    /// Creates a route set.
    public init(candidates: [RouteCandidate]) { self.candidates = candidates }
}

/// When a TrafficSplit with `matches` applies.
public struct SplitCondition: Sendable, Hashable {
    /// HTTP matches of the listed HTTPRouteGroups, or ``noIndex`` when none.
    public var routeSet: UInt32
    /// Whether a listed TCPRoute covers every port (it then matches every request).
    public var anyPort: Bool
    /// Ports of the listed TCPRoutes, sorted; a request without a port matches none.
    public var ports: [UInt32]

    /// Creates a condition.
    public init(routeSet: UInt32, anyPort: Bool, ports: [UInt32]) {
        self.routeSet = routeSet
        self.anyPort = anyPort
        self.ports = ports
    }
}

/// A note tying an instruction to the resource it came from, for the disassembler.
public struct Annotation: Sendable, Hashable {
    /// The instruction's code offset.
    public var offset: UInt32
    /// String index of the note.
    public var text: UInt32

    /// Creates an annotation.
    public init(offset: UInt32, text: UInt32) {
        self.offset = offset
        self.text = text
    }
}

/// A compiled policy: decision-tree bytecode plus the sections its operands index.
///
/// Plain data, no compiled regexes: `SMIRuntime` verifies it and turns it into an executable
/// policy. The layout is specified in docs/BYTECODE.md.
public struct Program: Sendable, Hashable {
    /// The bundle format version this build writes and reads (docs/BUNDLE.md); bump it with any
    /// change to the fields below or their encoding.
    public static let formatVersion: UInt32 = 2

    /// Options baked in at compile time.
    public var options: ProgramOptions
    /// Every string the program mentions.
    public var strings: [String] = []
    /// Identities and services (`namespace/name`) as string indices; operands of
    /// `SWITCH_DEST`, `SWITCH_SOURCE` and `SWITCH_SERVICE` are indices into this list.
    public var names: [UInt32] = []
    /// Method tokens as string indices; keys of `SWITCH_METHOD`.
    public var methods: [UInt32] = []
    /// Grants named by `ALLOW` and route candidates.
    public var grants: [Grant] = []
    /// Route sets named by `MATCH_ROUTES` and split conditions.
    public var routeSets: [RouteSet] = []
    /// Conditions named by `SPLIT_WHEN`.
    public var splitConditions: [SplitCondition] = []
    /// The instructions.
    public var code: [UInt32] = []
    /// Switch and weight tables.
    public var tables: [UInt32] = []
    /// Where access decisions start.
    public var accessEntry: UInt32 = 0
    /// Where split decisions start.
    public var splitEntry: UInt32 = 0
    /// Instruction notes, sorted by offset.
    public var annotations: [Annotation] = []

    /// An empty program with the given options.
    public init(options: ProgramOptions) { self.options = options }

    /// Gives each top-level array storage that holds exactly its elements. Arrays grown by
    /// appending keep up to twice the room they need; a compiled policy lives long, so the
    /// compiler calls this once when a program is finished (about 1.3 MB less for the code and
    /// tables of a 10,000-TrafficTarget policy).
    public mutating func compactStorage() {
        strings = strings.compacted()
        names = names.compacted()
        methods = methods.compacted()
        grants = grants.compacted()
        routeSets = routeSets.compacted()
        splitConditions = splitConditions.compacted()
        code = code.compacted()
        tables = tables.compacted()
        annotations = annotations.compacted()
    }

    /// The string at `index`, or nil when out of range.
    public func string(_ index: UInt32) -> String? {
        index < strings.count ? strings[Int(index)] : nil
    }

    /// The name (`namespace/name`) at name index `index`.
    public func name(_ index: UInt32) -> String? {
        guard index < names.count else { return nil }
        return string(names[Int(index)])
    }
}

/// Switch tables, in one of two forms told apart by their first word:
///
/// - linear, for at most ``maxLinear`` entries: `[linearTag | count, (key, target) × count]`, keys
///   strictly increasing; a lookup compares the keys in order;
/// - hash: `[log2Capacity, count, (key, target) × capacity]`, open addressing with linear
///   probing, empty slots hold key `0xFFFF_FFFF`; at least one slot is empty and tables of more
///   than 8 slots are at most 3/4 full.
public enum SwitchTable {
    /// The key of an empty slot.
    @inlinable public static var emptyKey: UInt32 { .max }
    /// The bit of the first word that marks a linear table; the other bits hold its count.
    @inlinable public static var linearTag: UInt32 { 0x8000_0000 }
    /// Tables with at most this many entries are written linear: smaller than any hash table
    /// (which needs an empty slot and a header of two words) and at most 8 compares to search.
    public static let maxLinear = 8

    /// The first probe slot of `key` in a table of `1 << log2` slots (`log2` < 32): the top
    /// `log2` bits of `key × 0x9E3779B1` (mod 2^32), 0 when `log2` is 0. Computed in 64 bits so
    /// that it needs neither a branch for `log2 == 0` nor an over-shift check.
    @inlinable @inline(__always)
    public static func slot(_ key: UInt32, log2: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: (UInt64(key &* 0x9E37_79B1) &<< UInt64(log2)) &>> 32)
    }

    /// The smallest power-of-two capacity (as log2) that keeps an empty slot and a load of at
    /// most 3/4 once the table has more than 8 slots. Small tables may be nearly full: a probe
    /// over at most 8 slots costs less than the cache line a sparser table would take.
    public static func capacityLog2(_ count: Int) -> UInt32 {
        var log2: UInt32 = 0
        while true {
            let capacity = 1 << Int(log2)
            if capacity > count && (capacity <= 8 || count * 4 <= capacity * 3) { return log2 }
            log2 += 1
        }
    }

    /// Encodes `entries` (distinct keys): linear up to ``maxLinear`` entries, else hashed.
    public static func encode(_ entries: [(key: UInt32, target: UInt32)]) -> [UInt32] {
        entries.count <= maxLinear ? encodeLinear(entries) : encodeHash(entries)
    }

    /// Encodes `entries` (distinct keys) as a linear table, keys sorted.
    public static func encodeLinear(_ entries: [(key: UInt32, target: UInt32)]) -> [UInt32] {
        var words: [UInt32] = [linearTag | UInt32(truncatingIfNeeded: entries.count)]
        for (key, target) in entries.sorted(by: { $0.key < $1.key }) { words += [key, target] }
        return words
    }

    /// Encodes `entries` (distinct keys) as a hash table.
    public static func encodeHash(_ entries: [(key: UInt32, target: UInt32)]) -> [UInt32] {
        let log2 = capacityLog2(entries.count)
        let capacity = 1 << Int(log2)
        var slots = [UInt32](repeating: emptyKey, count: capacity * 2)
        for (key, target) in entries.sorted(by: { $0.key < $1.key }) {
            var i = Int(slot(key, log2: log2))
            while slots[i * 2] != emptyKey { i = (i + 1) & (capacity - 1) }
            slots[i * 2] = key
            slots[i * 2 + 1] = target
        }
        return [log2, UInt32(entries.count)] + slots
    }

    /// Where in an encoded table (`encode`'s result) each entry's target word is, with the target.
    public static func targetPositions(_ encoded: [UInt32]) -> [(index: Int, target: UInt32)] {
        guard let first = encoded.first else { return [] }
        if first & linearTag != 0 {
            return (0..<Int(first & ~linearTag)).map { (2 + $0 * 2, encoded[2 + $0 * 2]) }
        }
        let capacity = 1 << Int(first)
        return (0..<capacity).filter { encoded[2 + $0 * 2] != emptyKey }.map { (3 + $0 * 2, encoded[3 + $0 * 2]) }
    }

    /// The number of words the table at `offset` takes (header and entries or slots); 0 if it
    /// does not fit in `tables`.
    public static func words(_ tables: [UInt32], at offset: Int) -> Int {
        guard offset >= 0, offset < tables.count else { return 0 }
        let first = tables[offset]
        let words: Int
        if first & linearTag != 0 {
            words = 1 + Int(first & ~linearTag) * 2
        } else {
            guard first < 31 else { return 0 }
            words = 2 + (1 << Int(first)) * 2
        }
        return words <= tables.count - offset ? words : 0
    }

    /// The entries of the table at `offset` (linear: in key order; hash: in slot order); nil if
    /// it does not fit in `tables` or is malformed: a linear table whose keys do not strictly
    /// increase, a hash table whose count disagrees with its slots or that has no empty slot
    /// (a lookup of an absent key would never end).
    public static func decode(_ tables: [UInt32], at offset: Int) -> [(key: UInt32, target: UInt32)]? {
        let size = words(tables, at: offset)
        guard size > 0 else { return nil }
        var result: [(key: UInt32, target: UInt32)] = []
        let first = tables[offset]
        if first & linearTag != 0 {
            for i in stride(from: offset + 1, to: offset + size, by: 2) {
                if let last = result.last, tables[i] <= last.key { return nil }
                result.append((tables[i], tables[i + 1]))
            }
            return result
        }
        let capacity = 1 << Int(first)
        for i in 0..<capacity where tables[offset + 2 + i * 2] != emptyKey {
            result.append((tables[offset + 2 + i * 2], tables[offset + 3 + i * 2]))
        }
        guard result.count == Int(tables[offset + 1]), result.count < capacity else { return nil }
        return result
    }
}

/// Weight tables: `[count, totalHigh, totalLow, (cumulativeHigh, cumulativeLow, name) × count]`;
/// zero weights are left out, cumulative sums are strictly increasing and the last equals total.
public enum WeightTable {
    /// Encodes `(name index, weight)` pairs, skipping zero weights; nil when the sum overflows.
    public static func encode(_ backends: [(name: UInt32, weight: UInt64)]) -> [UInt32]? {
        var rows: [UInt32] = []
        var total: UInt64 = 0
        var count: UInt32 = 0
        for (name, weight) in backends where weight > 0 {
            let (sum, overflow) = total.addingReportingOverflow(weight)
            if overflow { return nil }
            total = sum
            count += 1
            rows += [UInt32(truncatingIfNeeded: total >> 32), UInt32(truncatingIfNeeded: total), name]
        }
        return [count, UInt32(truncatingIfNeeded: total >> 32), UInt32(truncatingIfNeeded: total)] + rows
    }

    /// The entries of the table at `offset`: name index and (non-cumulative) weight.
    public static func decode(_ tables: [UInt32], at offset: Int) -> [(name: UInt32, weight: UInt64)]? {
        guard offset >= 0, offset + 3 <= tables.count else { return nil }
        let count = Int(tables[offset])
        guard count <= (tables.count - offset - 3) / 3 else { return nil }
        var result: [(name: UInt32, weight: UInt64)] = []
        var previous: UInt64 = 0
        for i in 0..<count {
            let base = offset + 3 + i * 3
            let cumulative = UInt64(tables[base]) << 32 | UInt64(tables[base + 1])
            guard cumulative > previous else { return nil }
            result.append((tables[base + 2], cumulative - previous))
            previous = cumulative
        }
        let total = UInt64(tables[offset + 1]) << 32 | UInt64(tables[offset + 2])
        guard total == previous else { return nil }
        return result
    }
}

extension Array {
    /// The same elements in storage of exactly their count (self when there is no spare room).
    func compacted() -> [Element] {
        guard capacity > count else { return self }
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = buffer.initialize(fromContentsOf: self)
        }
    }
}
