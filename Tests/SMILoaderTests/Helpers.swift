import SMILoader
import SMIModel
import SMITestSupport
import Testing

/// Loads one in-memory YAML (or JSON) source.
func load(_ text: String, name: String = "test.yaml", limits: LoaderLimits = .init()) -> LoadResult {
    PolicyLoader.load(sources: [PolicySource(name: name, text: text)], limits: limits)
}

/// The diagnostics of one severity.
func errors(_ result: LoadResult) -> [Diagnostic] { result.diagnostics.filter { $0.severity == .error } }
func warnings(_ result: LoadResult) -> [Diagnostic] { result.diagnostics.filter { $0.severity == .warning } }

/// Loads marked YAML and checks that a diagnostic with `code` and `severity` sits at each marker
/// given, and returns the result for further checks.
@discardableResult
func expectDiagnostics(
    _ marked: String,
    name: String = "test.yaml",
    _ expected: [(marker: String, code: DiagnosticCode, severity: Severity)],
    exactErrors: Bool = true,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> LoadResult {
    let input = MarkedText(marked)
    let result = load(input.text, name: name)
    for item in expected {
        let position = input[item.marker]
        let hit = result.diagnostics.contains {
            $0.code == item.code && $0.severity == item.severity && $0.location?.line == position.line
                && $0.location?.column == position.column && $0.location?.file == name
        }
        #expect(
            hit,
            "expected \(item.severity) `\(item.code)` at \(position) (\(item.marker)); got:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation
        )
    }
    if exactErrors {
        let wanted = expected.filter { $0.severity == .error }.count
        #expect(
            errors(result).count == wanted,
            "expected \(wanted) errors; got:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation
        )
    }
    return result
}
