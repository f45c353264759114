import CSMIEngine
import SMIEngine
import SMIEngineC
import SMIReference

/// A policy compiled through both the Swift API and the C ABI, and when it was generated, the
/// reference evaluator written from SEMANTICS.md for it.
final class FuzzSubject: @unchecked Sendable {
    let policy: Policy
    let cPolicy: OpaquePointer
    let reference: Differential.ReferenceEvaluator?
    let universe: Differential.Universe?
    let description: Differential.PolicyDescription?

    init?(
        sources: [PolicySource],
        options: PolicyOptions,
        generated: (Differential.PolicyDescription, Differential.Universe)? = nil
    ) {
        guard let policy = try? Policy.compile(sources: sources, options: options),
            let cPolicy = FuzzSubject.compileC(sources, options)
        else { return nil }
        self.policy = policy
        self.cPolicy = cPolicy
        reference = generated.map { Differential.ReferenceEvaluator($0.0) }
        description = generated?.0
        universe = generated?.1
    }

    deinit { smi_policy_release(cPolicy) }

    /// The same sources and options through smi_policy_compile.
    static func compileC(_ sources: [PolicySource], _ options: PolicyOptions) -> OpaquePointer? {
        var c = smi_compile_options()
        c.size = UInt32(MemoryLayout<smi_compile_options>.size)
        c.flags =
            (options.fullPathMatch ? SMI_COMPILE_FULL_PATH_MATCH : 0)
            | (options.allowCrossNamespaceDestinations ? SMI_COMPILE_ALLOW_CROSS_NAMESPACE : 0)
        c.normalization = options.normalization.rawValue
        c.match_limit = options.matchLimit
        c.depth_limit = options.depthLimit
        c.max_headers = UInt32(clamping: options.maxHeaders)
        c.max_target_length = UInt32(clamping: options.maxTargetLength)
        let texts = sources.map { (Array($0.name.utf8), $0.bytes) }
        let domain = Array((options.trustDomain ?? "").utf8)
        return withSmiStrings(texts.flatMap { [$0.0, $0.1] } + [domain]) { strings in
            c.trust_domain = strings[strings.count - 1]
            var list: [smi_source] = []
            for i in 0..<texts.count { list.append(smi_source(name: strings[2 * i], text: strings[2 * i + 1])) }
            var out: OpaquePointer?
            let status = list.withUnsafeBufferPointer { smi_policy_compile(&out, nil, $0.baseAddress, $0.count, &c) }
            return status == SMI_OK ? out : nil
        }
    }

    /// The fixed policies, compiled once.
    static let fixed: [FuzzSubject] = FixedPolicies.variants.compactMap {
        FuzzSubject(sources: [PolicySource(name: "fixed.yaml", text: $0.text)], options: $0.options)
    }

    /// A random policy from the differential test's generator, seeded by `seed`.
    static func generated(seed: UInt64) -> FuzzSubject? {
        var generator = Differential.PolicyGenerator(seed: seed)
        let description = generator.make()
        var renderer = Differential.PolicyRenderer(rng: Differential.SplitMix64(seed: seed ^ 0x5EED_5EED))
        let files = renderer.render(description)
        return FuzzSubject(
            sources: files.map { PolicySource(name: $0.name, text: $0.text) },
            options: description.options,
            generated: (description, generator.universe)
        )
    }
}

/// Lends `byteStrings` as smi_strings (each a private copy) for the duration of `body`.
func withSmiStrings<R>(_ byteStrings: [[UInt8]], _ body: ([smi_string]) -> R) -> R {
    var buffers: [UnsafeMutableRawBufferPointer] = []
    defer { for b in buffers { b.deallocate() } }
    var strings: [smi_string] = []
    for bytes in byteStrings {
        // One byte more than needed, so an empty string still has a non-NULL pointer.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
        buffers.append(buffer)
        buffer.copyBytes(from: bytes)
        strings.append(smi_string(data: buffer.baseAddress?.assumingMemoryBound(to: CChar.self), length: bytes.count))
    }
    return body(strings)
}

/// One access request as raw bytes (what a proxy hands the C ABI).
struct RawAccessRequest {
    var source: [UInt8]
    var destination: [UInt8]
    var port: UInt32
    var transport: TransportProtocol
    var method: [UInt8]
    var target: [UInt8]
    var headers: [(name: [UInt8], value: [UInt8])]

