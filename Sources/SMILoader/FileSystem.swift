import SMIModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The loader's only contact with the file system: reading files and listing folders with
/// POSIX calls, every failure an `io` diagnostic naming the path.
enum FileSystem {
    /// An errno value as an error.
    struct Errno: Error {
        /// The C `errno`.
        var code: Int32
    }

    /// What a path is.
    enum Entry {
        case file
        case directory(device: UInt64, inode: UInt64)
        case other
    }

    /// What `path` names (following symbolic links), or an errno.
    static func entry(_ path: String) -> Result<Entry, Errno> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(Errno(code: errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .success(.file)
        case S_IFDIR: return .success(.directory(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
        default: return .success(.other)
        }
    }

    /// A file's bytes; an `io` or `limit-exceeded` diagnostic when it cannot be read whole.
    static func readFile(_ path: String, maxBytes: Int) -> Result<[UInt8], Diagnostic> {
        let at = SourceLocation(file: path, line: 1, column: 1)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ioError(path, errno)) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, Int(info.st_size) > maxBytes {
            return .failure(
                Diagnostic(
                    .error,
                    .limitExceeded,
                    "`\(path)` is \(info.st_size) bytes, more than the limit of \(maxBytes) bytes (limit maxDocumentBytes)",
                    at: at
                )
            )
        }
        var bytes: [UInt8] = []
        let chunk = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress, chunk) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ioError(path, errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
            if bytes.count > maxBytes {
                return .failure(
                    Diagnostic(
                        .error,
                        .limitExceeded,
                        "`\(path)` is more than \(maxBytes) bytes long (limit maxDocumentBytes)",
                        at: at
                    )
                )
            }
        }
        return .success(bytes)
    }

    /// The names in a folder (without `.` and `..`), or an errno.
    static func list(_ path: String) -> Result<[String], Errno> {
        guard let dir = opendir(path) else { return .failure(Errno(code: errno)) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            // Read up to the NUL only: the bytes after it are not initialized (valgrind sees a
            // whole-array copy and scan as reading them).
            let name = withUnsafePointer(to: &entry.pointee.d_name) { field -> String in
                let size = MemoryLayout.size(ofValue: field.pointee)
                return field.withMemoryRebound(to: UInt8.self, capacity: size) { bytes -> String in
                    var length = 0
                    while length < size, bytes[length] != 0 { length += 1 }
                    return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
                }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return .success(names)
    }

    /// An `io` error for `path`.
    static func ioError(_ path: String, _ code: Int32) -> Diagnostic {
        Diagnostic(
            .error, .io, "cannot read `\(path)`: \(describe(code))", at: SourceLocation(file: path, line: 1, column: 1))
    }

    /// A short lowercase description of an errno.
    static func describe(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file or folder"
        case EACCES, EPERM: return "permission denied"
        case ENOTDIR: return "a part of the path is not a folder"
        case EISDIR: return "is a folder"
        case ELOOP: return "too many symbolic links"
        case ENAMETOOLONG: return "the name is too long"
        case EMFILE, ENFILE: return "too many open files"
        case ENOMEM: return "out of memory"
        case EIO: return "input/output error"
        default: return "error \(code)"
        }
    }
}
