import SMIFuzzEntries

/// libFuzzer's entry point: one input through FuzzEntries.bundle, which returns the invariants the
/// input broke; any is a finding, so the process stops here and libFuzzer saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let problems = FuzzEntries.bundle(bytes)
    if !problems.isEmpty {
        fatalError("invariant broken:\n" + problems.prefix(5).joined(separator: "\n"))
    }
    return 0
}