    /// The same request through the Swift API (strings decoded, ill-formed UTF-8 repaired), and
    /// whether the decoding kept every byte.
    var swift: (request: AccessRequest, exact: Bool) {
        var exact = true
        func text(_ bytes: [UInt8]) -> String {
            let s = String(decoding: bytes, as: UTF8.self)
            if !s.utf8.elementsEqual(bytes) { exact = false }
            return s
        }
        let request = AccessRequest(
            source: text(source),
            destination: text(destination),
            port: Int(port),
            transport: transport,
            method: text(method),
            path: text(target),
            headers: headers.map { HTTPHeader(text($0.name), text($0.value)) }
        )
        return (request, exact)
    }

    init(_ r: AccessRequest) {
        source = Array(r.source.utf8)
        destination = Array(r.destination.utf8)
        port = UInt32(clamping: r.port)
        transport = r.transport
        method = Array(r.method.utf8)
        target = Array(r.path.utf8)
        headers = r.headers.map { (Array($0.name.utf8), Array($0.value.utf8)) }
    }

    init(_ input: inout FuzzInput) {
        source = input.oneIn(16) ? input.raw(upTo: 24) : Array(input.pick(FixedPolicies.identities).utf8)
        destination = input.oneIn(16) ? input.raw(upTo: 24) : Array(input.pick(FixedPolicies.identities).utf8)
        port = input.oneIn(16) ? UInt32(input.uint16()) : input.pick(FixedPolicies.ports)
        transport = input.pick(TransportProtocol.allCases)
        method = HostileRequests.method(&input)
        target = HostileRequests.path(&input)
        headers = HostileRequests.headers(&input)
    }
}

extension FuzzEntries {
    /// The decision target: input bytes pick a fixed policy or generate a random one, then drive
    /// up to 12 access and split requests (hostile paths, methods, headers) through the Swift API
    /// and the C ABI. Returns the invariants that failed (empty when all held):
    ///
    /// - the same request decided twice, with two scratches, gets the same answer;
    /// - an allow names its grant (TrafficTarget and rule kind); a deny names one reason;
    /// - the Swift API and the C ABI agree on every request both can express;
    /// - a request over the policy's header or target-length limit is refused (C: SMI_ERROR_LIMIT,
    ///   Swift: `request-too-large`), and one within them never is;
    /// - for a generated policy, the decision equals the reference evaluator's (SEMANTICS.md), and
    ///   a split's backend is one §6 allows.
    public static func decisions(_ bytes: [UInt8]) -> [String] {
        var input = FuzzInput(bytes)
        let choice = input.byte()
        let subject: FuzzSubject?
        if choice & 0x80 != 0 {
            subject = FuzzSubject.generated(seed: input.uint64())
            guard subject != nil else { return ["a generated (valid) policy did not compile"] }
        } else {
            let fixed = FuzzSubject.fixed
            guard fixed.count == FixedPolicies.variants.count else { return ["a fixed policy did not compile"] }
            subject = fixed[Int(choice) % fixed.count]
        }
        guard let subject else { return [] }
        var generator = subject.universe.flatMap { universe in
            subject.description.map {
                Differential.RequestGenerator(
                    rng: Differential.SplitMix64(seed: UInt64(bytes.count) ^ 0xC0FF_EE00),
                    universe: universe,
                    policy: $0
                )
            }
        }
        let scratch = DecisionScratch()
        let other = DecisionScratch()
        var cScratch: OpaquePointer?
        guard smi_scratch_create(&cScratch) == SMI_OK, let cScratch else { return ["smi_scratch_create failed"] }
        defer { smi_scratch_free(cScratch) }
        var problems: [String] = []
        var count = 0
        while !input.isExhausted, count < 12, problems.isEmpty {
            count += 1
            let op = input.byte()
            if op & 0x3 == 3 {
                problems += checkSplit(subject, &input, &generator, scratch, other, cScratch)
                continue
            }
            var request: RawAccessRequest
            if var g = generator, op & 0x4 != 0 {
                // A request aimed at the policy, then maybe disguised.
                request = RawAccessRequest(g.accessRequest())
                generator = g
                if op & 0x8 != 0 { request.target = HostileRequests.path(&input) }
                if op & 0x10 != 0 { request.headers += HostileRequests.headers(&input) }
            } else {
                request = RawAccessRequest(&input)
            }
            problems += checkAccess(subject, request, scratch, other, cScratch)
        }
        return problems
    }

