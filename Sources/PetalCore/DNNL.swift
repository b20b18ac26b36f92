import CDNNL
import Foundation

/// The process-wide oneDNN CPU engine (streams are per thread, see DNNLThreadContext).
/// Every oneDNN call in Petal lives in PetalCore's bridge files (DNNL*.swift,
/// TensorLayout.swift): oneDNN 3 changed the descriptor API, and a port must touch this
/// folder only.
public enum DNNL {
    // oneDNN engines are thread-safe (primitives are created on one engine from any thread).
    nonisolated(unsafe) private static let engineResult: Result<dnnl_engine_t, any Error> = Result {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }

    /// The CPU engine, created once.
    static func engine() throws -> dnnl_engine_t { try engineResult.get() }


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
        _ = try? engine()  // make sure libdnnl (and with it libgomp) is loaded
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, name) else { return nil }
        return unsafeBitCast(sym, to: T.self)
    }

    /// Runs `body` with oneDNN using one thread (on this thread only: OpenMP's thread count
    /// is per calling thread). For small work such as re-laying out a layer's weights after
    /// an optimizer step, where waking the OpenMP team costs more than the work itself (up to
    /// milliseconds when other processes keep the cores busy).
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        guard let set = ompSetNumThreads, let get = ompGetMaxThreads else { return try body() }
        let previous = get()
        set(1)
        defer { set(previous) }
        return try body()
    }

    /// Waits until every primitive this thread submitted has finished (each execution
    /// already waits; streams are per thread, see DNNLThreadContext).
    public static func wait() throws {
        try check(dnnl_stream_wait(try DNNLThreadContext.current().stream), "waiting for the stream")
    }
}
