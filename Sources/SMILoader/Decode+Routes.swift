import SMIModel

extension ResourceDecoder {
    /// The methods the HTTPRouteGroup CRD lists; others are accepted with a warning.
    static let knownMethods: Set<String> = [
        "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*",
    ]

    /// Decodes a specs.smi-spec.io HTTPRouteGroup: top-level `matches` in v1alpha1/2,
    /// `spec.matches` from v1alpha3. `headers` are accepted in every version.
    mutating func decodeHTTPRouteGroup(_ root: DocumentNode, origin: ResourceOrigin) -> HTTPRouteGroup? {
        var matchesNode: DocumentNode?
        var path = ""
        if version.alpha <= 2 {
            checkKeys(
                root,
                path: "",
                allowed: ["apiVersion", "kind", "metadata", "status", "matches"],
                misplaced: { [version] name in
                    name == "spec" ? "`spec` is not a field in \(version); `matches` is a top-level field there" : nil
                }
            )
            matchesNode = root["matches"]
        } else {
            checkKeys(
                root,
                path: "",
                allowed: Self.topLevelKeysAndSpec,
                misplaced: { [version] name in
                    name == "matches"
                        ? "`matches` is not a top-level field in \(version); it belongs under `spec`" : nil
                }
            )
            if let specNode = root["spec"] {
                guard let spec = mapping(specNode, field: "spec") else { return nil }
                checkKeys(spec, path: "spec", allowed: ["matches"])
                matchesNode = spec["matches"]
                path = "spec"
            }
        }

        var matches: [HTTPMatch] = []
        var firstUse: [String: SourceLocation] = [:]
        if let matchesNode {
            let field = Self.join(path, "matches")
            for (i, item) in (list(matchesNode, field: field) ?? .empty).enumerated() {
                guard let match = httpMatch(item, path: Self.index(field, i)) else { continue }
                if let first = firstUse[match.name] {
                    error(
                        .duplicateMatchName,
                        "duplicate match name `\(match.name)`; it is first used at line \(first.line)",
                        at: match.location,
                        field: Self.join(Self.index(field, i), "name")
                    )
                } else {
                    firstUse[match.name] = match.location
                }
                matches.append(match)
            }
        }
        return HTTPRouteGroup(origin: origin, matches: matches)
    }

    /// One match: `{name, pathRegex, methods, headers}`.
    private mutating func httpMatch(_ item: DocumentNode, path: String) -> HTTPMatch? {
        guard let map = mapping(item, field: path) else { return nil }
        checkKeys(map, path: path, allowed: ["name", "pathRegex", "methods", "headers"])
        let name = requiredString(in: map, "name", path: path)

        var pathRegex: Located<String>?
        if let node = map["pathRegex"], !node.isNull {
            pathRegex = regex(node, field: Self.join(path, "pathRegex"))
        }

        var methods: [Located<String>]?
        if let node = map["methods"] {
            let field = Self.join(path, "methods")
            if let items = list(node, field: field) {
                var names: [Located<String>] = []
                for (i, item) in items.enumerated() {
                    let itemField = Self.index(field, i)
                    guard let method = string(item, field: itemField) else { continue }
                    if !Self.knownMethods.contains(method.value) {
                        warning(
                            .unknownMethod,
                            "`\(method.value)` is not a method the HTTPRouteGroup schema lists; it is matched as written",
                            at: method.location,
                            field: itemField
                        )
                    }
                    names.append(method)
                }
                methods = names
            }
        }

        var headers: [HeaderCondition] = []
        if let node = map["headers"] {
            headers = self.headers(node, path: Self.join(path, "headers"))
        }

        guard let name else { return nil }
        return HTTPMatch(
            name: name.value, location: name.location, pathRegex: pathRegex, methods: methods, headers: headers)
    }