    static func checkAccess(
        _ subject: FuzzSubject,
        _ raw: RawAccessRequest,
        _ scratch: DecisionScratch,
        _ other: DecisionScratch,
        _ cScratch: OpaquePointer
    ) -> [String] {
        var problems: [String] = []
        let (request, exact) = raw.swift
        let options = subject.policy.options
        let overLimit =
            raw.transport == .http
            && (raw.headers.count > options.maxHeaders || raw.target.count > options.maxTargetLength)
        let first = subject.policy.decide(request, scratch: scratch)
        let second = subject.policy.decide(request, scratch: other)
        let what =
            "access \(request.transport) \(request.method.debugDescription) "
            + "\(request.path.prefix(200).debugDescription) headers \(request.headers.count)"
        if first != second { problems.append("not deterministic: \(first) then \(second) for \(what)") }
        if first.allowed {
            if first.trafficTarget == nil || first.ruleKind == nil || first.reason != nil {
                problems.append("an allow without its grant: \(first) for \(what)")
            }
        } else if first.reason == nil || first.trafficTarget != nil {
            problems.append("a deny without one reason: \(first) for \(what)")
        }
        if overLimit != (first.reason == .requestTooLarge) && exact {
            problems.append("limit: over the limit \(overLimit), decision \(first) for \(what)")
        }
        // The C ABI on the raw bytes.
        let strings =
            [raw.source, raw.destination, raw.method, raw.target] + raw.headers.flatMap { [$0.name, $0.value] }
        let c: (status: smi_status, allowed: Bool, reason: String, trafficTarget: String?) = withSmiStrings(strings) {
            s in
            var headers: [smi_header] = []
            for i in 0..<raw.headers.count { headers.append(smi_header(name: s[4 + 2 * i], value: s[5 + 2 * i])) }
            return headers.withUnsafeBufferPointer { list in
                var r = smi_access_request()
                r.size = UInt32(MemoryLayout<smi_access_request>.size)
                r.protocol =
                    raw.transport == .http
                    ? UInt32(SMI_PROTOCOL_HTTP)
                    : raw.transport == .tcp ? UInt32(SMI_PROTOCOL_TCP) : UInt32(SMI_PROTOCOL_UDP)
                r.port = raw.port
                r.source_name = s[0]
                r.destination_name = s[1]
                r.method = s[2]
                r.target = s[3]
                r.headers = list.baseAddress
                r.header_count = list.count
                var d = smi_access_decision()
                d.size = UInt32(MemoryLayout<smi_access_decision>.size)
                let status = smi_policy_decide_access(&d, subject.cPolicy, cScratch, &r)
                let tt = d.traffic_target.data.map {
                    String(decoding: UnsafeRawBufferPointer(start: $0, count: d.traffic_target.length), as: UTF8.self)
                }
                return (status, d.allowed == 1, String(cString: smi_reason_string(d.reason)), tt)
            }
        }
        if c.status == SMI_ERROR_LIMIT {
            if !overLimit { problems.append("C: SMI_ERROR_LIMIT within the limits for \(what)") }
        } else if c.status != SMI_OK {
            problems.append("C: status \(c.status) for a well-formed request \(what)")
        } else {
            if overLimit { problems.append("C: a request over the limits was decided: \(what)") }
            if c.allowed && c.trafficTarget == nil { problems.append("C: an allow without its grant for \(what)") }
            if exact
                && (c.allowed != first.allowed || c.reason != (first.reason?.rawValue ?? "none")
                    || c.trafficTarget != first.trafficTarget)
            {
                problems.append("C and Swift disagree: C \(c) Swift \(first) for \(what)")
            }
        }
        // The reference, for generated policies, on requests it models.
        if let reference = subject.reference, exact, !overLimit {
            let expected = reference.decide(request)
            let actual = Differential.ExpectedAccess(
                allowed: first.allowed,
                reason: first.reason,
                trafficTarget: first.trafficTarget,
                ruleKind: first.ruleKind,
                match: first.match
            )
            if actual != expected {
                problems.append(
                    "reference \(expected) engine \(actual) for \(what); "
                        + "trace \(reference.trace.joined(separator: "; "))"
                )
            }
        }
        return problems
    }

