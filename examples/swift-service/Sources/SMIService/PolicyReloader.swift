import Foundation
import Logging
import SMIEngine
import ServiceLifecycle
import Synchronization

/// What a ``PolicyReloader`` has done so far (also served as JSON by `/-/policy`).
public struct PolicyReloadStatus: Sendable, Codable, Equatable {
    /// The folder watched.
    public var folder: String
    /// How many policies were put in force (the first load included).
    public var generation: Int
    /// The content hash of the policy in force (hex), nil before the first load.
    public var policyHash: String?
    /// When the policy in force was loaded.
    public var loadedAt: Date?
    /// Warnings and notes of the policy in force (`file:line:column: warning: ...`).
    public var warnings: [String]
    /// How many reloads failed to compile.
    public var failedReloads: Int
    /// The diagnostics of the last failed reload, nil once a later reload succeeds.
    public var lastError: [String]?
    /// When the last failed reload was tried.
    public var lastErrorAt: Date?
    /// The content hash of the files that last failed (hex).
    public var lastErrorHash: String?
}

/// What one ``PolicyReloader/checkOnce()`` did.
public enum PolicyReloadOutcome: Sendable, Equatable {
    /// The folder's files are the ones already tried.
    case unchanged
    /// A new policy is in force.
    case reloaded
    /// The files changed but do not compile; the old policy stays in force.
    case failed
}

/// Watches a policy folder and puts each version that compiles into a ``PolicyHolder``.
///
/// Every `interval` it reads every file under the folder (following symbolic links, so a
/// Kubernetes ConfigMap volume's `..data` swap is seen) and hashes names, sizes and contents.
/// When the hash differs from the last one tried, it compiles the folder with
/// `Policy.compile(paths:)`: on success the new policy is swapped in (decisions already running
/// finish with the old one); on failure every diagnostic is logged with its `file:line:column`,
/// recorded in ``status``, and the old policy stays in force. A broken version is compiled once,
/// not at every tick; the next change is tried again.
public final class PolicyReloader: Service, Sendable {
    /// The folder compiled.
    public let folder: String
    /// Where the policies go.
    public let holder: PolicyHolder
    /// How often the folder is read.
    public let interval: Duration
    private let options: PolicyOptions
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var status: PolicyReloadStatus
        /// The hash of the files last compiled (whether or not they compiled).
        var triedHash: UInt64?
    }

    /// Creates a reloader; nothing is read until ``loadInitial()`` or ``checkOnce()``.
    public init(folder: String, holder: PolicyHolder, interval: Duration, options: PolicyOptions = .init(), logger: Logger) {
        self.folder = folder
        self.holder = holder
        self.interval = interval
        self.options = options
        self.logger = logger
        state = Mutex(State(
            status: PolicyReloadStatus(
                folder: folder, generation: 0, policyHash: nil, loadedAt: nil, warnings: [], failedReloads: 0,
                lastError: nil, lastErrorAt: nil, lastErrorHash: nil),
            triedHash: nil))
    }

    /// A copy of the current status.
    public var status: PolicyReloadStatus { state.withLock { $0.status } }

    /// Compiles the folder and puts the policy in force; throws the diagnostics when it does not
    /// compile (a service should not start without a policy).
    public func loadInitial() throws(PolicyCompileError) {
        let before = Self.fingerprint(folder: folder)
        let policy = try Policy.compile(paths: [folder], options: options)
        install(policy, hash: before, stable: before == Self.fingerprint(folder: folder))
    }

    /// Reads the folder once and reloads if it changed.
    @discardableResult
    public func checkOnce() -> PolicyReloadOutcome {
        let before = Self.fingerprint(folder: folder)
        if state.withLock({ $0.triedHash }) == before { return .unchanged }
        do {
            let policy = try Policy.compile(paths: [folder], options: options)
            // Files that changed while compiling are compiled again at the next tick.
            install(policy, hash: before, stable: before == Self.fingerprint(folder: folder))
            return .reloaded
        } catch {
            let lines = error.diagnostics.map(\.description)
            logger.error(
                "smi policy reload failed; the previous policy stays in force",
                metadata: ["folder": "\(folder)", "errors": "\(error.diagnostics.filter { $0.severity == .error }.count)"])
            for line in lines { logger.error("\(line)") }
            let stable = before == Self.fingerprint(folder: folder)
            state.withLock { s in
                s.triedHash = stable ? before : nil
                s.status.failedReloads += 1
                s.status.lastError = lines
                s.status.lastErrorAt = Date()
                s.status.lastErrorHash = Self.hex(before)
            }
            return .failed
        }
    }

    /// Polls until the service group shuts down (ServiceLifecycle's `Service`).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: self.interval)
                } catch {
                    return
                }
                self.checkOnce()
            }
        }
    }

    private func install(_ policy: Policy, hash: UInt64, stable: Bool) {
        holder.swap(policy)
        let warnings = policy.diagnostics.map(\.description)
        let generation = state.withLock { s in
            s.triedHash = stable ? hash : nil
            s.status.generation += 1
            s.status.policyHash = Self.hex(hash)
            s.status.loadedAt = Date()
            s.status.warnings = warnings
            s.status.lastError = nil
            s.status.lastErrorAt = nil
            s.status.lastErrorHash = nil
            return s.status.generation
        }
        logger.info(
            "smi policy loaded",
            metadata: ["folder": "\(folder)", "generation": "\(generation)", "hash": "\(Self.hex(hash))",
                       "warnings": "\(warnings.count)"])
        for line in warnings { logger.warning("\(line)") }
    }

    /// FNV-1a over every file under `folder`, or `folder` itself when it is a file (sorted relative
    /// path, size, contents); unreadable entries hash their path only, so their appearing or
    /// disappearing still counts.
    static func fingerprint(folder: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for b in bytes {
                hash ^= UInt64(b)
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        let manager = FileManager.default
        var root = URL(fileURLWithPath: folder).resolvingSymlinksInPath()
        var rootIsFolder: ObjCBool = false
        var paths: [String] = []
        if manager.fileExists(atPath: root.path, isDirectory: &rootIsFolder), rootIsFolder.boolValue {
            if let walker = manager.enumerator(atPath: root.path) {
                while let relative = walker.nextObject() as? String { paths.append(relative) }
            }
        } else {
            // A single policy file.
            paths = [root.lastPathComponent]
            root = root.deletingLastPathComponent()
        }
        for relative in paths.sorted() {
            mix(relative.utf8)
            mix([0])
            let url = root.appendingPathComponent(relative)
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue,
                let data = try? Data(contentsOf: url)
            else { continue }
            withUnsafeBytes(of: UInt64(data.count).littleEndian) { mix($0) }
            mix(data)
        }
        return hash
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
