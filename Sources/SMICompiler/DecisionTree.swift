import SMIBytecode

/// A node of the decision DAG. Children are node ids; equal nodes are shared (hash-consed), so
/// a node's children always have smaller ids than the node itself.
enum TreeNode: Hashable {
    case deny(DenyCode)
    case allow(grant: UInt32)
    /// MATCH_ROUTES, then `otherwise` when no candidate matches.
    case routes(set: UInt32, otherwise: Int)
    /// A hash switch; `otherwise` is taken when the key is absent.
    case switchOn(Opcode, cases: [SwitchCase], otherwise: Int)
    /// SPLIT_WHEN: `then` when the condition holds, else `otherwise`.
    case splitWhen(condition: UInt32, then: Int, otherwise: Int)
    /// PICK from the weight table rows `[name, weight]...`, naming the split.
    case pick(weights: [UInt64], split: UInt32)
    case root

    /// Terminals the emitter copies inline instead of jumping to.
    var isInlineTerminal: Bool {
        switch self {
        case .deny, .allow, .root, .pick: return true
        default: return false
        }
    }
}

struct SwitchCase: Hashable {
    var key: UInt32
    var node: Int
}

/// The DAG being built: interned nodes plus a note per node for the disassembler.
struct DecisionTree {
    private(set) var nodes: [TreeNode] = []
    private var ids: [TreeNode: Int] = [:]
    private(set) var notes: [Int: String] = [:]
    private var denyIDs = [Int?](repeating: nil, count: DenyCode.allCases.count)
    /// Whether notes are kept (they are built only then).
    let keepsNotes: Bool

    init(keepsNotes: Bool) { self.keepsNotes = keepsNotes }

    /// The id of `node`, adding it when new. The note is only built for a new node (most
    /// leaves are met again and again; their notes were most of the string building), and only
    /// when notes are kept.
    mutating func intern(_ node: TreeNode, note: @autoclosure () -> String? = nil) -> Int {
        let id = lookUpOrAdd(&ids, node, next: nodes.count)
        if id != nodes.count { return id }
        nodes.append(node)
        if keepsNotes, let note = note() { notes[id] = note }
        return id
    }

    /// The id of the DENY node for `code`; looked up once per code (leaves ask again and again).
    mutating func deny(_ code: DenyCode) -> Int {
        let slot = Int(code.rawValue)
        if slot < denyIDs.count, let id = denyIDs[slot] { return id }
        let id = intern(.deny(code))
        if slot < denyIDs.count { denyIDs[slot] = id }
        return id
    }

    /// A switch, or just `otherwise` when no case leads elsewhere.
    mutating func switchOn(
        _ op: Opcode, _ cases: [SwitchCase], otherwise: Int, note: @autoclosure () -> String? = nil
    ) -> Int {
        let useful = cases.filter { $0.node != otherwise }.sorted { $0.key < $1.key }
        if useful.isEmpty { return otherwise }
        return intern(.switchOn(op, cases: useful, otherwise: otherwise), note: note())
    }
}

/// The value stored for `key`, after storing `next` when the key is absent: a lookup and an
/// insertion for one hash of the key (the `default:` subscript, accessed in place, inserts).
/// Interners pass their next free index, so `result == next` means the key is new.
@inline(__always)
func lookUpOrAdd<Key: Hashable, Value>(_ dictionary: inout [Key: Value], _ key: Key, next: Value) -> Value {
    func read(_ slot: inout Value) -> Value { slot }
    return read(&dictionary[key, default: next])
}