    /// Headers as a map `{name: regex}` or a list of single-key maps `[{name: regex}]`.
    private mutating func headers(_ node: DocumentNode, path: String) -> [HeaderCondition] {
        var pairs: [(key: DocumentNode, value: DocumentNode, field: String)] = []
        switch node.kind {
        case .mapping:
            for entry in node.entries {
                pairs.append((entry.key, entry.value, Self.join(path, entry.key.text)))
            }
        case .sequence:
            for (i, item) in node.items.enumerated() {
                let itemField = Self.index(path, i)
                guard let map = mapping(item, field: itemField) else { continue }
                guard map.entries.count == 1, let entry = map.entries.first else {
                    error(
                        .invalidValue,
                        "a header list item must hold exactly one header, found \(map.entries.count)",
                        at: map.location,
                        field: itemField
                    )
                    continue
                }
                pairs.append((entry.key, entry.value, Self.join(itemField, entry.key.text)))
            }
        case .scalar:
            if node.isNull { return [] }
            error(
                .wrongType, "expected a mapping or a list of mappings, \(Self.found(node))", at: node.location,
                field: path)
            return []
        }

        var headers: [HeaderCondition] = []
        var firstUse: [String: SourceLocation] = [:]
        for pair in pairs {
            guard let name = string(pair.key, field: pair.field) else { continue }
            let folded = name.value.lowercased()
            if let first = firstUse[folded] {
                error(
                    .duplicateHeader,
                    "header `\(name.value)` is already matched at line \(first.line) (header names compare case-insensitively)",
                    at: name.location,
                    field: pair.field
                )
                continue
            }
            firstUse[folded] = name.location
            guard let value = regex(pair.value, field: pair.field) else { continue }
            headers.append(HeaderCondition(name: name.value, valueRegex: value, location: name.location))
        }
        return headers
    }

    /// Decodes a TCPRoute or UDPRoute: no spec before specs v1alpha3, `spec: {}` in v1alpha3,
    /// `spec.matches.ports` (one object, not a list) in v1alpha4.
    mutating func decodePortRoute(_ root: DocumentNode, origin: ResourceOrigin) -> PortRoute? {
        let alpha = version.alpha
        let kindName = kind.rawValue
        if alpha <= 2 {
            checkKeys(root, path: "", allowed: Self.topLevelKeysAndSpec)
            // The CRD has no spec here; an empty one is harmless, content is not.
            if let spec = root.entry("spec"),
                !(spec.value.isNull || (spec.value.isMapping && spec.value.entries.isEmpty))
            {
                error(
                    .fieldWrongVersion,
                    "`spec` is not a field of \(kindName) in \(versionText); it exists from specs.smi-spec.io/v1alpha3",
                    at: spec.key.location,
                    field: "spec"
                )
            }
            return PortRoute(origin: origin, ports: [])
        }
        checkKeys(root, path: "", allowed: Self.topLevelKeysAndSpec)
        guard let specNode = root["spec"] else { return PortRoute(origin: origin, ports: []) }
        guard let spec = mapping(specNode, field: "spec") else { return nil }
        if alpha == 3 {
            checkKeys(
                spec,
                path: "spec",
                allowed: [],
                misplaced: { [version] name in
                    name == "matches"
                        ? "`matches` is not a field of \(kindName) `spec` in \(version); it exists from specs.smi-spec.io/v1alpha4"
                        : nil
                }
            )
            return PortRoute(origin: origin, ports: [])
        }
        checkKeys(spec, path: "spec", allowed: ["matches"])
        guard let matchesNode = spec["matches"] else { return PortRoute(origin: origin, ports: []) }
        guard matchesNode.kind == .mapping else {
            error(
                .wrongType,
                "expected a mapping with `ports` (one object, not a list), \(Self.found(matchesNode))",
                at: matchesNode.location,
                field: "spec.matches"
            )
            return nil
        }
        checkKeys(matchesNode, path: "spec.matches", allowed: ["ports"])
        var ports: [Located<Int>] = []
        if let portsNode = matchesNode["ports"] {
            for (i, item) in (list(portsNode, field: "spec.matches.ports") ?? .empty).enumerated() {
                if let port = port(item, field: Self.index("spec.matches.ports", i)) {
                    ports.append(port)
                }
            }
        }
        return PortRoute(origin: origin, ports: ports)
    }
}
