import SMIModel

/// Loads SMI policies from YAML or JSON into a ``SMIModel/PolicyModel``, reporting every problem.
///
/// Stage contract: bytes in; out the resources that decoded without errors (sorted by namespace
/// then name, one per kind/namespace/name, the later definition winning) and all diagnostics,
/// by input in load order, then by line and column. Non-SMI objects, objects without
/// `apiVersion` and empty documents are skipped with a `skipped` note; `kind: List` objects are
/// expanded. Bad input never traps.
///
/// Inputs are read, parsed and decoded on up to ``LoaderLimits/threads`` threads, each input on
/// its own, and merged in load order on the calling thread: the result does not depend on the
/// thread count.
public enum PolicyLoader {
    /// Loads in-memory sources, in the order given.
    ///
    /// - Parameters:
    ///   - sources: named buffers; a name ending in `.json` is read as JSON, `.yaml`/`.yml` as YAML,
    ///     and any other name by its content (`{` or `[` first means JSON).
    ///   - limits: bounds on size, depth, resource count, regex length and alias expansion.
    public static func load(sources: [PolicySource], limits: LoaderLimits = .init()) -> LoadResult {
        var session = LoadSession(limits: limits)
        let start = ContinuousClock.now
        session.timings.threads = OrderedWork.run(
            count: sources.count, threads: threadCount(limits),
            work: { InputLoader.load(sources[$0], limits: limits) },
            consume: { session.merge($0) })
        session.timings.load = start.duration(to: .now)
        return session.finish()
    }

    /// The threads a load may use: ``LoaderLimits/threads``, or one per online processor (at most 8) when it is 0.
    static func threadCount(_ limits: LoaderLimits) -> Int {
        limits.threads > 0 ? limits.threads : OrderedWork.automaticThreadCount()
    }

