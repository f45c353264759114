#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs independent jobs on several threads and hands their results back in job order on the
/// calling thread, so whatever the results feed (the load session) sees exactly the sequence a
/// single thread would give.
///
/// Plain pthreads (a mutex and a condition variable): the library imports no Foundation and no
/// Dispatch, and ThreadSanitizer intercepts these calls. The calling thread works too: while the
/// next result in order is not ready and jobs are left, it takes the next job itself. Helper
/// threads stop taking jobs once they are `window` jobs ahead of the consumer, which bounds how
/// many results (parsed documents) are held at once.
///
/// It lives in SMIModel, the module every stage depends on, for the loader (one job per input)
/// and the compiler (one job per slice of TrafficTargets); it is not API (`package`).
package enum OrderedWork {
    /// How many threads to use when `requested` is 0: one per online processor, at most 8.
    package static func automaticThreadCount() -> Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return online < 1 ? 1 : min(Int(online), 8)
    }

    /// Calls `work(i)` for every `i` in `0..<count`, on up to `threads` threads, and `consume`
    /// with each result in order of `i`, on the calling thread. With one thread (or one job) no
    /// thread is started. Returns how many threads took part.
    @discardableResult
    package static func run<Result: Sendable>(
        count: Int,
        threads: Int,
        work: @escaping @Sendable (Int) -> Result,
        consume: (Result) -> Void
    ) -> Int {
        let threadCount = max(1, min(threads, count))
        if threadCount == 1 {
            for i in 0..<count { consume(work(i)) }
            return 1
        }
        let state = State<Result>(count: count, window: 4 * threadCount, work: work)
        var helpers: [pthread_t] = []
        for _ in 1..<threadCount {
            let context = Unmanaged.passRetained(state).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(
                &thread, nil,
                { context in
                    guard let context else { return nil }
                    let state = Unmanaged<AnyObject>.fromOpaque(context).takeRetainedValue()
                    (state as? Helper)?.helpLoop()
                    return nil
                }, context)
            if started == 0 {
                helpers.append(thread)
            } else {
                // No thread: fewer helpers; the calling thread still does every job that is left.
                Unmanaged<State<Result>>.fromOpaque(context).release()
            }
        }
        for i in 0..<count {
            consume(state.result(i))
        }
        for thread in helpers {
            pthread_join(thread, nil)
        }
        return helpers.count + 1
    }

    /// What a helper thread runs (the state's type without its generic parameter).
    private protocol Helper: AnyObject {
        func helpLoop()
    }

    /// The jobs, their results, and the lock that guards both.
    private final class State<Result: Sendable>: Helper, @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        private let changed: UnsafeMutablePointer<pthread_cond_t>
        private let count: Int
        private let window: Int
        private let work: @Sendable (Int) -> Result
        // Guarded by `mutex`.
        private var slots: [Result?]
        private var nextJob = 0
        private var consumed = 0

        init(count: Int, window: Int, work: @escaping @Sendable (Int) -> Result) {
            self.count = count
            self.window = window
            self.work = work
            slots = Array(repeating: nil, count: count)
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
            changed = .allocate(capacity: 1)
            changed.initialize(to: pthread_cond_t())
            pthread_cond_init(changed, nil)
        }

        deinit {
            pthread_cond_destroy(changed)
            pthread_mutex_destroy(mutex)
            changed.deallocate()
            mutex.deallocate()
        }

        /// Runs job `job` without the lock and stores its result. Called with the lock held.
        private func runLocked(_ job: Int) {
            pthread_mutex_unlock(mutex)
            let result = work(job)
            pthread_mutex_lock(mutex)
            slots[job] = result
            pthread_cond_broadcast(changed)
        }

        func helpLoop() {
            pthread_mutex_lock(mutex)
            while true {
                while nextJob < count && nextJob - consumed >= window {
                    pthread_cond_wait(changed, mutex)
                }
                guard nextJob < count else { break }
                let job = nextJob
                nextJob += 1
                runLocked(job)
            }
            pthread_mutex_unlock(mutex)
        }

        /// Result `i`, taken out of its slot; the calling thread works on later jobs while it waits.
        func result(_ i: Int) -> Result {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            while true {
                if let result = slots[i] {
                    slots[i] = nil
                    consumed = i + 1
                    pthread_cond_broadcast(changed)
                    return result
                }
                if nextJob < count {
                    let job = nextJob
                    nextJob += 1
                    runLocked(job)
                } else {
                    pthread_cond_wait(changed, mutex)
                }
            }
        }
    }
}
