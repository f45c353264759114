// The one place in SMIEngine that calls PCRE2. Every pcre2_* call goes through this file, so the
// foreign boundary has a single choke point (width-specific `_8` names; see TOOLCHAIN.md).
import CPCRE2

enum PCRE2 {
    typealias Code = OpaquePointer
    typealias MatchData = OpaquePointer
    typealias MatchContext = OpaquePointer
    typealias CompileContext = OpaquePointer

    static let utf: UInt32 = 0x0008_0000
    static let anchored: UInt32 = 0x8000_0000
    static let noUTFCheck: UInt32 = 0x4000_0000
    static let dollarEndOnly: UInt32 = 0x0000_0010
    static let neverBackslashC: UInt32 = 0x0010_0000
    static let jitComplete: UInt32 = 0x0000_0001

    static let errorNoMatch: Int32 = -1
    static let errorJITStackLimit: Int32 = -46
    static let errorMatchLimit: Int32 = -47
    static let errorDepthLimit: Int32 = -53
    static let errorHeapLimit: Int32 = -63

    static let infoBackrefMax: UInt32 = 2
    static let infoCaptureCount: UInt32 = 4

    /// Compiles `pattern`; on failure returns PCRE2's message and the offset in the pattern.
    static func compile(_ pattern: [UInt8], options: UInt32) -> Result<Code, RegexSyntaxError> {
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let code = pattern.withUnsafeBufferPointer { buffer -> Code? in
            // An empty pattern still needs a valid pointer; PCRE2 reads `length` bytes.
            let base = buffer.baseAddress ?? UnsafePointer<UInt8>(bitPattern: 1)
            return pcre2_compile_8(base, buffer.count, options, &errorCode, &errorOffset, nil)
        }
        guard let code else {
            return .failure(RegexSyntaxError(message: errorMessage(errorCode), offset: errorOffset))
        }
        return .success(code)
    }

    static func jitCompile(_ code: Code) -> Bool {
        pcre2_jit_compile_8(code, jitComplete) == 0
    }

    static func free(_ code: Code) { pcre2_code_free_8(code) }

    static func info(_ code: Code, _ what: UInt32) -> UInt32 {
        var value: UInt32 = 0
        guard pcre2_pattern_info_8(code, what, &value) == 0 else { return 0 }
        return value
    }

    /// A `size_t` item of `pcre2_pattern_info` (``infoSize``, ``infoJITSize``); 0 when PCRE2 has none.
    static func size(_ code: Code, _ what: UInt32) -> Int {
        var value: Int = 0
        guard pcre2_pattern_info_8(code, what, &value) == 0 else { return 0 }
        return value
    }

    /// `PCRE2_INFO_SIZE`: bytes of compiled pattern.
    static let infoSize = UInt32(PCRE2_INFO_SIZE)
    /// `PCRE2_INFO_JITSIZE`: bytes of JIT-compiled code (0 without JIT).
    static let infoJITSize = UInt32(PCRE2_INFO_JITSIZE)

    static func errorMessage(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, $0.count) }
        guard n > 0 else { return "unknown PCRE2 error \(code)" }
        return String(decoding: buffer[0..<Int(n)], as: UTF8.self)
    }

    static func createMatchData() -> MatchData? { pcre2_match_data_create_8(1, nil) }
    static func freeMatchData(_ data: MatchData) { pcre2_match_data_free_8(data) }

    static func createMatchContext(matchLimit: UInt32, depthLimit: UInt32) -> MatchContext? {
        guard let context = pcre2_match_context_create_8(nil) else { return nil }
        pcre2_set_match_limit_8(context, matchLimit)
        pcre2_set_depth_limit_8(context, depthLimit)
        return context
    }

    static func freeMatchContext(_ context: MatchContext) { pcre2_match_context_free_8(context) }

    typealias CalloutFunction = @convention(c) (UnsafeMutablePointer<pcre2_callout_block_8>?, UnsafeMutableRawPointer?) -> Int32

    static func setCallout(_ context: MatchContext, _ function: CalloutFunction, _ data: UnsafeMutableRawPointer) {
        pcre2_set_callout_8(context, function, data)
    }

    /// Runs one match; returns PCRE2's result code (>= 0 is a match).
    @inline(__always)
    static func match(
        _ code: Code, _ subject: UnsafeRawBufferPointer, options: UInt32, data: MatchData, context: MatchContext
    ) -> Int32 {
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer<UInt8>(bitPattern: 1)
        return pcre2_match_8(code, base, subject.count, 0, options, data, context)
    }

    /// Runs one match through the JIT fast path, which skips PCRE2's argument and UTF-8
    /// checks: only for JIT-compiled code and a subject known to be valid UTF-8.
    @inline(__always)
    static func jitMatch(
        _ code: Code, _ subject: UnsafeRawBufferPointer, data: MatchData, context: MatchContext
    ) -> Int32 {
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer<UInt8>(bitPattern: 1)
        return pcre2_jit_match_8(code, base, subject.count, 0, 0, data, context)
    }

    /// The mark of the last successful match, or nil.
    static func mark(_ data: MatchData) -> UnsafePointer<UInt8>? { pcre2_get_mark_8(data) }
}

extension PCRE2 {
    static func setLimits(_ context: MatchContext, match: UInt32, depth: UInt32) {
        pcre2_set_match_limit_8(context, match)
        pcre2_set_depth_limit_8(context, depth)
    }
}
