import SMIEngine

/// The policies the decision and program targets run against when the input does not ask for a
/// random one: path-only L7 grants (the bypass shape: only `/public/.*` open), headers in both
/// forms, L4 grants, splits with matches, and a regex that backtracks catastrophically under a
/// tight budget. Each is also compiled with other options.
enum FixedPolicies {
    static let bypass = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: public, namespace: default}
        spec:
          matches:
          - name: public
            pathRegex: /public/.*
            methods: [GET, HEAD]
          - name: debug
            pathRegex: /debug
            headers:
            - x-debug: abc
            - user-agent: ".*Firefox.*"
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: admin, namespace: default}
        spec:
          matches:
          - name: admin
            pathRegex: /admin
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: web-to-api, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          sources: [{kind: ServiceAccount, name: web}]
          rules: [{kind: HTTPRouteGroup, name: public}]
        ---
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: ops-to-api, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api}
          sources: [{kind: ServiceAccount, name: ops}]
          rules: [{kind: HTTPRouteGroup, name: admin}]
        """

    static let l4AndSplits = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: db-port, namespace: shop}
        spec:
          matches: {ports: [5432]}
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: UDPRoute
        metadata: {name: dns, namespace: shop}
        spec:
          matches: {ports: [53]}
        ---
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: ab-test, namespace: shop}
        spec:
          matches:
          - name: firefox-users
            headers: {user-agent: ".*Firefox.*"}
          - name: beta-api
            pathRegex: /api/beta
            methods: ["*"]
        ---
        apiVersion: access.smi-spec.io/v1alpha4
        kind: TrafficTarget
        metadata: {name: api-to-db, namespace: shop}
        spec:
          destination: {kind: ServiceAccount, name: db}
          sources: [{kind: ServiceAccount, name: api}, {kind: ServiceAccount, name: web, namespace: default}]
          rules: [{kind: TCPRoute, name: db-port}, {kind: UDPRoute, name: dns}]
        ---
        apiVersion: access.smi-spec.io/v1alpha4
        kind: TrafficTarget
        metadata: {name: web-to-api, namespace: shop}
        spec:
          destination: {kind: ServiceAccount, name: api}
          sources: [{kind: ServiceAccount, name: web, namespace: default}]
          rules:
          - {kind: TCPRoute, name: db-port}
          - {kind: HTTPRouteGroup, name: ab-test, matches: [beta-api]}
        ---
        apiVersion: split.smi-spec.io/v1alpha4
        kind: TrafficSplit
        metadata: {name: b-ab-test, namespace: shop}
        spec:
          service: website
          matches: [{kind: HTTPRouteGroup, name: ab-test}]
          backends: [{service: website-v1, weight: 0}, {service: website-v2, weight: 100}]
        ---
        apiVersion: split.smi-spec.io/v1alpha4
        kind: TrafficSplit
        metadata: {name: c-canary, namespace: shop}
        spec:
          service: website
          backends: [{service: website, weight: 90}, {service: website-canary.shop.svc, weight: 10}]
        ---
        apiVersion: split.smi-spec.io/v1alpha1
        kind: TrafficSplit
        metadata: {name: old, namespace: shop}
        spec:
          service: search
          backends: [{service: search-v1, weight: 500m}, {service: search-v2, weight: "1"}]
        """

    static let slowRegex = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: slow, namespace: default}
        spec:
          matches:
          - name: slow
            pathRegex: /(a+)+$
          - name: slow-header
            headers: {x-user: "(a|aa)+$"}
        ---
        apiVersion: access.smi-spec.io/v1alpha2
        kind: TrafficTarget
        metadata: {name: slow, namespace: default}
        spec:
          destination: {kind: ServiceAccount, name: api, port: 8080}
          sources: [{kind: ServiceAccount, name: web}]
          rules: [{kind: HTTPRouteGroup, name: slow}]
        """

    /// Each policy text with the options it is compiled with.
    static let variants: [(text: String, options: PolicyOptions)] = {
        var full = PolicyOptions()
        full.fullPathMatch = true
        var raw = PolicyOptions()
        raw.normalization = []
        var tight = PolicyOptions()
        tight.matchLimit = 2_000
        tight.depthLimit = 200
        tight.maxHeaders = 4
        tight.maxTargetLength = 256
        var spiffe = PolicyOptions()
        spiffe.trustDomain = "cluster.local"
        return [
            (bypass, PolicyOptions()), (bypass, full), (bypass, raw), (bypass, tight), (l4AndSplits, PolicyOptions()),
            (l4AndSplits, spiffe), (slowRegex, tight), (slowRegex, PolicyOptions()),
        ]
    }()

    /// Identities, services and ports requests draw from: the policies' own, SPIFFE forms and
    /// near misses.
    static let identities = [
        "default/web", "default/api", "default/ops", "shop/api", "shop/db", "shop/web",
        "spiffe://cluster.local/ns/default/sa/web",
        "spiffe://other.domain/ns/shop/sa/api", "spiffe://cluster.local/ns/shop/sa/db/x", "", "default/", "/web",
        "Default/web",
        "default/web\u{0}", "default//web", "spiffe://", "spiffe://cluster.local/ns/default/sa/", "default/web ",
    ]
    static let services = [
        "shop/website", "shop/search", "default/website", "shop/website-v1", "shop/", "", "website",
        "shop/website\u{0}",
    ]
    static let ports: [UInt32] = [80, 8080, 5432, 53, 9000, 0, 65535]
}
