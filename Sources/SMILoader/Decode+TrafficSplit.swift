import SMIModel

extension ResourceDecoder {
    /// Decodes a split.smi-spec.io TrafficSplit: `spec.service`, `spec.backends[]{service, weight}`,
    /// and `spec.matches[]` from v1alpha3. v1alpha1 weights are Kubernetes quantities, converted
    /// to milli-units; later versions take non-negative integers.
    mutating func decodeTrafficSplit(_ root: DocumentNode, origin: ResourceOrigin) -> TrafficSplit? {
        let alpha = version.alpha
        let namespace = origin.id.namespace
        checkKeys(
            root,
            path: "",
            allowed: Self.topLevelKeysAndSpec,
            hints: { name in
                name == "service" || name == "backends" || name == "matches" ? "it belongs under `spec`" : nil
            }
        )
        guard let specNode = root["spec"] else {
            missing("spec", in: root, path: "")
            return nil
        }
        guard let spec = mapping(specNode, field: "spec") else { return nil }
        let specKeys: [StaticString] = alpha >= 3 ? ["service", "backends", "matches"] : ["service", "backends"]
        checkKeys(spec, path: "spec", allowed: specKeys) { [version] name in
            name == "matches" && alpha < 3
                ? "`matches` is not a field of `spec` in \(version); it exists from split.smi-spec.io/v1alpha3" : nil
        }

        var service: Located<String>?
        if let text = requiredString(in: spec, "service", path: "spec") {
            service = serviceName(text, namespace: namespace, field: "spec.service")
        }

        var backends: [SplitBackend] = []
        if let node = spec["backends"] {
            if node.isNull {
                error(.wrongType, "expected a list, found null", at: node.location, field: "spec.backends")
            }
            for (i, item) in (list(node, field: "spec.backends") ?? .empty).enumerated() {
                if let backend = backend(item, path: Self.index("spec.backends", i), namespace: namespace) {
                    backends.append(backend)
                }
            }
        } else {
            missing("backends", in: spec, path: "spec")
        }

        var matches: [SplitMatchRef]?
        if alpha >= 3, let node = spec["matches"] {
            if let items = list(node, field: "spec.matches") {
                var refs: [SplitMatchRef] = []
                for (i, item) in items.enumerated() {
                    if let ref = splitMatch(item, path: Self.index("spec.matches", i)) { refs.append(ref) }
                }
                matches = refs
            }
        }

        guard let service else { return nil }
        for backend in backends where backend.service == service.value {
            warning(
                .selfBackend,
                "the root service `\(service.value)` is listed as its own backend; its share goes to the root service",
                at: backend.location,
                field: nil
            )
        }
        return TrafficSplit(origin: origin, service: service, backends: backends, matches: matches)
    }

    /// One backend `{service, weight}`; its location is that of the `service` value.
    private mutating func backend(_ item: DocumentNode, path: String, namespace: String) -> SplitBackend? {
        guard let map = mapping(item, field: path) else { return nil }
        checkKeys(map, path: path, allowed: ["service", "weight"])
        let field = Self.join(path, "service")
        var service: Located<String>?
        if let text = requiredString(in: map, "service", path: path) {
            service = serviceName(text, namespace: namespace, field: field)
        }
        var weight: UInt64?
        if let node = map["weight"] {
            weight = self.weight(node, field: Self.join(path, "weight"))
        } else {
            missing("weight", in: map, path: path)
        }
        guard let service, let weight else { return nil }
        return SplitBackend(service: service.value, weight: weight, location: service.location)
    }

    /// A weight: a quantity in milli-units for v1alpha1, a non-negative integer after.
    private mutating func weight(_ node: DocumentNode, field: String) -> UInt64? {
        if version.alpha == 1 {
            guard node.kind == .scalar, [.int, .float, .string].contains(node.scalarType) else {
                error(
                    .wrongType, "expected a quantity such as `1` or `500m`, \(Self.found(node))", at: node.location,
                    field: field)
                return nil
            }
            let result: Result<UInt64, Quantity.Failure>
            if node.scalarType == .int, let (negative, magnitude) = IntegerText.parse(node.text) {
                // YAML integers may be written in hex or octal, which the quantity grammar lacks.
                if negative && magnitude != 0 {
                    result = .failure(.negative)
                } else {
                    let (milli, overflow) = magnitude.multipliedReportingOverflow(by: 1000)
                    result = overflow ? .failure(.overflow) : .success(milli)
                }
            } else {
                result = Quantity.milliValue(node.text)
            }
            switch result {
            case .success(let value):
                return value
            case .failure(.negative):
                error(.invalidValue, "weight `\(node.text)` is negative", at: node.location, field: field)
            case .failure(.overflow):
                error(.invalidValue, "weight `\(node.text)` is too large", at: node.location, field: field)
            case .failure(.malformed):
                error(
                    .invalidValue,
                    "weight `\(node.text)` is not a Kubernetes quantity such as `1`, `500m` or `1.5`",
                    at: node.location,
                    field: field
                )
            }
            return nil
        }
        switch (node.kind, node.scalarType) {
        case (.scalar, .int):
            if let value = node.uint64 { return value }
            if let value = node.int64, value < 0 {
                error(
                    .invalidValue, "weight `\(node.text)` is negative; weights are non-negative integers",
                    at: node.location, field: field)
            } else {
                error(.invalidValue, "weight `\(node.text)` is too large", at: node.location, field: field)
            }
        case (.scalar, .float):
            error(
                .invalidValue, "weight `\(node.text)` is not a whole number; weights are non-negative integers",
                at: node.location, field: field)
        default:
            error(.wrongType, "expected an integer weight, \(Self.found(node))", at: node.location, field: field)
        }
        return nil
    }

