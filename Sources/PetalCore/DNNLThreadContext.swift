import CDNNL
import Foundation

/// What oneDNN needs per calling thread so that several threads can run primitives at once:
/// its own stream, and the scratchpad memory of the primitive it runs.
///
/// oneDNN's rules (dnnl_scratchpad_mode_t): with the library-managed scratchpad, as Debian's
/// build has it (DNNL_ENABLE_CONCURRENT_EXEC off), a primitive must run on the thread that
/// created it; in user scratchpad mode, which Petal's primitives use, executing is
/// thread-safe as long as no two executions share a scratchpad buffer. A thread runs one
/// primitive at a time (execution waits for the stream), so one buffer per thread suffices;
/// the stream is per thread too, so no stream is shared between threads.
final class DNNLThreadContext {
    let stream: dnnl_stream_t
    private var scratchpad: AlignedBuffer?

    private init() throws {
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, try DNNL.engine(), dnnl_stream_default_flags.rawValue), "creating a stream")
        self.stream = stream!
    }

    deinit { dnnl_stream_destroy(stream) }

    /// At least `bytes` of scratchpad, reused by this thread's next executions.
    func scratchpad(bytes: Int) throws -> UnsafeMutableRawPointer {
        if let scratchpad, scratchpad.byteCount >= bytes { return scratchpad.pointer }
        let made = try AlignedBuffer(byteCount: bytes)
        scratchpad = made
        return made.pointer
    }

    /// The calling thread's context, made on its first primitive and released when it ends.
    static func current() throws -> DNNLThreadContext {
        if let raw = pthread_getspecific(threadContextKey) {
            return Unmanaged<DNNLThreadContext>.fromOpaque(raw).takeUnretainedValue()
        }
        let made = try DNNLThreadContext()
        pthread_setspecific(threadContextKey, Unmanaged.passRetained(made).toOpaque())
        return made
    }
}

/// The thread-specific slot of `DNNLThreadContext`; its destructor releases a thread's context.
private let threadContextKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        if let raw { Unmanaged<DNNLThreadContext>.fromOpaque(raw).release() }
    }
    // Fails only when the process has used up its thread-specific keys (1024), at start-up.
    precondition(status == 0, "Petal: cannot create a thread-specific key (\(status))")
    return key
}()
