import CDNNL
import Foundation

/// The process-wide oneDNN CPU engine and stream. Every oneDNN call in Petal lives in
/// PetalCore's bridge files (DNNL*.swift, TensorLayout.swift): oneDNN 3 changed the
/// descriptor API, and a port must touch this folder only.
public enum DNNL {
    // oneDNN engines are thread-safe (primitives are created on one engine from any thread).
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    // Shared; callers serialise their forward passes (a stream per thread comes with concurrent inference).
    nonisolated(unsafe) static let stream: dnnl_stream_t = {
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        return stream!
    }()

    /// The threads oneDNN's OpenMP runtime uses for its kernels.
    /// Defaults to OMP_NUM_THREADS or the number of cores.
    public static var threads: Int {
        get { ompGetMaxThreads.map { Int($0()) } ?? ProcessInfo.processInfo.activeProcessorCount }
        set { ompSetNumThreads?(Int32(max(1, newValue))) }
    }

    /// oneDNN's own version, for reports and benchmarks.
    public static var version: String {
        guard let v = dnnl_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
    }

    /// The instruction set oneDNN's kernels use on this CPU (what it detected, or what
    /// ONEDNN_MAX_CPU_ISA limits it to), e.g. "avx512_core_bf16" or "avx2".
    public static var isa: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: return "sse41"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case let other: return "isa 0x\(String(other.rawValue, radix: 16))"
        }
    }

    /// Whether oneDNN computes bf16 natively here (AVX512_BF16 or AMX).
    public static var hasNativeBF16: Bool {
        let isa = dnnl_get_effective_cpu_isa()
        return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx
    }

    // libdnnl is linked against the OpenMP runtime, so its symbols are in the process;
    // looking them up avoids linking libgomp by a compiler-specific path.
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private typealias GetThreads = @convention(c) () -> Int32
    private static let ompSetNumThreads: SetThreads? = symbol("omp_set_num_threads")
    private static let ompGetMaxThreads: GetThreads? = symbol("omp_get_max_threads")

    private static func symbol<T>(_ name: String) -> T? {
        _ = engine  // make sure libdnnl (and with it libgomp) is loaded
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, name) else { return nil }
        return unsafeBitCast(sym, to: T.self)
    }

    /// Runs `body` with oneDNN using one thread (on this thread only: OpenMP's thread count
    /// is per calling thread). For small work such as re-laying out a layer's weights after
    /// an optimizer step, where waking the OpenMP team costs more than the work itself (up to
    /// milliseconds when other processes keep the cores busy).
    public static func singleThreaded<T>(_ body: () -> T) -> T {
        guard let set = ompSetNumThreads, let get = ompGetMaxThreads else { return body() }
        let previous = get()
        set(1)
        defer { set(previous) }
        return body()
    }

    /// Waits until every primitive submitted to the stream has finished.
    public static func wait() {
        check(dnnl_stream_wait(stream), "waiting for the stream")
    }
}

/// A failed oneDNN call is a programming error in Petal (bad shapes are checked before),
/// so it stops with the status and what was being done.
@inline(__always)
func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    if status != dnnl_success {
        fatalError("oneDNN failed \(what()): \(describe(status))")
    }
}

func describe(_ status: dnnl_status_t) -> String {
    switch status {
    case dnnl_out_of_memory: return "out of memory"
    case dnnl_invalid_arguments: return "invalid arguments"
    case dnnl_unimplemented: return "unimplemented"
    case dnnl_iterator_ends: return "iterator ends"
    case dnnl_runtime_error: return "runtime error"
    case dnnl_not_required: return "not required"
    default: return "status \(status.rawValue)"
    }
}
