/// Inline test input with emoji markers (`1️⃣`, `2️⃣`, ...) placed right before the spots a test
/// expects a diagnostic at. The markers are removed from ``text`` and their positions kept.
///
/// ```swift
/// let input = MarkedText("""
///     spec:
///       weight: 1️⃣-1
///     """)
/// input.text                 // the YAML without the marker
/// input.markers["1️⃣"]        // (line: 2, column: 11)
/// ```
public struct MarkedText: Sendable {
    /// The text with every marker removed.
    public let text: String
    /// Each marker's 1-based line and column (in Unicode scalars) in ``text``.
    public let markers: [String: Position]

    /// A 1-based line and column.
    public struct Position: Sendable, Hashable, CustomStringConvertible {
        /// 1-based line.
        public var line: Int
        /// 1-based column, in Unicode scalars.
        public var column: Int

        /// Creates a position.
        public init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }

        /// `line:column`.
        public var description: String { "\(line):\(column)" }
    }

    /// Strips the markers out of `marked` and records where each stood.
    ///
    /// A marker is a keycap emoji: a digit, U+FE0F, U+20E3. A marker used twice keeps its first position.
    public init(_ marked: String) {
        let scalars = Array(marked.unicodeScalars)
        var output = String.UnicodeScalarView()
        var markers: [String: Position] = [:]
        var line = 1
        var column = 1
        var i = 0
        while i < scalars.count {
            let scalar = scalars[i]
            if i + 2 < scalars.count, ("0"..."9").contains(scalar), scalars[i + 1] == "\u{FE0F}",
                scalars[i + 2] == "\u{20E3}"
            {
                let name = String(String.UnicodeScalarView(scalars[i...(i + 2)]))
                if markers[name] == nil { markers[name] = Position(line: line, column: column) }
                i += 3
                continue
            }
            output.append(scalar)
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i += 1
        }
        self.text = String(output)
        self.markers = markers
    }

    /// The position of `marker`, or line 0 column 0 when the text has no such marker
    /// (so a test comparing against it fails instead of crashing).
    public subscript(marker: String) -> Position {
        markers[marker] ?? Position(line: 0, column: 0)
    }
}
