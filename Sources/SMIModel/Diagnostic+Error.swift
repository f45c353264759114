/// A diagnostic can be thrown or carried in a `Result` as the failure of a parse.
extension Diagnostic: Error {}
