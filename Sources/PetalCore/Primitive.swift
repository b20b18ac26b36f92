import CDNNL
import Foundation

/// A created oneDNN primitive with its descriptor, ready to execute.
public final class Primitive: @unchecked Sendable {  // unchecked: immutable oneDNN handles
    let handle: dnnl_primitive_t
    let descriptor: dnnl_primitive_desc_t

    /// Takes ownership of `descriptor`.
    init(descriptor: dnnl_primitive_desc_t) {
        var handle: dnnl_primitive_t?
        check(dnnl_primitive_create(&handle, descriptor), "creating a primitive")
        self.handle = handle!
        self.descriptor = descriptor
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

    /// Runs the primitive on the stream. Arguments are oneDNN's DNNL_ARG_* numbers.
    public func execute(_ arguments: [(Int32, Tensor)]) {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.memory) }
        let status = dnnl_primitive_execute(handle, DNNL.stream, Int32(args.count), &args)
        if status != dnnl_success {
            let given = arguments.map { "\($0.0): \($0.1.layout) (expects \(layout(of: $0.0)))" }
            check(status, "executing \(implementation) with \(given.joined(separator: "; "))")
        }
        // The CPU stream runs in order; waiting keeps Swift code after it safe to read results.
        DNNL.wait()
    }
}

func argumentDesc(_ pd: dnnl_primitive_desc_t, _ argument: Int32) -> dnnl_memory_desc_t {
    guard let md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, argument) else {
        fatalError("oneDNN: primitive has no argument \(argument)")
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

    func primitive(_ key: PrimitiveKey, create: () -> Primitive) -> Primitive {
        if let hit = lock.withLock({ entries[key] }) { return hit }
        let made = create()
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
    static func run(from source: Tensor, to destination: Tensor) {
        let key = PrimitiveKey("reorder", [source.layout, destination.layout])
        let primitive = PrimitiveCache.shared.primitive(key) {
            var pd: dnnl_primitive_desc_t?
            var src = source.layout.desc, dst = destination.layout.desc
            check(dnnl_reorder_primitive_desc_create(&pd, &src, DNNL.engine, &dst, DNNL.engine, nil),
                  "describing a reorder \(source.layout) -> \(destination.layout)")
            return Primitive(descriptor: pd!)
        }
        primitive.execute([(DNNL_ARG_FROM, source), (DNNL_ARG_TO, destination)])
    }
}
