import SMIModel

/// Loads SMI policies from YAML or JSON into a ``SMIModel/PolicyModel``, reporting every problem.
///
/// Stage contract: bytes in; out the resources that decoded without errors (sorted by namespace
/// then name, one per kind/namespace/name, the later definition winning) and all diagnostics,
/// by input in load order, then by line and column. Non-SMI objects, objects without
/// `apiVersion` and empty documents are skipped with a `skipped` note; `kind: List` objects are
/// expanded. Bad input never traps.
public enum PolicyLoader {
    /// Loads in-memory sources, in the order given.
    ///
    /// - Parameters:
    ///   - sources: named buffers; a name ending in `.json` is read as JSON, `.yaml`/`.yml` as YAML,
    ///     and any other name by its content (`{` or `[` first means JSON).
    ///   - limits: bounds on size, depth, resource count, regex length and alias expansion.
    public static func load(sources: [PolicySource], limits: LoaderLimits = .init()) -> LoadResult {
        var session = LoadSession(limits: limits)
        for source in sources {
            session.load(source)
        }
        return session.finish()
    }

    /// Loads files and folders. A folder is read recursively for `.yaml`, `.yml` and `.json` files,
    /// all of them in sorted path order; a file named directly is read whatever its extension.
    /// A path that cannot be read is an `io` error with the path as the file.
    public static func load(paths: [String], limits: LoaderLimits = .init()) -> LoadResult {
        var session = LoadSession(limits: limits)
        for path in paths {
            switch FileSystem.entry(path) {
            case .failure(let failure):
                session.diagnostics.append(FileSystem.ioError(path, failure.code))
            case .success(.file), .success(.other):
                session.loadFile(path)
            case .success(.directory(let device, let inode)):
                var files: [String] = []
                var visited: Set<[UInt64]> = [[device, inode]]
                let start = ContinuousClock.now
                collect(folder: path, into: &files, visited: &visited, diagnostics: &session.diagnostics, depth: 0)
                session.timings.read += start.duration(to: .now)
                for file in files.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                    session.loadFile(file)
                }
            }
        }
        return session.finish()
    }

    /// Whether a file name has an extension the folder walk reads.
    static func isPolicyFile(_ name: String) -> Bool {
        name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.hasSuffix(".json")
    }

    /// Gathers the policy files below `folder`, following symbolic links but never into a folder twice.
    private static func collect(
        folder: String,
        into files: inout [String],
        visited: inout Set<[UInt64]>,
        diagnostics: inout [Diagnostic],
        depth: Int
    ) {
        guard depth < 64 else {
            diagnostics.append(
                Diagnostic(
                    .error, .limitExceeded, "folders nest deeper than 64 levels below `\(folder)`",
                    at: SourceLocation(file: folder, line: 1, column: 1))
            )
            return
        }
        let names: [String]
        switch FileSystem.list(folder) {
        case .failure(let failure):
            diagnostics.append(FileSystem.ioError(folder, failure.code))
            return
        case .success(let list):
            names = list
        }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        for name in names {
            let path = prefix + name
            switch FileSystem.entry(path) {
            case .failure(let failure):
                if isPolicyFile(name) { diagnostics.append(FileSystem.ioError(path, failure.code)) }
            case .success(.directory(let device, let inode)):
                if visited.insert([device, inode]).inserted {
                    collect(folder: path, into: &files, visited: &visited, diagnostics: &diagnostics, depth: depth + 1)
                }
            case .success(.file):
                if isPolicyFile(name) { files.append(path) }
            case .success(.other):
                continue
            }
        }
    }
}

/// One load: the resources kept so far (the later definition of an identity wins), and every diagnostic.
struct LoadSession {
    let limits: LoaderLimits
    var diagnostics: [Diagnostic] = []
    private var trafficTargets: [ResourceID: TrafficTarget] = [:]
    private var identityBindings: [ResourceID: IdentityBinding] = [:]
    private var httpRouteGroups: [ResourceID: HTTPRouteGroup] = [:]
    private var tcpRoutes: [ResourceID: PortRoute] = [:]
    private var udpRoutes: [ResourceID: PortRoute] = [:]
    private var trafficSplits: [ResourceID: TrafficSplit] = [:]
    /// Where each identity was first defined (valid or not), for `redefined` warnings.
    private var definitions: [ResourceID: SourceLocation] = [:]
    /// Each input's rank in load order, so diagnostics sort by input first, then by line and column.
    private var fileOrder: [String: Int] = [:]
    /// The `duplicate-key` errors of the input being loaded that no SMI object has claimed yet.
    private var pendingDuplicateKeys: [Diagnostic] = []
    private var resourceCount = 0
    private var reportedResourceLimit = false
    /// Time spent so far, by phase.
    var timings = LoadTimings()

