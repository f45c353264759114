import SMIModel

extension ResourceDecoder {
    /// Decodes an access.smi-spec.io TrafficTarget of any version into the one model shape.
    ///
    /// v1alpha1 keeps `destination`, `sources` and `specs` at the top level; later versions keep
    /// `destination`, `sources` and `rules` under `spec`. `destination.port` exists in v1alpha1 and
    /// v1alpha2 only; subject `group` and kind `IdentityBinding` in v1alpha4 only.
    mutating func decodeTrafficTarget(_ root: DocumentNode, origin: ResourceOrigin) -> TrafficTarget? {
        let alpha = version.alpha
        let namespace = origin.id.namespace
        let body: DocumentNode
        if alpha == 1 {
            checkKeys(
                root,
                path: "",
                allowed: ["apiVersion", "kind", "metadata", "status", "destination", "sources", "specs"],
                misplaced: { [version] name in
                    switch name {
                    case "spec":
                        return
                            "`spec` is not a field in \(version); `destination`, `sources` and `specs` are top-level fields there"
                    case "rules": return "`rules` is not a field in \(version); rules are written as top-level `specs`"
                    default: return nil
                    }
                }
            )
            body = root
        } else {
            checkKeys(
                root,
                path: "",
                allowed: Self.topLevelKeysAndSpec,
                misplaced: { [version] name in
                    let below = "is not a top-level field in \(version); it belongs under `spec`"
                    switch name {
                    case "destination": return "`destination` \(below)"
                    case "sources": return "`sources` \(below)"
                    case "rules": return "`rules` \(below)"
                    case "specs": return "`specs` is not a field in \(version); rules are written as `spec.rules`"
                    default: return nil
                    }
                }
            )
            guard let specNode = root["spec"] else {
                missing("spec", in: root, path: "")
                return nil
            }
            guard let spec = mapping(specNode, field: "spec") else { return nil }
            checkKeys(
                spec,
                path: "spec",
                allowed: ["destination", "sources", "rules"],
                misplaced: { [version] name in
                    name == "specs"
                        ? "`specs` is not a field of `spec` in \(version); rules are written as `spec.rules`" : nil
                }
            )
            body = spec
        }
        let path = alpha == 1 ? "" : "spec"

        // Destination.
        var destination: Subject?
        var port: Located<Int>?
        if let node = body["destination"] {
            let field = Self.join(path, "destination")
            if let map = mapping(node, field: field) {
                destination = subject(map, path: field, namespace: namespace, isDestination: true)
                if alpha <= 2, let portNode = map["port"], !portNode.isNull {
                    port = self.port(portNode, field: Self.join(field, "port"))
                }
            }
        } else {
            missing("destination", in: body, path: path)
        }

        // Sources.
        var sources: [Subject] = []
        if let node = body["sources"] {
            let field = Self.join(path, "sources")
            for (i, item) in (list(node, field: field) ?? .empty).enumerated() {
                let itemField = Self.index(field, i)
                guard let map = mapping(item, field: itemField) else { continue }
                if let source = subject(map, path: itemField, namespace: namespace, isDestination: false) {
                    sources.append(source)
                }
            }
        }

        // Rules (`specs` in v1alpha1).
        var rules: [TrafficTargetRule] = []
        let rulesKey = alpha == 1 ? "specs" : "rules"
        if let node = body[rulesKey] {
            let field = Self.join(path, rulesKey)
            for (i, item) in (list(node, field: field) ?? .empty).enumerated() {
                if let rule = self.rule(item, path: Self.index(field, i)) { rules.append(rule) }
            }
        }

        guard let destination else { return nil }
        return TrafficTarget(origin: origin, destination: destination, sources: sources, rules: rules, port: port)
    }

    /// A destination or source: `{kind, name, namespace}`, plus `port` on a v1alpha1/2 destination
    /// (read by the caller) and `group` in v1alpha4.
    private mutating func subject(_ map: DocumentNode, path: String, namespace: String, isDestination: Bool) -> Subject?
    {
        let alpha = version.alpha
        let allowed: [StaticString]
        switch (isDestination && alpha <= 2, alpha >= 4) {
        case (true, _): allowed = ["kind", "name", "namespace", "port"]
        case (false, true): allowed = ["kind", "name", "namespace", "group"]
        case (false, false): allowed = ["kind", "name", "namespace"]
        }
        checkKeys(map, path: path, allowed: allowed) { [version] name in
            if name == "port" && isDestination && alpha > 2 {
                return
                    "`port` is not a field of `destination` in \(version); ports come from TCPRoute and UDPRoute `spec.matches.ports`"
            }
            if name == "group" && alpha < 4 {
                return "`group` is not a field of a subject in \(version); it exists from access.smi-spec.io/v1alpha4"
            }
            return nil
        }

        var kind: SubjectKind?
        if let text = requiredString(in: map, "kind", path: path) {
            switch text.value {
            case "ServiceAccount":
                kind = .serviceAccount
            case "IdentityBinding" where alpha >= 4:
                kind = .identityBinding
            default:
                let allowedKinds = alpha >= 4 ? "`ServiceAccount` or `IdentityBinding`" : "`ServiceAccount`"
                error(
                    .invalidValue,
                    "subject kind `\(text.value)` is not supported in \(versionText); use \(allowedKinds)",
                    at: text.location,
                    field: Self.join(path, "kind")
                )
            }
        }
        _ = optionalString(in: map, "group", path: path)
        let name = requiredString(in: map, "name", path: path)
        let written = optionalString(in: map, "namespace", path: path)
        guard let kind, let name else { return nil }
        return Subject(
            kind: kind,
            name: name.value,
            namespace: written?.value ?? namespace,
            namespaceWritten: written != nil,
            location: map.location,
            namespaceLocation: written?.location
        )
    }

    /// One rule: `{kind, name, matches}`.
    private mutating func rule(_ item: DocumentNode, path: String) -> TrafficTargetRule? {
        guard let map = mapping(item, field: path) else { return nil }
        checkKeys(map, path: path, allowed: ["kind", "name", "matches"])
        var kind: RuleKind?
        if let text = requiredString(in: map, "kind", path: path) {
            if let parsed = RuleKind(rawValue: text.value), parsed != .udpRoute || version.alpha >= 3 {
                kind = parsed
            } else {
                let allowedKinds =
                    version.alpha >= 3 ? "`HTTPRouteGroup`, `TCPRoute` or `UDPRoute`" : "`HTTPRouteGroup` or `TCPRoute`"
                error(
                    .invalidValue,
                    "rule kind `\(text.value)` is not supported in \(versionText); use \(allowedKinds)",
                    at: text.location,
                    field: Self.join(path, "kind")
                )
            }
        }
        let name = requiredString(in: map, "name", path: path)
        var matches: [Located<String>]?
        if let node = map["matches"] {
            let field = Self.join(path, "matches")
            if let items = list(node, field: field) {
                var names: [Located<String>] = []
                for (i, item) in items.enumerated() {
                    if let text = string(item, field: Self.index(field, i)) { names.append(text) }
                }
                matches = names
            }
        }
        guard let kind, let name else { return nil }
        return TrafficTargetRule(kind: kind, name: name.value, matches: matches, location: map.location)
    }

    /// The keys every object may have at its top level, and `spec`.
    static let topLevelKeysAndSpec: [StaticString] = ["apiVersion", "kind", "metadata", "status", "spec"]
}
