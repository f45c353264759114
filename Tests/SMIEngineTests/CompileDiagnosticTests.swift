import SMIEngine
import SMITestSupport
import Testing

/// What a test expects of one diagnostic: severity, code, the marker it sits on, and words its
/// message must contain.
private struct Expected {
    var severity: Severity
    var code: DiagnosticCode
    var marker: String
    var mentions: [String] = []
}

/// Compiles `input` (a policy that may or may not compile) and returns every diagnostic.
private func diagnostics(of input: MarkedText, file: String = "policy.yaml") -> [Diagnostic] {
    do {
        return try Policy.compile(text: input.text, name: file).diagnostics
    } catch {
        return error.diagnostics
    }
}

/// Checks that each expected diagnostic is found at its marker, with its message words.
private func expect(
    _ input: MarkedText, _ expected: [Expected], file: String = "policy.yaml",
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let found = diagnostics(of: input, file: file)
    for e in expected {
        let position = input[e.marker]
        let hit = found.first {
            $0.severity == e.severity && $0.code == e.code && $0.location?.file == file
                && $0.location?.line == position.line && $0.location?.column == position.column
        }
        guard let hit else {
            let candidates = found.filter { $0.code == e.code }.map(\.description)
            let all = found.map(\.description).joined(separator: "\n")
            Issue.record(
                "no \(e.severity.rawValue) `\(e.code)` at \(e.marker) \(position); with that code: \(candidates); all:\n\(all)",
                sourceLocation: sourceLocation)
            continue
        }
        for word in e.mentions {
            #expect(hit.message.contains(word), "\(hit.description) should mention `\(word)`", sourceLocation: sourceLocation)
        }
        #expect(!hit.message.hasSuffix("."), "messages end without a period: \(hit.message)", sourceLocation: sourceLocation)
    }
}