    init(limits: LoaderLimits) {
        self.limits = limits
    }

    mutating func loadFile(_ path: String) {
        let start = ContinuousClock.now
        let read = FileSystem.readFile(path, maxBytes: limits.maxDocumentBytes)
        timings.read += start.duration(to: .now)
        switch read {
        case .failure(let diagnostic):
            diagnostics.append(diagnostic)
        case .success(let bytes):
            load(PolicySource(name: path, bytes: bytes))
        }
    }

    /// Whether the source is JSON: by extension, else by its first non-blank byte.
    static func isJSON(_ source: PolicySource) -> Bool {
        if source.name.hasSuffix(".json") { return true }
        if source.name.hasSuffix(".yaml") || source.name.hasSuffix(".yml") { return false }
        var bytes = source.bytes[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else {
            return false
        }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    mutating func load(_ source: PolicySource) {
        if fileOrder[source.name] == nil { fileOrder[source.name] = fileOrder.count }
        if source.bytes.count > limits.maxDocumentBytes {
            diagnostics.append(
                Diagnostic(
                    .error,
                    .limitExceeded,
                    "`\(source.name)` is \(source.bytes.count) bytes, more than the limit of \(limits.maxDocumentBytes) bytes (limit maxDocumentBytes)",
                    at: SourceLocation(file: source.name, line: 1, column: 1)
                )
            )
            return
        }
        let documents: [DocumentNode]
        var problems: [Diagnostic]
        let parseStart = ContinuousClock.now
        if Self.isJSON(source) {
            let (node, found) = JSONReader.parseCollecting(source.bytes, file: source.name, maxDepth: limits.maxDepth)
            documents = node.map { [$0] } ?? []
            problems = found
        } else {
            (documents, problems) = YAMLReader.parseDocuments(source.bytes, file: source.name, limits: limits)
        }
        let decodeStart = ContinuousClock.now
        timings.parse += parseStart.duration(to: decodeStart)
        defer { timings.decode += decodeStart.duration(to: .now) }
        // A repeated key belongs to the object it is written in: that object reports it (with its
        // resource and field) and is left out of the model. Repeats outside SMI objects stay errors.
        pendingDuplicateKeys = problems.filter { $0.code == .duplicateKey }
        diagnostics.append(contentsOf: problems.filter { $0.code != .duplicateKey })
        for document in documents {
            loadObject(document, listDepth: 0)
        }
        diagnostics.append(contentsOf: pendingDuplicateKeys)
        pendingDuplicateKeys = []
    }

    /// The field path of the mapping key written at `location` inside `node`, if there is one.
    static func keyPath(at location: SourceLocation, in node: DocumentNode, path: String) -> String? {
        switch node.kind {
        case .scalar:
            return nil
        case .sequence:
            for (i, item) in node.items.enumerated() {
                if let found = keyPath(at: location, in: item, path: ResourceDecoder.index(path, i)) { return found }
            }
        case .mapping:
            for entry in node.entries {
                let entryPath = ResourceDecoder.join(path, entry.key.text)
                if entry.key.location == location { return entryPath }
                if let found = keyPath(at: location, in: entry.value, path: entryPath) { return found }
            }
        }
        return nil
    }

    private mutating func note(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.note, .skipped, message, at: location))
    }