    /// One `matches` entry `{kind, name, apiGroup}`.
    private mutating func splitMatch(_ item: DocumentNode, path: String) -> SplitMatchRef? {
        guard let map = mapping(item, field: path) else { return nil }
        checkKeys(map, path: path, allowed: ["kind", "name", "apiGroup"])
        var kind: SplitMatchKind?
        if let text = requiredString(in: map, "kind", path: path) {
            kind = SplitMatchKind(rawValue: text.value)
            if kind == nil {
                error(
                    .invalidValue,
                    "match kind `\(text.value)` is not supported; use `HTTPRouteGroup` or `TCPRoute`",
                    at: text.location,
                    field: Self.join(path, "kind")
                )
            }
        }
        let name = requiredString(in: map, "name", path: path)
        _ = optionalString(in: map, "apiGroup", path: path)
        guard let kind, let name else { return nil }
        return SplitMatchRef(kind: kind, name: name.value, location: map.location)
    }

    /// Resolves a Service name written plainly or in DNS form (`name.namespace`,
    /// `name.namespace.svc`, `name.namespace.svc.<cluster-domain>`) in the split's namespace.
    private mutating func serviceName(_ text: Located<String>, namespace: String, field: String) -> Located<String>? {
        let parts = text.value.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, !parts.contains(where: \.isEmpty) else {
            error(.invalidValue, "`\(text.value)` is not a service name", at: text.location, field: field)
            return nil
        }
        if parts.count == 1 { return text }
        guard parts.count == 2 || parts[2] == "svc" else {
            error(
                .invalidValue,
                "`\(text.value)` is neither a service name nor a DNS name `name.namespace[.svc[.cluster-domain]]`",
                at: text.location,
                field: field
            )
            return nil
        }
        let written = String(parts[1])
        guard written == namespace else {
            error(
                .crossNamespace,
                "`\(text.value)` names a service in namespace `\(written)`, not in the split's namespace `\(namespace)`",
                at: text.location,
                field: field
            )
            return nil
        }
        return Located(String(first), at: text.location)
    }

    /// Decodes an access v1alpha4 IdentityBinding: `spec.schemes` with at least one of
    /// `podLabelSelector{matchLabels}`, `spiffeIdentities[]` and `serviceAccount`.
    mutating func decodeIdentityBinding(_ root: DocumentNode, origin: ResourceOrigin) -> IdentityBinding? {
        checkKeys(root, path: "", allowed: Self.topLevelKeysAndSpec)
        guard let specNode = root["spec"] else {
            missing("spec", in: root, path: "")
            return nil
        }
        guard let spec = mapping(specNode, field: "spec") else { return nil }
        checkKeys(spec, path: "spec", allowed: ["schemes"])
        guard let schemesNode = spec["schemes"] else {
            missing("schemes", in: spec, path: "spec")
            return nil
        }
        guard let schemes = mapping(schemesNode, field: "spec.schemes") else { return nil }
        checkKeys(schemes, path: "spec.schemes", allowed: ["podLabelSelector", "spiffeIdentities", "serviceAccount"])
        let path = "spec.schemes"
        if schemes["podLabelSelector"] == nil && schemes["spiffeIdentities"] == nil && schemes["serviceAccount"] == nil
        {
            error(
                .missingField,
                "`spec.schemes` needs at least one of `podLabelSelector`, `spiffeIdentities` and `serviceAccount`",
                at: schemes.location,
                field: path
            )
        }

        var labels: [(key: String, value: String)] = []
        if let node = schemes["podLabelSelector"] {
            let field = Self.join(path, "podLabelSelector")
            if let selector = mapping(node, field: field) {
                checkKeys(selector, path: field, allowed: ["matchLabels"])
                if let matchNode = selector["matchLabels"] {
                    let labelsField = Self.join(field, "matchLabels")
                    if let matchLabels = mapping(matchNode, field: labelsField) {
                        for entry in matchLabels.entries {
                            let entryField = Self.join(labelsField, entry.key.text)
                            guard let key = string(entry.key, field: entryField),
                                let value = string(entry.value, field: entryField)
                            else { continue }
                            labels.append((key: key.value, value: value.value))
                        }
                    }
                } else {
                    missing("matchLabels", in: selector, path: field)
                }
            }
        }

        var identities: [String] = []
        if let node = schemes["spiffeIdentities"] {
            let field = Self.join(path, "spiffeIdentities")
            for (i, item) in (list(node, field: field) ?? .empty).enumerated() {
                if let text = string(item, field: Self.index(field, i)) { identities.append(text.value) }
            }
        }
        let serviceAccount = optionalString(in: schemes, "serviceAccount", path: path)
        return IdentityBinding(
            origin: origin,
            serviceAccount: serviceAccount?.value,
            spiffeIdentities: identities,
            matchLabels: labels
        )
    }
}