@Suite("Compile diagnostics land on the offending value (markers)")
struct CompileDiagnosticTests {
    @Test("an invalid pathRegex is an error at the pattern's value, naming the offset inside the pattern")
    func invalidPathRegex() throws {
        let input = MarkedText("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches:
              - name: ok
                pathRegex: /fine
              - name: bad
                pathRegex: 1️⃣"/api/(["
              - name: bad-plain
                pathRegex: 2️⃣/a)b
            """)
        expect(input, [
            Expected(severity: .error, code: .invalidRegex, marker: "1️⃣", mentions: ["`/api/([`", "offset"]),
            Expected(severity: .error, code: .invalidRegex, marker: "2️⃣", mentions: ["`/a)b`", "offset 2"]),
        ])
        #expect(throws: PolicyCompileError.self) { try Policy.compile(text: input.text) }
    }

    @Test("an invalid header value regex is an error at the header's value, naming the offset")
    func invalidHeaderRegex() {
        let input = MarkedText("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches:
              - name: map-form
                headers:
                  user-agent: 1️⃣"*Firefox"
              - name: list-form
                headers:
                - cookie: 2️⃣"a{2,1}"
            """)
        expect(input, [
            Expected(severity: .error, code: .invalidRegex, marker: "1️⃣", mentions: ["`*Firefox`", "offset 0"]),
            Expected(severity: .error, code: .invalidRegex, marker: "2️⃣", mentions: ["`a{2,1}`", "offset"]),
        ])
    }

    @Test("regexes that can backtrack catastrophically are warnings at the pattern; the policy still compiles")
    func catastrophicBacktracking() throws {
        let input = MarkedText(#"""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches:
              - name: nested-plus
                pathRegex: 1️⃣/(a+)+$
              - name: nested-star
                pathRegex: 2️⃣"/(a*)*"
              - name: overlapping-alternation
                pathRegex: 3️⃣/(a|a)*$
              - name: dot-star-starred
                pathRegex: 4️⃣/(.*)*x
              - name: words
                pathRegex: 5️⃣'/((\w+\s?)+)$'
              - name: prefix-overlap
                pathRegex: 6️⃣/(?:ab|a)+c
              - name: open-range
                pathRegex: 7️⃣/(x+y?){2,}z
              - name: header
                headers:
                  x-user: 8️⃣"(a|aa)+$"
              - name: fine
                pathRegex: /api/v[0-9]+/items/[^/]+
              - name: fine-alternation
                pathRegex: /(get|put)+/(x|y)z
              - name: fine-bounded
                pathRegex: /(a+){2}b
            """#)
        expect(input, [
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "1️⃣", mentions: ["`/(a+)+$`", "regex-budget-exceeded"]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "2️⃣", mentions: ["`/(a*)*`"]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "3️⃣", mentions: ["`/(a|a)*$`"]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "4️⃣", mentions: ["`/(.*)*x`"]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "5️⃣", mentions: [#"`/((\w+\s?)+)$`"#]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "6️⃣", mentions: ["`/(?:ab|a)+c`"]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "7️⃣", mentions: ["`/(x+y?){2,}z`"]),
            Expected(severity: .warning, code: .regexCatastrophicBacktracking, marker: "8️⃣", mentions: ["`(a|aa)+$`"]),
        ])
        let policy = try Policy.compile(text: input.text)
        #expect(policy.diagnostics.count { $0.code == .regexCatastrophicBacktracking } == 8, "only the eight risky patterns")
    }

    @Test("rules naming a missing HTTPRouteGroup, match, TCPRoute or UDPRoute are warnings at the rule; the policy still compiles")
    func missingReferences() throws {
        let input = MarkedText("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches: [{name: m, pathRegex: /m}]
            ---
            apiVersion: access.smi-spec.io/v1alpha4
            kind: TrafficTarget
            metadata: {name: t, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api}
              sources: [{kind: ServiceAccount, name: web}]
              rules:
              - 1️⃣kind: HTTPRouteGroup
                name: nope
              - kind: HTTPRouteGroup
                name: g
                matches: [m, 2️⃣missing]
              - 3️⃣kind: TCPRoute
                name: no-tcp
              - 4️⃣kind: UDPRoute
                name: no-udp
            """)
        expect(input, [
            Expected(severity: .warning, code: .missingReference, marker: "1️⃣", mentions: ["`default/nope`"]),
            Expected(severity: .warning, code: .missingReference, marker: "2️⃣", mentions: ["`missing`"]),
            Expected(severity: .warning, code: .missingReference, marker: "3️⃣", mentions: ["`default/no-tcp`"]),
            Expected(severity: .warning, code: .missingReference, marker: "4️⃣", mentions: ["`default/no-udp`"]),
        ])
        let policy = try Policy.compile(text: input.text)
        #expect(!policy.diagnostics.containsErrors)
    }

    @Test("TrafficTargets that can grant nothing are dropped with a warning")
    func droppedTargets() {
        let input = MarkedText("""
            1️⃣apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: no-rules, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api}
              sources: [{kind: ServiceAccount, name: web}]
              rules: []
            ---
            2️⃣apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: no-sources, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api}
              sources: []
              rules: [{kind: TCPRoute, name: r}]
            ---
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: cross, namespace: default}
            spec:
              destination:
                kind: ServiceAccount
                name: db
                namespace: 3️⃣data
              sources: [{kind: ServiceAccount, name: web}]
              rules: [{kind: TCPRoute, name: r}]
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: TCPRoute
            metadata: {name: r, namespace: default}
            spec: {matches: {ports: []}}
            """)
        expect(input, [
            Expected(severity: .warning, code: .droppedTarget, marker: "1️⃣", mentions: ["no rules"]),
            Expected(severity: .warning, code: .droppedTarget, marker: "2️⃣", mentions: ["no sources"]),
            // SEMANTICS.md §1: the location is that of the offending value, here
            // destination.namespace (the diagnostic's field).
            Expected(severity: .warning, code: .droppedTarget, marker: "3️⃣", mentions: ["`data`"]),
        ])
    }

    @Test("backreferences and lookaround are accepted with a portability warning at the pattern")
    func portabilityWarnings() throws {
        let input = MarkedText("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches:
              - name: backref
                pathRegex: 1️⃣"/(a)\\\\1"
              - name: lookahead
                pathRegex: 2️⃣"/(?=x)x"
              - name: lookbehind
                headers: {x-a: 3️⃣"(?<!b)a"}
            """)
        expect(input, [
            Expected(severity: .warning, code: .regexPortability, marker: "1️⃣", mentions: ["backreferences"]),
            Expected(severity: .warning, code: .regexPortability, marker: "2️⃣", mentions: ["lookaround"]),
            Expected(severity: .warning, code: .regexPortability, marker: "3️⃣", mentions: ["lookaround"]),
        ])
        _ = try Policy.compile(text: input.text)
    }

    @Test("a second split without matches for the same root is a shadowed-split warning at that split")
    func shadowedSplit() throws {
        let input = MarkedText("""
            apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplit
            metadata: {name: a, namespace: default}
            spec:
              service: web
              backends: [{service: web-v1, weight: 1}]
            ---
            1️⃣apiVersion: split.smi-spec.io/v1alpha2
            kind: TrafficSplit
            metadata: {name: b, namespace: default}
            spec:
              service: web
              backends: [{service: web-v2, weight: 1}]
            """)
        expect(input, [
            Expected(severity: .warning, code: .shadowedSplit, marker: "1️⃣", mentions: ["`default/a`", "`default/web`"]),
        ])
        let policy = try Policy.compile(text: input.text)
        #expect(policy.selectBackend(SplitRequest(service: "default/web", entropy: 5), scratch: policy.makeScratch()).backend == "default/web-v1")
    }

    @Test("loader errors and compiler errors are reported together: a layout error and a bad regex in one file")
    func loaderAndCompilerErrorsTogether() {
        let input = MarkedText("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches:
              - name: bad
                pathRegex: 1️⃣"(unclosed"
            ---
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: misplaced, namespace: default}
            2️⃣matches:
            - name: m
            """)
        let found = diagnostics(of: input)
        #expect(found.filter { $0.severity == .error }.count >= 2, "\(found.map(\.description))")
        expect(input, [
            Expected(severity: .error, code: .invalidRegex, marker: "1️⃣", mentions: ["`(unclosed`"]),
            Expected(severity: .error, code: .fieldWrongVersion, marker: "2️⃣", mentions: ["v1alpha4"]),
        ])
        do {
            _ = try Policy.compile(text: input.text)
            Issue.record("the policy must not compile")
        } catch {
            #expect(error.description.contains("policy.yaml:"))
            #expect(error.diagnostics.count == found.count)
        }
    }

    @Test("diagnostics of several sources name their own file")
    func severalSources() {
        let a = MarkedText("""
            apiVersion: specs.smi-spec.io/v1alpha4
            kind: HTTPRouteGroup
            metadata: {name: g, namespace: default}
            spec:
              matches: [{name: m, pathRegex: 1️⃣"["}]
            """)
        let b = MarkedText("""
            apiVersion: access.smi-spec.io/v1alpha3
            kind: TrafficTarget
            metadata: {name: t, namespace: default}
            spec:
              destination: {kind: ServiceAccount, name: api}
              sources: [{kind: ServiceAccount, name: web}]
              rules: [2️⃣{kind: TCPRoute, name: nope}]
            """)
        do {
            _ = try Policy.compile(sources: [
                PolicySource(name: "routes.yaml", bytes: Array(a.text.utf8)),
                PolicySource(name: "access.yaml", bytes: Array(b.text.utf8)),
            ])
            Issue.record("the policy must not compile")
        } catch {
            let regex = error.diagnostics.first { $0.code == .invalidRegex }
            #expect(regex?.location == SMIModel.SourceLocation(file: "routes.yaml", line: a["1️⃣"].line, column: a["1️⃣"].column))
            let missing = error.diagnostics.first { $0.code == .missingReference }
            #expect(missing?.location == SMIModel.SourceLocation(file: "access.yaml", line: b["2️⃣"].line, column: b["2️⃣"].column))
        }
    }
}
