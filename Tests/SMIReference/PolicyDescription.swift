import SMIEngine

// The differential test's own description of a policy: plain structs that say what each object
// holds and how it is written (version, omitted fields, numeric strings, header form). The
// generator builds them, the renderer writes them as YAML/JSON, and the reference evaluator
// decides on them directly. Nothing here comes from the engine's model or loader.

extension Differential {
    /// `namespace/name` of an object, an identity or a Service. Ordered by namespace, then name
    /// (SEMANTICS.md §6, §7: "first in `namespace/name` order").
    package struct ObjectID: Hashable, Comparable, CustomStringConvertible {
        package var namespace: String
        package var name: String

        package static func < (a: ObjectID, b: ObjectID) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }

        package var description: String { "\(namespace)/\(name)" }
    }

    /// `metadata`; an omitted namespace means `default` (SEMANTICS.md §1).
    package struct Metadata {
        package var name: String
        /// nil when `metadata.namespace` is left out.
        package var namespace: String?

        package var id: ObjectID { ObjectID(namespace: namespace ?? "default", name: name) }
    }

    /// A port as written: a number, or a numeric string such as `"9091"` (SEMANTICS.md §1, §3).
    package enum PortText {
        case number(Int)
        case string(Int)

        package var value: Int {
            switch self {
            case .number(let port), .string(let port): return port
            }
        }
    }

    // MARK: access.smi-spec.io

    package enum SubjectKind: String {
        case serviceAccount = "ServiceAccount"
        /// access v1alpha4 only; matches no identity (SEMANTICS.md §1).
        case identityBinding = "IdentityBinding"
    }

    /// A TrafficTarget destination or source.
    package struct Subject {
        package var kind: SubjectKind
        package var name: String
        /// nil when the namespace is left out: the TrafficTarget's own (SEMANTICS.md §3).
        package var namespace: String?
        /// Writes `group: access.smi-spec.io` (access v1alpha4).
        package var writesGroup = false
    }

    package enum RouteKind: String {
        case httpRouteGroup = "HTTPRouteGroup"
        case tcpRoute = "TCPRoute"
        case udpRoute = "UDPRoute"
    }

    /// One rule (`specs[]` in access v1alpha1, `spec.rules[]` after).
    package struct Rule {
        package var kind: RouteKind
        package var name: String
        /// nil when `matches` is omitted (every match), `[]` for none (SEMANTICS.md §3).
        package var matches: [String]?
    }

    package struct TrafficTarget {
        /// access.smi-spec.io/v1alpha<alpha>.
        package var alpha: Int
        package var metadata: Metadata
        package var destination: Subject
        /// `destination.port`, access v1alpha1/v1alpha2 only.
        package var port: PortText?
        package var sources: [Subject]
        package var rules: [Rule]
    }

    /// access v1alpha4 IdentityBinding: validated, never used for decisions.
    package struct IdentityBinding {
        package var metadata: Metadata
        package var serviceAccount: String
        package var spiffeIdentities: [String]
    }

    // MARK: specs.smi-spec.io

    package enum HeaderForm {
        /// `headers: {name: regex}`.
        case map
        /// `headers: [{name: regex}]`.
        case list
    }

    package struct HeaderCondition {
        package var name: String
        package var valueRegex: String
    }

    package struct HTTPMatch {
        package var name: String
        package var pathRegex: String?
        /// nil when absent; `[]` is written as an empty list.
        package var methods: [String]?
        /// nil when absent.
        package var headers: [HeaderCondition]?
        package var headerForm: HeaderForm
    }

    package struct HTTPRouteGroup {
        /// specs.smi-spec.io/v1alpha<alpha>.
        package var alpha: Int
        package var metadata: Metadata
        package var matches: [HTTPMatch]
    }

    /// How a specs v1alpha4 TCPRoute/UDPRoute writes (or leaves out) its port list.
    package enum PortListLayout {
        /// `spec.matches.ports: [...]`, possibly empty.
        case ports([PortText])
        /// `spec.matches: {}`.
        case matchesWithoutPorts
        /// `spec: {}`.
        case emptySpec
    }

    /// A TCPRoute or UDPRoute.
    package struct PortRoute {
        package var kind: RouteKind
        /// specs.smi-spec.io/v1alpha<alpha>; UDPRoute exists from v1alpha4.
        package var alpha: Int
        package var metadata: Metadata
        /// Only read for v1alpha4.
        package var layout: PortListLayout

        /// The listed ports, or nil when the route covers every port: before v1alpha4, or an
        /// empty or absent list (SEMANTICS.md §3).
        package var listedPorts: [Int]? {
            guard alpha >= 4, case .ports(let ports) = layout, !ports.isEmpty else { return nil }
            return ports.map(\.value)
        }
    }

    // MARK: split.smi-spec.io

    /// A v1alpha1 weight is a Kubernetes quantity (`1`, `500m`, `1.5`); later ones an integer.
    package enum Weight {
        case quantity(String)
        case integer(Int)
    }

    package struct Backend {
        /// The Service as written: a name or a DNS form such as `web-v1.shop.svc`.
        package var written: String
        package var weight: Weight
    }

    package struct SplitMatchRef {
        package var kind: RouteKind
        package var name: String
        package var writesAPIGroup: Bool
    }

    package struct TrafficSplit {
        /// split.smi-spec.io/v1alpha<alpha>.
        package var alpha: Int
        package var metadata: Metadata
        /// `spec.service` as written.
        package var service: String
        package var backends: [Backend]
        /// nil when absent (split v1alpha3+ may list route groups).
        package var matches: [SplitMatchRef]?
    }

    // MARK: Policy

    /// An object of the rendered policy.
    package enum Object {
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
    package struct PolicyDescription {
        package var targets: [TrafficTarget] = []
        package var bindings: [IdentityBinding] = []
        package var groups: [HTTPRouteGroup] = []
        package var portRoutes: [PortRoute] = []
        package var splits: [TrafficSplit] = []
        /// Objects defined earlier with the same kind, namespace and name as a final object; the
        /// later definition is used (SEMANTICS.md §1).
        package var overridden: [Object] = []
        /// Non-SMI objects, skipped.
        package var foreign: [Object] = []
        package var options = PolicyOptions()
    }
}
