#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a pthread mutex, for the few places that lock: policy swaps, scratch
/// registration and the C holder's last handle (never a decision).
///
/// `Synchronization.Mutex` would do the same job, but on Linux it is built on futexes inside the
/// uninstrumented Synchronization library, so ThreadSanitizer cannot see it and reports the
/// accesses it guards as races (`swift test --sanitize=thread`). ThreadSanitizer intercepts
/// `pthread_mutex_lock`, so with this lock a sanitizer run checks the real synchronization.
package final class LockedValue<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock.
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