    /// Loads one Kubernetes object (or the items of a `List`).
    private mutating func loadObject(_ root: DocumentNode, listDepth: Int) {
        if root.isNull { return }  // an empty document
        guard root.isMapping else {
            diagnostics.append(
                Diagnostic(
                    .error,
                    .wrongType,
                    "expected a Kubernetes object (a mapping), found \(root.typeDescription)",
                    at: root.location
                )
            )
            return
        }
        let kindNode = root["kind"]
        let kindText = kindNode?.string
        let apiVersionNode = root["apiVersion"]

        // `kubectl get -o yaml` prints `kind: List`; the API server answers `kind: TrafficSplitList`.
        if let kindText, kindText == "List" || (kindText.hasSuffix("List") && root["items"] != nil) {
            guard let items = root["items"], !items.isNull else { return }
            guard items.isSequence else {
                diagnostics.append(
                    Diagnostic(
                        .error, .wrongType, "expected a list of objects, \(ResourceDecoder.found(items))",
                        at: items.location, field: "items")
                )
                return
            }
            for item in items.items {
                loadObject(item, listDepth: listDepth + 1)
            }
            return
        }

        guard let apiVersionNode else {
            let what = kindText.map { "an object of kind `\($0)`" } ?? "an object"
            note("\(what) without `apiVersion` is skipped", at: root.location)
            return
        }
        guard let apiVersionText = apiVersionNode.string else {
            note(
                "an object whose `apiVersion` is \(apiVersionNode.typeDescription) is skipped",
                at: apiVersionNode.location)
            return
        }
        // The text before the first `/` (by bytes when every byte is a Character, as in ASCII).
        let slash =
            isASCII(apiVersionText)
            ? apiVersionText.utf8.firstIndex(of: UInt8(ascii: "/")) : apiVersionText.firstIndex(of: "/")
        let groupName = slash.map { String(apiVersionText[..<$0]) } ?? apiVersionText
        guard let group = APIGroup(rawValue: groupName) else {
            let what = kindText.map { "`\($0)`" } ?? "an object"
            note("\(what) of `\(apiVersionText)` is not an SMI resource and is skipped", at: root.location)
            return
        }
        guard let version = APIVersion(parsing: apiVersionText), (1...4).contains(version.alpha) else {
            diagnostics.append(
                Diagnostic(
                    .error,
                    .invalidValue,
                    "`\(apiVersionText)` is not a version of \(group.rawValue) this engine reads (v1alpha1 to v1alpha4)",
                    at: apiVersionNode.location,
                    field: "apiVersion"
                )
            )
            return
        }
        guard let kindNode else {
            diagnostics.append(
                Diagnostic(.error, .missingField, "`kind` is required", at: root.location, field: "kind")
            )
            return
        }
        guard let kindText else {
            diagnostics.append(
                Diagnostic(
                    .error, .wrongType, "expected a string, \(ResourceDecoder.found(kindNode))", at: kindNode.location,
                    field: "kind")
            )
            return
        }
        guard let kind = ResourceKind(rawValue: kindText), version.supports(kind) else {
            let kinds = ResourceKind.allCases.filter { version.supports($0) }.map { "`\($0.rawValue)`" }
            diagnostics.append(
                Diagnostic(
                    .error,
                    .invalidValue,
                    "kind `\(kindText)` is not part of `\(apiVersionText)`, which has \(kinds.joined(separator: " and "))",
                    at: kindNode.location,
                    field: "kind"
                )
            )
            return
        }

        resourceCount += 1
        if resourceCount > limits.maxResources {
            if !reportedResourceLimit {
                reportedResourceLimit = true
                diagnostics.append(
                    Diagnostic(
                        .error,
                        .limitExceeded,
                        "more than \(limits.maxResources) SMI resources (limit maxResources); the rest are not read",
                        at: root.location
                    )
                )
            }
            return
        }
        decode(root, kind: kind, version: version)
    }

