#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SMIEngine

/// A failed read or write, with the system's reason.
struct IOError: Error, CustomStringConvertible {
    var description: String

    /// `what: strerror(errno)`, from the current `errno`.
    static func fromErrno(_ what: String) -> IOError {
        IOError(description: "\(what): \(String(cString: strerror(errno)))")
    }
}

/// Standard error, written unbuffered with `write(2)`.
enum StandardError {
    /// Writes each diagnostic on its own line (`FILE:LINE:COLUMN: error: ...`).
    static func write(_ diagnostics: [Diagnostic]) {
        guard !diagnostics.isEmpty else { return }
        write(diagnostics.map { "\($0.description)\n" }.joined())
    }

    /// Writes a line.
    static func writeLine(_ text: String) {
        write(text + "\n")
    }

    private static func write(_ text: String) {
        var bytes = Array(text.utf8)
        // stderr has nowhere to report its own failures.
        _ = try? writeAll(&bytes, to: 2)
    }
}

/// Writes every byte, retrying after interrupts and short writes.
private func writeAll(_ bytes: inout [UInt8], to fd: Int32) throws(IOError) {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return write(fd, base + done, raw.count - done)
        }
        if n < 0 {
            if errno == EINTR { continue }
            throw IOError.fromErrno("cannot write")
        }
        done += n
    }
}

/// Bytes for a file descriptor, written on `flush()` or once `capacity` is reached.
struct OutputBuffer {
    private let fd: Int32
    private let capacity: Int
    private var bytes: [UInt8] = []

    init(fd: Int32, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        bytes.reserveCapacity(capacity)
    }

    /// Appends `text` and a newline.
    mutating func appendLine(_ text: String) throws(IOError) {
        bytes.append(contentsOf: text.utf8)
        bytes.append(0x0A)
        if bytes.count >= capacity { try flush() }
    }

    /// Writes what is buffered.
    mutating func flush() throws(IOError) {
        try writeAll(&bytes, to: fd)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Reads a file descriptor line by line, as raw bytes (no decoding, so invalid UTF-8 reaches
/// the JSON reader, which refuses it).
struct LineReader {
    /// One line without its `\n`, or a line longer than the limit (its bytes are dropped).
    enum Line {
        case text([UInt8])
        case tooLong
    }

    private let fd: Int32
    /// The longest line read whole.
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    /// Reads `fd`, which the reader does not close; lines past `maxLineBytes` are `.tooLong`.
    init(fd: Int32, maxLineBytes: Int = 16 << 20) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
    }

    /// Opens `path` for reading.
    static func open(path: String) throws(IOError) -> LineReader {
        let fd = systemOpen(path)
        guard fd >= 0 else { throw IOError.fromErrno("cannot open `\(path)`") }
        return LineReader(fd: fd)
    }

    /// The next line, or nil at the end of the input. `beforeRead` runs before each `read(2)`,
    /// which may block on a pipe: the caller flushes its answers there, so a process feeding
    /// requests one at a time gets each answer before it sends the next.
    mutating func next(beforeRead: () throws(IOError) -> Void) throws(IOError) -> Line? {
        var scanned = start
        var discarding = false
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return discarding ? .tooLong : .text(line)
            }
            if atEnd {
                guard start < buffer.count || discarding else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return discarding ? .tooLong : .text(line)
            }
            buffer.removeSubrange(0..<start)
            start = 0
            if buffer.count > maxLineBytes {
                buffer.removeAll(keepingCapacity: true)
                discarding = true
            }
            scanned = buffer.count
            try beforeRead()
            try fill()
        }
    }

    private mutating func fill() throws(IOError) {
        let chunk = 1 << 16
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        while true {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(fd, base + old, chunk)
            }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                buffer.removeSubrange(old...)
                throw IOError.fromErrno("cannot read requests")
            }
            buffer.removeSubrange((old + n)...)
            if n == 0 { atEnd = true }
            return
        }
    }
}

private func systemOpen(_ path: String) -> Int32 {
    open(path, O_RDONLY)
}
