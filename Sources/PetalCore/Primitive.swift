import CDNNL
import Foundation

/// A created oneDNN primitive with its descriptor, ready to execute from any thread (user
/// scratchpad mode, see DNNLThreadContext).
public final class Primitive: @unchecked Sendable {  // unchecked: immutable oneDNN handles, thread-safe to execute
    let handle: dnnl_primitive_t
    let descriptor: dnnl_primitive_desc_t
    /// The scratchpad this primitive needs per execution (zero bytes: none).
    private let scratchpadDesc: dnnl_memory_desc_t
    private let scratchpadBytes: Int

    /// Takes ownership of `descriptor`.
    init(descriptor: dnnl_primitive_desc_t) throws {
        var handle: dnnl_primitive_t?
        let status = dnnl_primitive_create(&handle, descriptor)
        guard status == dnnl_success, let handle else {
            dnnl_primitive_desc_destroy(descriptor)
            try check(status, "creating a primitive")
            throw DNNLError(operation: "creating a primitive", status: "no primitive returned")
        }
        self.handle = handle
        self.descriptor = descriptor
        if let md = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0) {
            var desc = md.pointee
            scratchpadDesc = desc
            scratchpadBytes = dnnl_memory_desc_get_size(&desc)
        } else {
            scratchpadDesc = dnnl_memory_desc_t()
            scratchpadBytes = 0
        }
        PrimitiveCache.shared.noteCreation()
    }

    deinit {
        dnnl_primitive_destroy(handle)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The layout the primitive expects for one of its arguments (e.g. DNNL_ARG_WEIGHTS).
    public func layout(of argument: Int32) -> TensorLayout {
        TensorLayout(argumentDesc(descriptor, argument))
    }

    /// The implementation oneDNN chose (e.g. "jit:avx2"), for benchmarks and checks.
    public var implementation: String {
        var name: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name)
        return name.map { String(cString: $0) } ?? "unknown"
    }

    /// Runs the primitive on the calling thread's stream and waits for it. Arguments are
    /// oneDNN's DNNL_ARG_* numbers. Safe to call from several threads at once, as long as no
    /// two calls write the same tensor.
    public func execute(_ arguments: [(Int32, Tensor)]) throws {
        let context = try DNNLThreadContext.current()
        // Memory objects are made per call (cheap wrappers over the tensors' storage), so
        // no oneDNN object but the immutable primitive is shared between threads.
        var memories: [dnnl_memory_t] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        var args: [dnnl_exec_arg_t] = []
        for (argument, tensor) in arguments {
            let memory = try tensor.makeMemory()
            memories.append(memory)
            args.append(dnnl_exec_arg_t(arg: argument, memory: memory))
        }
        if scratchpadBytes > 0 {
            var desc = scratchpadDesc
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &desc, try DNNL.engine(), try context.scratchpad(bytes: scratchpadBytes)),
                      "wrapping a scratchpad of \(scratchpadBytes) bytes")
            memories.append(memory!)
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memory))
        }
        let status = dnnl_primitive_execute(handle, context.stream, Int32(args.count), &args)
        if status != dnnl_success {
            let given = arguments.map { "\($0.0): \($0.1.layout) (expects \(layout(of: $0.0)))" }
            try check(status, "executing \(implementation) with \(given.joined(separator: "; "))")
        }
        // The CPU stream runs in order; waiting keeps Swift code after it safe to read results.
        try check(dnnl_stream_wait(context.stream), "waiting for the stream")
        withExtendedLifetime(arguments) {}
    }
}

func argumentDesc(_ pd: dnnl_primitive_desc_t, _ argument: Int32) -> dnnl_memory_desc_t {
    // Argument numbers are Petal's own constants, each asked of a primitive that has it: no
    // input reaches this failure.
    guard let md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, argument) else {
        preconditionFailure("oneDNN: primitive has no argument \(argument)")
    }
    return md.pointee
}

/// Primitives keyed by what they compute (kind, shapes, layouts, attributes), so that a
/// training step after the first creates none. Creation is counted for tests.
public final class PrimitiveCache: @unchecked Sendable {  // unchecked: state behind `lock`
    public static let shared = PrimitiveCache()
    private var entries: [PrimitiveKey: Primitive] = [:]
    private let lock = NSLock()
    private var created = 0

    /// How many primitives have been created since the process started.
    public var creations: Int { lock.withLock { created } }

    func noteCreation() { lock.withLock { created += 1 } }

    func primitive(_ key: PrimitiveKey, create: () throws -> Primitive) rethrows -> Primitive {
        if let hit = lock.withLock({ entries[key] }) { return hit }
        let made = try create()
        lock.withLock { entries[key] = made }
        return made
    }
}

/// A hashable description of a primitive: its kind plus its layouts and numbers.
struct PrimitiveKey: Hashable {
    var kind: String
    var layouts: [[UInt8]]
    var numbers: [Double]

    init(_ kind: String, _ layouts: [TensorLayout], _ numbers: [Double] = []) {
        self.kind = kind
        self.layouts = layouts.map(\.key)
        self.numbers = numbers
    }
}

/// Layout conversions between any two layouts of the same shape.
enum Reorder {
    static func run(from source: Tensor, to destination: Tensor) throws {
        let key = PrimitiveKey("reorder", [source.layout, destination.layout])
        let primitive = try PrimitiveCache.shared.primitive(key) {
            var pd: dnnl_primitive_desc_t?
            var src = source.layout.desc, dst = destination.layout.desc
            let engine = try DNNL.engine()
            let attributes = try PrimitiveAttributes()
            try check(dnnl_reorder_primitive_desc_create(&pd, &src, engine, &dst, engine, attributes.handle),
                      "describing a reorder \(source.layout) -> \(destination.layout)")
            return try Primitive(descriptor: pd!)
        }
        try primitive.execute([(DNNL_ARG_FROM, source), (DNNL_ARG_TO, destination)])
    }
}