    /// Loads files and folders. A folder is read recursively for `.yaml`, `.yml` and `.json` files,
    /// all of them in sorted path order; a file named directly is read whatever its extension.
    /// A path that cannot be read is an `io` error with the path as the file.
    ///
    /// Files are read, parsed and decoded on up to ``LoaderLimits/threads`` threads; their
    /// results are merged in the order above, so the result is the same for any thread count.
    public static func load(paths: [String], limits: LoaderLimits = .init()) -> LoadResult {
        var session = LoadSession(limits: limits)
        let start = ContinuousClock.now
        // The plan: every file to load and every folder-walk error, in the order a one-by-one
        // load meets them. Walking first changes nothing but when the folders are listed.
        var plan: [PlannedInput] = []
        for path in paths {
            switch FileSystem.entry(path) {
            case .failure(let failure):
                plan.append(.diagnostic(FileSystem.ioError(path, failure.code)))
            case .success(.file), .success(.other):
                plan.append(.file(path))
            case .success(.directory(let device, let inode)):
                var files: [String] = []
                var visited: Set<[UInt64]> = [[device, inode]]
                var diagnostics: [Diagnostic] = []
                collect(folder: path, into: &files, visited: &visited, diagnostics: &diagnostics, depth: 0)
                plan += diagnostics.map { .diagnostic($0) }
                for file in files.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                    plan.append(.file(file))
                }
            }
        }
        session.timings.read += start.duration(to: .now)
        let inputs = plan
        session.timings.threads = OrderedWork.run(
            count: inputs.count, threads: threadCount(limits),
            work: { i in
                switch inputs[i] {
                case .file(let path): return InputLoader.loadFile(path, limits: limits)
                case .diagnostic(let diagnostic): return InputLoad(unread: diagnostic)
                }
            },
            consume: { session.merge($0) })
        session.timings.load = start.duration(to: .now)
        return session.finish()
    }

    /// One step of a paths load: a file to load, or an error found while walking the folders.
    private enum PlannedInput: Sendable {
        case file(String)
        case diagnostic(Diagnostic)
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

/// What loading one input gave, independently of every other input, so inputs can load on any
/// thread: the diagnostics and decoded resources in the order the input produced them.
/// ``LoadSession/merge(_:)`` replays them in input order.
struct InputLoad: Sendable {
    /// The input's name; nil when it was never read (a file that cannot be opened, a folder-walk
    /// error), so it takes no place in the order of inputs.
    var name: String?
    /// Diagnostics and resources, in the order a one-by-one load produces them.
    var steps: [LoadStep] = []
    /// How many SMI resources the input holds (counted against ``LoaderLimits/maxResources``).
    var resourceCount = 0
    /// The parsed input, kept so that it can be decoded again with a resource budget.
    var parsed: ParsedInput?
    /// Time spent on this input.
    var timings = LoadTimings()

    init(name: String?) {
        self.name = name
    }

    /// An input that was never read, with its error.
    init(unread diagnostic: Diagnostic) {
        name = nil
        steps = [.diagnostic(diagnostic)]
    }
}

/// One thing an input contributed, in order.
enum LoadStep: Sendable {
    /// A diagnostic outside any decoded SMI object.
    case diagnostic(Diagnostic)
    /// A decoded SMI object.
    case resource(DecodedResource)
    /// An SMI object past the resource budget (not decoded), at its location.
    case overLimit(SourceLocation)
}

/// One decoded SMI object: its identity, its diagnostics and, when it has no errors, its value.
struct DecodedResource: Sendable {
    var id: ResourceID
    /// `metadata.name` as written; nil when missing or invalid (then there is no identity to keep).
    var name: Located<String>?
    var diagnostics: [Diagnostic]
    /// The value; nil when the object has errors.
    var value: DecodedValue?
}

/// A decoded value of one of the SMI kinds.
enum DecodedValue: Sendable {
    case trafficTarget(TrafficTarget)
    case identityBinding(IdentityBinding)
    case httpRouteGroup(HTTPRouteGroup)
    case tcpRoute(PortRoute)
    case udpRoute(PortRoute)
    case trafficSplit(TrafficSplit)
}

/// The documents of one input and its parse problems.
struct ParsedInput: Sendable {
    var documents: [DocumentNode]
    var problems: [Diagnostic]
}

/// Loads one input on its own: parses it and decodes its objects, recording diagnostics and
/// resources as ``LoadStep``s. Nothing here depends on other inputs except the resource budget.
struct InputLoader {
    let limits: LoaderLimits
    /// How many more SMI objects may be decoded before ``LoaderLimits/maxResources`` is exceeded;
    /// nil for no bound (the session decodes again with a budget when the count says it must).
    let budget: Int?
    private(set) var steps: [LoadStep] = []
    private(set) var resourceCount = 0
    /// The `duplicate-key` errors of the input that no SMI object has claimed yet.
    private var pendingDuplicateKeys: [Diagnostic] = []

    init(limits: LoaderLimits, budget: Int?) {
        self.limits = limits
        self.budget = budget
    }

    /// Reads, parses and decodes a file.
    static func loadFile(_ path: String, limits: LoaderLimits) -> InputLoad {
        let start = ContinuousClock.now
        let read = FileSystem.readFile(path, maxBytes: limits.maxDocumentBytes)
        let readTime = start.duration(to: .now)
        var loaded: InputLoad
        switch read {
        case .failure(let diagnostic):
            loaded = InputLoad(unread: diagnostic)
        case .success(let bytes):
            loaded = load(PolicySource(name: path, bytes: bytes), limits: limits)
        }
        loaded.timings.read += readTime
        return loaded
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

    /// Parses and decodes one source, with no resource budget.
    static func load(_ source: PolicySource, limits: LoaderLimits) -> InputLoad {
        var loaded = InputLoad(name: source.name)
        if source.bytes.count > limits.maxDocumentBytes {
            loaded.steps.append(
                .diagnostic(
                    Diagnostic(
                        .error,
                        .limitExceeded,
                        "`\(source.name)` is \(source.bytes.count) bytes, more than the limit of \(limits.maxDocumentBytes) bytes (limit maxDocumentBytes)",
                        at: SourceLocation(file: source.name, line: 1, column: 1)
                    )))
            return loaded
        }
        let parseStart = ContinuousClock.now
        let parsed: ParsedInput
        if isJSON(source) {
            let (node, found) = JSONReader.parseCollecting(source.bytes, file: source.name, maxDepth: limits.maxDepth)
            parsed = ParsedInput(documents: node.map { [$0] } ?? [], problems: found)
        } else {
            let (documents, problems) = YAMLReader.parseDocuments(source.bytes, file: source.name, limits: limits)
            parsed = ParsedInput(documents: documents, problems: problems)
        }
        let decodeStart = ContinuousClock.now
        loaded.timings.parse = parseStart.duration(to: decodeStart)
        var loader = InputLoader(limits: limits, budget: nil)
        loader.decode(parsed)
        loaded.steps = loader.steps
        loaded.resourceCount = loader.resourceCount
        loaded.parsed = parsed
        loaded.timings.decode = decodeStart.duration(to: .now)
        return loaded
    }

    /// Decodes every object of a parsed input.
    mutating func decode(_ parsed: ParsedInput) {
        // A repeated key belongs to the object it is written in: that object reports it (with its
        // resource and field) and is left out of the model. Repeats outside SMI objects stay errors.
        pendingDuplicateKeys = parsed.problems.filter { $0.code == .duplicateKey }
        for problem in parsed.problems where problem.code != .duplicateKey {
            steps.append(.diagnostic(problem))
        }
        for document in parsed.documents {
            loadObject(document, listDepth: 0)
        }
        for duplicate in pendingDuplicateKeys {
            steps.append(.diagnostic(duplicate))
        }
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

    private mutating func report(_ diagnostic: Diagnostic) {
        steps.append(.diagnostic(diagnostic))
    }

    private mutating func note(_ message: String, at location: SourceLocation) {
        report(Diagnostic(.note, .skipped, message, at: location))
    }
    /// Loads one Kubernetes object (or the items of a `List`).
    private mutating func loadObject(_ root: DocumentNode, listDepth: Int) {
        if root.isNull { return }  // an empty document
        guard root.isMapping else {
            report(
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
                report(
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
            report(
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
            report(
                Diagnostic(.error, .missingField, "`kind` is required", at: root.location, field: "kind")
            )
            return
        }
        guard let kindText else {
            report(
                Diagnostic(
                    .error, .wrongType, "expected a string, \(ResourceDecoder.found(kindNode))", at: kindNode.location,
                    field: "kind")
            )
            return
        }
        guard let kind = ResourceKind(rawValue: kindText), version.supports(kind) else {
            let kinds = ResourceKind.allCases.filter { version.supports($0) }.map { "`\($0.rawValue)`" }
            report(
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
        if let budget, resourceCount > budget {
            steps.append(.overLimit(root.location))
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

        let value: DecodedValue?
        switch kind {
        case .trafficTarget:
            value = decoder.decodeTrafficTarget(root, origin: origin).map { .trafficTarget($0) }
        case .identityBinding:
            value = decoder.decodeIdentityBinding(root, origin: origin).map { .identityBinding($0) }
        case .httpRouteGroup:
            value = decoder.decodeHTTPRouteGroup(root, origin: origin).map { .httpRouteGroup($0) }
        case .tcpRoute:
            value = decoder.decodePortRoute(root, origin: origin).map { .tcpRoute($0) }
        case .udpRoute:
            value = decoder.decodePortRoute(root, origin: origin).map { .udpRoute($0) }
        case .trafficSplit:
            value = decoder.decodeTrafficSplit(root, origin: origin).map { .trafficSplit($0) }
        }
        steps.append(
            .resource(
                DecodedResource(
                    id: id, name: decoder.resource == nil ? nil : name, diagnostics: decoder.diagnostics,
                    value: decoder.hasErrors ? nil : value)))
    }
}

/// One load: the resources kept so far (the later definition of an identity wins), and every
/// diagnostic. Inputs are merged in load order, whichever thread loaded them.
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
    private var resourceCount = 0
    private var reportedResourceLimit = false
    /// Time spent so far, by phase (read, parse and decode summed over inputs).
    var timings = LoadTimings()

    init(limits: LoaderLimits) {
        self.limits = limits
    }

    /// Adds one input's diagnostics and resources, as if it had been loaded right now.
    mutating func merge(_ input: InputLoad) {
        var input = input
        timings.read += input.timings.read
        timings.parse += input.timings.parse
        timings.decode += input.timings.decode
        if let name = input.name, fileOrder[name] == nil { fileOrder[name] = fileOrder.count }
        // Past the resource limit, which objects are decoded (and so which of them claim their
        // duplicate keys) depends on the inputs before: decode again with what is left.
        if let parsed = input.parsed, resourceCount + input.resourceCount > limits.maxResources {
            let start = ContinuousClock.now
            var loader = InputLoader(limits: limits, budget: limits.maxResources - resourceCount)
            loader.decode(parsed)
            input.steps = loader.steps
            timings.decode += start.duration(to: .now)
        }
        resourceCount += input.resourceCount
        for step in input.steps {
            switch step {
            case .diagnostic(let diagnostic):
                diagnostics.append(diagnostic)
            case .overLimit(let location):
                if !reportedResourceLimit {
                    reportedResourceLimit = true
                    diagnostics.append(
                        Diagnostic(
                            .error,
                            .limitExceeded,
                            "more than \(limits.maxResources) SMI resources (limit maxResources); the rest are not read",
                            at: location
                        )
                    )
                }
            case .resource(let resource):
                keep(resource)
            }
        }
    }

    /// Reports a redefinition, and stores the resource when it decoded without errors.
    private mutating func keep(_ resource: DecodedResource) {
        let id = resource.id
        diagnostics.append(contentsOf: resource.diagnostics)
        if let name = resource.name {
            if let first = definitions[id] {
                diagnostics.append(
                    Diagnostic(
                        .warning, .redefined, "`\(id)` is defined again; this definition replaces the one at \(first)",
                        at: name.location, resource: id, field: "metadata.name"))
            } else {
                definitions[id] = name.location
            }
        }
        switch resource.value {
        case nil: break
        case .trafficTarget(let value): trafficTargets[id] = value
        case .identityBinding(let value): identityBindings[id] = value
        case .httpRouteGroup(let value): httpRouteGroups[id] = value
        case .tcpRoute(let value): tcpRoutes[id] = value
        case .udpRoute(let value): udpRoutes[id] = value
        case .trafficSplit(let value): trafficSplits[id] = value
        }
    }

    /// The values in the order of their identities `keys` (sorted).
    private static func values<Value>(_ values: [ResourceID: Value], in keys: [ResourceID]) -> [Value] {
        keys.compactMap { values[$0] }
    }

    /// The model, sorted by namespace then name, and the diagnostics, by input then position.
    func finish() -> LoadResult {
        let start = ContinuousClock.now
        // Each kind's identities sorted on its own, on the load's threads (the TrafficTargets are
        // most of the work; identities are unique, so any sort gives the same order). Sorting the
        // keys alone moves far less than sorting key/value pairs.
        let unsorted: [[ResourceID]] = [
            Array(trafficTargets.keys), Array(identityBindings.keys), Array(httpRouteGroups.keys),
            Array(tcpRoutes.keys), Array(udpRoutes.keys), Array(trafficSplits.keys),
        ]
        var sortedIDs: [[ResourceID]] = []
        // A thread costs tens of microseconds to start: worth it for large policies only.
        let large = unsorted.reduce(0) { $0 + $1.count } > 2_000
        OrderedWork.run(
            count: unsorted.count, threads: large ? min(PolicyLoader.threadCount(limits), 2) : 1,
            work: { unsorted[$0].sorted() }, consume: { sortedIDs.append($0) })
        var model = PolicyModel()
        model.trafficTargets = Self.values(trafficTargets, in: sortedIDs[0])
        model.identityBindings = Self.values(identityBindings, in: sortedIDs[1])
        model.httpRouteGroups = Self.values(httpRouteGroups, in: sortedIDs[2])
        model.tcpRoutes = Self.values(tcpRoutes, in: sortedIDs[3])
        model.udpRoutes = Self.values(udpRoutes, in: sortedIDs[4])
        model.trafficSplits = Self.values(trafficSplits, in: sortedIDs[5])
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
