import SMIEngine

// The differential test's own description of a policy: plain structs that say what each object
// holds and how it is written (version, omitted fields, numeric strings, header form). The
// generator builds them, the renderer writes them as YAML/JSON, and the reference evaluator
// decides on them directly. Nothing here comes from the engine's model or loader.

extension Differential {
    /// `namespace/name` of an object, an identity or a Service. Ordered by namespace, then name
    /// (SEMANTICS.md §6, §7: "first in `namespace/name` order").
    struct ObjectID: Hashable, Comparable, CustomStringConvertible {
        var namespace: String
        var name: String

        static func < (a: ObjectID, b: ObjectID) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }

        var description: String { "\(namespace)/\(name)" }
    }

    /// `metadata`; an omitted namespace means `default` (SEMANTICS.md §1).
    struct Metadata {
        var name: String
        /// nil when `metadata.namespace` is left out.
        var namespace: String?

        var id: ObjectID { ObjectID(namespace: namespace ?? "default", name: name) }
    }

    /// A port as written: a number, or a numeric string such as `"9091"` (SEMANTICS.md §1, §3).
    enum PortText {
        case number(Int)
        case string(Int)

        var value: Int {
            switch self {
            case .number(let port), .string(let port): return port
            }
        }
    }

    // MARK: access.smi-spec.io

    enum SubjectKind: String {
        case serviceAccount = "ServiceAccount"
        /// access v1alpha4 only; matches no identity (SEMANTICS.md §1).
        case identityBinding = "IdentityBinding"
    }

    /// A TrafficTarget destination or source.
    struct Subject {
        var kind: SubjectKind
        var name: String
        /// nil when the namespace is left out: the TrafficTarget's own (SEMANTICS.md §3).
        var namespace: String?
        /// Writes `group: access.smi-spec.io` (access v1alpha4).
        var writesGroup = false
    }

    enum RouteKind: String {
        case httpRouteGroup = "HTTPRouteGroup"
        case tcpRoute = "TCPRoute"
        case udpRoute = "UDPRoute"
    }

    /// One rule (`specs[]` in access v1alpha1, `spec.rules[]` after).
    struct Rule {
        var kind: RouteKind
        var name: String
        /// nil when `matches` is omitted (every match), `[]` for none (SEMANTICS.md §3).
        var matches: [String]?
    }

    struct TrafficTarget {
        /// access.smi-spec.io/v1alpha<alpha>.
        var alpha: Int
        var metadata: Metadata
        var destination: Subject
        /// `destination.port`, access v1alpha1/v1alpha2 only.
        var port: PortText?
        var sources: [Subject]
        var rules: [Rule]
    }

    /// access v1alpha4 IdentityBinding: validated, never used for decisions.
    struct IdentityBinding {
        var metadata: Metadata
        var serviceAccount: String
        var spiffeIdentities: [String]
    }

    // MARK: specs.smi-spec.io

    enum HeaderForm {
        /// `headers: {name: regex}`.
        case map
        /// `headers: [{name: regex}]`.
        case list
    }

    struct HeaderCondition {
        var name: String
        var valueRegex: String
    }

    struct HTTPMatch {
        var name: String
        var pathRegex: String?
        /// nil when absent; `[]` is written as an empty list.
        var methods: [String]?
        /// nil when absent.
        var headers: [HeaderCondition]?
        var headerForm: HeaderForm
    }

    struct HTTPRouteGroup {
        /// specs.smi-spec.io/v1alpha<alpha>.
        var alpha: Int
        var metadata: Metadata
        var matches: [HTTPMatch]
    }

    /// How a specs v1alpha4 TCPRoute/UDPRoute writes (or leaves out) its port list.
    enum PortListLayout {
        /// `spec.matches.ports: [...]`, possibly empty.
        case ports([PortText])
        /// `spec.matches: {}`.
        case matchesWithoutPorts
        /// `spec: {}`.
        case emptySpec
    }

    /// A TCPRoute or UDPRoute.
    struct PortRoute {
        var kind: RouteKind
        /// specs.smi-spec.io/v1alpha<alpha>; UDPRoute exists from v1alpha4.
        var alpha: Int
        var metadata: Metadata
        /// Only read for v1alpha4.
        var layout: PortListLayout

        /// The listed ports, or nil when the route covers every port: before v1alpha4, or an
        /// empty or absent list (SEMANTICS.md §3).
        var listedPorts: [Int]? {
            guard alpha >= 4, case .ports(let ports) = layout, !ports.isEmpty else { return nil }
            return ports.map(\.value)
        }
    }

    // MARK: split.smi-spec.io

    /// A v1alpha1 weight is a Kubernetes quantity (`1`, `500m`, `1.5`); later ones an integer.
    enum Weight {
        case quantity(String)
        case integer(Int)
    }

    struct Backend {
        /// The Service as written: a name or a DNS form such as `web-v1.shop.svc`.
        var written: String
        var weight: Weight
    }

    struct SplitMatchRef {
        var kind: RouteKind
        var name: String
        var writesAPIGroup: Bool
    }

    struct TrafficSplit {
        /// split.smi-spec.io/v1alpha<alpha>.
        var alpha: Int
        var metadata: Metadata
        /// `spec.service` as written.
        var service: String
        var backends: [Backend]
        /// nil when absent (split v1alpha3+ may list route groups).
        var matches: [SplitMatchRef]?
    }

    // MARK: Policy

    /// An object of the rendered policy.
    enum Object {
        case trafficTarget(TrafficTarget)
        case identityBinding(IdentityBinding)
        case httpRouteGroup(HTTPRouteGroup)
        case portRoute(PortRoute)
        case trafficSplit(TrafficSplit)
        /// A Kubernetes object of another API group (skipped, SEMANTICS.md §1).
        case foreign(kind: String, name: String)
    }

    /// A generated policy: the objects that decide, the options, and objects that only appear
    /// in the text (earlier definitions later redefined, foreign kinds).
    struct PolicyDescription {
        var targets: [TrafficTarget] = []
        var bindings: [IdentityBinding] = []
        var groups: [HTTPRouteGroup] = []
        var portRoutes: [PortRoute] = []
        var splits: [TrafficSplit] = []
        /// Objects defined earlier with the same kind, namespace and name as a final object; the
        /// later definition is used (SEMANTICS.md §1).
        var overridden: [Object] = []
        /// Non-SMI objects, skipped.
        var foreign: [Object] = []
        var options = PolicyOptions()
    }
}
