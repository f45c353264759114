/// Every SMI resource of a policy, as loaded: the loader's output and the compiler's input.
///
/// Each collection holds at most one resource per (kind, namespace, name): a later definition
/// replaced an earlier one (with a `redefined` warning). Collections are sorted by namespace/name.
public struct PolicyModel: Sendable, Hashable {
    /// TrafficTargets.
    public var trafficTargets: [TrafficTarget] = []
    /// IdentityBindings.
    public var identityBindings: [IdentityBinding] = []
    /// HTTPRouteGroups.
    public var httpRouteGroups: [HTTPRouteGroup] = []
    /// TCPRoutes.
    public var tcpRoutes: [PortRoute] = []
    /// UDPRoutes.
    public var udpRoutes: [PortRoute] = []
    /// TrafficSplits.
    public var trafficSplits: [TrafficSplit] = []

    /// An empty policy.
    public init() {}

    /// How many SMI resources the policy holds.
    public var resourceCount: Int {
        trafficTargets.count + identityBindings.count + httpRouteGroups.count + tcpRoutes.count
            + udpRoutes.count + trafficSplits.count
    }
}
