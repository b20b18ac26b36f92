import CDNNL
import Foundation

/// Shared plumbing for the typed kernels (DNNLConvolution.swift and friends): creating
/// primitive descriptors from operation descriptors, with attributes and hints.

/// A post-operation fused into the primitive before it (oneDNN's eltwise post-op), and the
/// function of the Activation layer.
public enum FusedActivation: String, Hashable, Sendable, Codable {
    case relu, relu6
    /// torchvision's Hardswish, x * relu6(x + 3) / 6 (oneDNN's hardswish).
    case hardSwish = "hardswish"
    /// torchvision's Hardsigmoid, relu6(x + 3) / 6: oneDNN 2.6 has no such algorithm, so it is
    /// two steps, linear x / 6 + 1/2 then clip_v2 to [0, 1] (whose backward, like PyTorch's,
    /// passes the gradient only for -3 < x < 3).
    case hardSigmoid = "hardsigmoid"

    /// ReLU6 is clip_v2, not clip: clip's backward passes the gradient at exactly 6
    /// (alpha < x <= beta); clip_v2's, like TensorFlow's Relu6Grad, only for 0 < x < 6.
    var steps: [EltwiseStep] {
        switch self {
        case .relu: return [EltwiseStep(algorithm: dnnl_eltwise_relu, alpha: 0, beta: 0)]
        case .relu6: return [EltwiseStep(algorithm: dnnl_eltwise_clip_v2, alpha: 0, beta: 6)]
        case .hardSwish: return [EltwiseStep(algorithm: dnnl_eltwise_hardswish, alpha: 0, beta: 0)]
        case .hardSigmoid:
            return [EltwiseStep(algorithm: dnnl_eltwise_linear, alpha: 1 / 6, beta: 0.5),
                    EltwiseStep(algorithm: dnnl_eltwise_clip_v2, alpha: 0, beta: 1)]
        }
    }
}

/// One oneDNN eltwise operation: algorithm and its two parameters.
struct EltwiseStep {
    var algorithm: dnnl_alg_kind_t
    var alpha: Float
    var beta: Float
}

/// oneDNN dims arrays are fixed-size (DNNL_MAX_NDIMS); unused entries are ignored.
@inline(__always)
func dims(_ values: [Int]) -> [Int64] {
    values.map(Int64.init) + Array(repeating: 0, count: max(0, Int(DNNL_MAX_NDIMS) - values.count))
}

/// Creates a primitive from an initialised operation descriptor (pointer to a
/// dnnl_*_desc_t), or nil if oneDNN has no implementation for it.
func makePrimitive(_ opDesc: UnsafeRawPointer, activation: FusedActivation? = nil,
                   hint: Primitive? = nil) throws -> Primitive? {
    let attributes = try PrimitiveAttributes()
    let attr = attributes.handle
    if let activation {
        var postOps: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&postOps), "creating post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        for step in activation.steps {
            try check(dnnl_post_ops_append_eltwise(postOps, 1, step.algorithm, step.alpha, step.beta),
                      "appending \(activation)")
        }
        try check(dnnl_primitive_attr_set_post_ops(attr, postOps), "setting post-ops")
    }
    var pd: dnnl_primitive_desc_t?
    let status = dnnl_primitive_desc_create(&pd, opDesc, attr, try DNNL.engine(), hint?.descriptor)
    withExtendedLifetime(attributes) {}
    guard status == dnnl_success, let pd else { return nil }
    return try Primitive(descriptor: pd)
}

/// Primitive attributes with the user scratchpad mode every Petal primitive uses (so that it
/// can run on several threads at once, see DNNLThreadContext); destroyed with the object.
final class PrimitiveAttributes {
    let handle: dnnl_primitive_attr_t

    init() throws {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "creating attributes")
        handle = attr!
        try check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}

/// The primitive, or a `DNNLError` saying oneDNN has no implementation for `what`.
func required(_ primitive: Primitive?, _ what: @autoclosure () -> String) throws -> Primitive {
    guard let primitive else { throw DNNLError(operation: "creating \(what())", status: "no implementation") }
    return primitive
}

/// A primitive made on first use (the backward passes), once, by whichever thread asks first.
final class LazyPrimitive: @unchecked Sendable {  // unchecked: `primitive` behind `lock`
    private let lock = NSLock()
    private var primitive: Primitive?

    func get(_ make: () throws -> Primitive) throws -> Primitive {
        try lock.withLock {
            if let primitive { return primitive }
            let made = try make()
            primitive = made
            return made
        }
    }
}

extension Primitive {
    /// Runs with the given arguments, first converting any tensor whose layout differs
    /// from the one the primitive expects (into buffers borrowed from `scratch`).
    func run(_ arguments: [(Int32, Tensor)], scratch: ReorderScratch) throws {
        var borrowed: [(slot: Int32, tensor: Tensor)] = []
        defer { for b in borrowed { scratch.giveBack(b.tensor, slot: b.slot) } }
        var ready: [(Int32, Tensor)] = []
        for (arg, tensor) in arguments {
            let wanted = layout(of: arg)
            if tensor.layout == wanted {
                ready.append((arg, tensor))
                continue
            }
            let buffer = try scratch.borrow(wanted, slot: arg)
            borrowed.append((arg, buffer))
            try Reorder.run(from: tensor, to: buffer)
            ready.append((arg, buffer))
        }
        try execute(ready)
    }
}

/// Temporary tensors of a kernel (layout conversions of its inputs, gradients in its own
/// layout), reused from call to call. Kernels are shared (KernelCache) by layers, models and
/// threads, so a buffer is lent to one call at a time: calls that overlap get their own.
final class ReorderScratch: @unchecked Sendable {  // unchecked: `free` behind `lock`
    private let lock = NSLock()
    /// Buffers not lent out, by slot (an argument number), all of one layout.
    private var free: [Int32: [Tensor]] = [:]
    /// Buffers kept per slot: enough for a few threads at once.
    private static let kept = 4

    /// A buffer of `layout` for `slot` (contents undefined); give it back after the call.
    func borrow(_ layout: TensorLayout, slot: Int32) throws -> Tensor {
        let reused = lock.withLock { () -> Tensor? in
            guard let i = free[slot]?.lastIndex(where: { $0.layout == layout }) else { return nil }
            return free[slot]?.remove(at: i)
        }
        return try reused ?? Tensor(layout: layout)
    }

    func giveBack(_ tensor: Tensor, slot: Int32) {
        lock.withLock {
            // Keep only the latest layout (batch sizes change rarely), a few buffers of it.
            var list = free[slot, default: []].filter { $0.layout == tensor.layout }
            if list.count < Self.kept { list.append(tensor) }
            free[slot] = list
        }
    }
}

/// A tensor that a layer writes, reused between calls as long as the layout fits: the
/// training path's state (see Layer), used by one thread at a time.
public final class OutputSlot: @unchecked Sendable {  // unchecked: used by one thread at a time (training)
    private var tensor: Tensor?

    public init() {}

    public func tensor(_ layout: TensorLayout) throws -> Tensor {
        if let tensor, tensor.layout == layout { return tensor }
        let made = try Tensor(layout: layout)
        tensor = made
        return made
    }
}