    /// Decodes one SMI object and, if it has no errors, keeps it.
    private mutating func decode(_ root: DocumentNode, kind: ResourceKind, version: APIVersion) {
        var decoder = ResourceDecoder(version: version, kind: kind, limits: limits)
        // metadata: name required, namespace defaults to `default`; other fields are not ours.
        var name: Located<String>?
        var namespace = "default"
        if let metadataNode = root["metadata"] {
            if let metadata = decoder.mapping(metadataNode, field: "metadata") {
                name = decoder.requiredString(in: metadata, "name", path: "metadata")
                if let written = decoder.optionalString(in: metadata, "namespace", path: "metadata") {
                    namespace = written.value
                }
            }
        } else {
            decoder.error(.missingField, "`metadata.name` is required", at: root.location, field: "metadata.name")
        }
        if let written = name, written.value.isEmpty {
            decoder.error(
                .invalidValue, "`metadata.name` must not be empty", at: written.location, field: "metadata.name")
            name = nil
        }
        let id = ResourceID(kind, namespace: namespace, name: name?.value ?? "")
        if name != nil {
            decoder.resource = id
            for index in decoder.diagnostics.indices { decoder.diagnostics[index].resource = id }
        }
        var unclaimed: [Diagnostic] = []
        for duplicate in pendingDuplicateKeys {
            if let location = duplicate.location, let field = Self.keyPath(at: location, in: root, path: "") {
                decoder.error(.duplicateKey, duplicate.message, at: location, field: field)
            } else {
                unclaimed.append(duplicate)
            }
        }
        pendingDuplicateKeys = unclaimed
        let origin = ResourceOrigin(id: id, version: version, location: root.location)

        switch kind {
        case .trafficTarget:
            let value = decoder.decodeTrafficTarget(root, origin: origin)
            keep(value, decoder: &decoder, name: name) { $0.trafficTargets[id] = $1 }
        case .identityBinding:
            let value = decoder.decodeIdentityBinding(root, origin: origin)
            keep(value, decoder: &decoder, name: name) { $0.identityBindings[id] = $1 }
        case .httpRouteGroup:
            let value = decoder.decodeHTTPRouteGroup(root, origin: origin)
            keep(value, decoder: &decoder, name: name) { $0.httpRouteGroups[id] = $1 }
        case .tcpRoute:
            let value = decoder.decodePortRoute(root, origin: origin)
            keep(value, decoder: &decoder, name: name) { $0.tcpRoutes[id] = $1 }
        case .udpRoute:
            let value = decoder.decodePortRoute(root, origin: origin)
            keep(value, decoder: &decoder, name: name) { $0.udpRoutes[id] = $1 }
        case .trafficSplit:
            let value = decoder.decodeTrafficSplit(root, origin: origin)
            keep(value, decoder: &decoder, name: name) { $0.trafficSplits[id] = $1 }
        }
    }

    /// Reports a redefinition, and stores the resource when it decoded without errors.
    private mutating func keep<Value>(
        _ value: Value?,
        decoder: inout ResourceDecoder,
        name: Located<String>?,
        store: (inout LoadSession, Value) -> Void
    ) {
        if let name, let id = decoder.resource {
            if let first = definitions[id] {
                decoder.warning(
                    .redefined,
                    "`\(id)` is defined again; this definition replaces the one at \(first)",
                    at: name.location,
                    field: "metadata.name"
                )
            } else {
                definitions[id] = name.location
            }
        }
        diagnostics.append(contentsOf: decoder.diagnostics)
        if let value, !decoder.hasErrors {
            store(&self, value)
        }
    }

    /// The values in the order of their identities (sorting the keys alone moves far less than
    /// sorting key/value pairs).
    private static func sortedByID<Value>(_ values: [ResourceID: Value]) -> [Value] {
        values.keys.sorted().compactMap { values[$0] }
    }

    /// The model, sorted by namespace then name, and the diagnostics, by input then position.
    func finish() -> LoadResult {
        let start = ContinuousClock.now
        var model = PolicyModel()
        model.trafficTargets = Self.sortedByID(trafficTargets)
        model.identityBindings = Self.sortedByID(identityBindings)
        model.httpRouteGroups = Self.sortedByID(httpRouteGroups)
        model.tcpRoutes = Self.sortedByID(tcpRoutes)
        model.udpRoutes = Self.sortedByID(udpRoutes)
        model.trafficSplits = Self.sortedByID(trafficSplits)
        // Inputs in load order (paths that were never read, such as missing ones, after those that were),
        // then line and column; diagnostics without a location last. The sort is stable. Keys are
        // computed once per diagnostic, not per comparison.
        let unread = fileOrder.count
        let keys: [(Int, Int, Int)] = diagnostics.map { d in
            guard let location = d.location else { return (Int.max, 0, 0) }
            return (fileOrder[location.file] ?? unread, location.line, location.column)
        }
        let order = keys.indices.sorted { a, b in
            keys[a] != keys[b] ? keys[a] < keys[b] : a < b
        }
        let ordered = order.map { (offset: $0, element: diagnostics[$0]) }
        var result = LoadResult(model: model, diagnostics: ordered.map(\.element))
        result.timings = timings
        result.timings.finish = start.duration(to: .now)
        return result
    }
}