    static func checkSplit(
        _ subject: FuzzSubject,
        _ input: inout FuzzInput,
        _ generator: inout Differential.RequestGenerator?,
        _ scratch: DecisionScratch,
        _ other: DecisionScratch,
        _ cScratch: OpaquePointer
    ) -> [String] {
        var request: SplitRequest
        if var g = generator, input.byte() & 1 == 0 {
            request = g.splitRequest()
            generator = g
        } else {
            request = SplitRequest(service: input.pick(FixedPolicies.services), entropy: input.uint64())
            if input.oneIn(2) { request.method = String(decoding: HostileRequests.method(&input), as: UTF8.self) }
            if input.oneIn(2) { request.path = String(decoding: HostileRequests.path(&input), as: UTF8.self) }
            if input.oneIn(2) { request.port = Int(input.pick(FixedPolicies.ports)) }
            request.headers = HostileRequests.headers(&input).map {
                HTTPHeader(String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self))
            }
        }
        var problems: [String] = []
        let options = subject.policy.options
        let overLimit =
            request.headers.count > options.maxHeaders || (request.path?.utf8.count ?? 0) > options.maxTargetLength
        let first = subject.policy.selectBackend(request, scratch: scratch)
        let second = subject.policy.selectBackend(request, scratch: other)
        let what =
            "split \(request.service.debugDescription) entropy \(request.entropy) "
            + "path \((request.path ?? "nil").prefix(200).debugDescription)"
        if first != second { problems.append("split not deterministic: \(first) then \(second) for \(what)") }
        if first.backend.isEmpty && !request.service.isEmpty { problems.append("split: empty backend for \(what)") }
        if overLimit && (first.backend != request.service || first.trafficSplit != nil) {
            problems.append("split over the limits was split: \(first) for \(what)")
        }
        let strings =
            [request.service, request.method ?? "", request.path ?? ""].map { Array($0.utf8) }
            + request.headers.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] }
        let c: (status: smi_status, backend: String?) = withSmiStrings(strings) { s in
            var headers: [smi_header] = []
            for i in 0..<request.headers.count { headers.append(smi_header(name: s[3 + 2 * i], value: s[4 + 2 * i])) }
            return headers.withUnsafeBufferPointer { list in
                var r = smi_split_request()
                r.size = UInt32(MemoryLayout<smi_split_request>.size)
                r.entropy = request.entropy
                r.service = s[0]
                if request.method != nil { r.flags |= SMI_SPLIT_HAS_METHOD; r.method = s[1] }
                if request.path != nil { r.flags |= SMI_SPLIT_HAS_TARGET; r.target = s[2] }
                if let port = request.port { r.flags |= SMI_SPLIT_HAS_PORT; r.port = UInt32(clamping: port) }
                r.headers = list.baseAddress
                r.header_count = list.count
                var d = smi_split_decision()
                d.size = UInt32(MemoryLayout<smi_split_decision>.size)
                let status = smi_policy_select_backend(&d, subject.cPolicy, cScratch, &r)
                let backend = d.backend.data.map {
                    String(decoding: UnsafeRawBufferPointer(start: $0, count: d.backend.length), as: UTF8.self)
                }
                return (status, backend)
            }
        }
        if c.status == SMI_ERROR_LIMIT {
            if !overLimit { problems.append("C: split SMI_ERROR_LIMIT within the limits for \(what)") }
        } else if c.status != SMI_OK {
            problems.append("C: split status \(c.status) for \(what)")
        } else if overLimit {
            problems.append("C: a split request over the limits was decided: \(what)")
        } else if (c.backend ?? "") != first.backend {
            problems.append(
                "C and Swift pick different backends: \(c.backend ?? "nil") and \(first.backend) for \(what)"
            )
        }
        if let reference = subject.reference, !overLimit {
            let expected = reference.split(request)
            if !expected.possible.contains(first.backend) {
                problems.append(
                    "split backend \(first.backend) not one §6 allows (\(expected.possible.sorted())) for \(what)"
                )
            }
        }
        return problems
    }
}
