import CDNNL

/// Shared plumbing for the typed kernels (DNNLConvolution.swift and friends): creating
/// primitive descriptors from operation descriptors, with attributes and hints.

/// A post-operation fused into the primitive before it (oneDNN's eltwise post-op).
public enum FusedActivation: String, Hashable, Sendable, Codable {
    case relu, relu6

    /// ReLU6 is clip_v2, not clip: clip's backward passes the gradient at exactly 6
    /// (alpha < x <= beta); clip_v2's, like TensorFlow's Relu6Grad, only for 0 < x < 6.
    var algorithm: dnnl_alg_kind_t { self == .relu ? dnnl_eltwise_relu : dnnl_eltwise_clip_v2 }
    var alpha: Float { 0 }
    var beta: Float { self == .relu ? 0 : 6 }
}

/// oneDNN dims arrays are fixed-size (DNNL_MAX_NDIMS); unused entries are ignored.
@inline(__always)
func dims(_ values: [Int]) -> [Int64] {
    values.map(Int64.init) + Array(repeating: 0, count: max(0, Int(DNNL_MAX_NDIMS) - values.count))
}

/// Creates a primitive from an initialised operation descriptor (pointer to a
/// dnnl_*_desc_t), or nil if oneDNN has no implementation for it.
func makePrimitive(_ opDesc: UnsafeRawPointer, activation: FusedActivation? = nil,
                   hint: Primitive? = nil) -> Primitive? {
    var attr: dnnl_primitive_attr_t?
    check(dnnl_primitive_attr_create(&attr), "creating attributes")
    defer { dnnl_primitive_attr_destroy(attr) }
    if let activation {
        var postOps: dnnl_post_ops_t?
        check(dnnl_post_ops_create(&postOps), "creating post-ops")
        check(dnnl_post_ops_append_eltwise(postOps, 1, activation.algorithm, activation.alpha, activation.beta),
              "appending \(activation)")
        check(dnnl_primitive_attr_set_post_ops(attr, postOps), "setting post-ops")
        dnnl_post_ops_destroy(postOps)
    }
    var pd: dnnl_primitive_desc_t?
    let status = dnnl_primitive_desc_create(&pd, opDesc, attr, DNNL.engine, hint?.descriptor)
    guard status == dnnl_success, let pd else { return nil }
    return Primitive(descriptor: pd)
}

extension Primitive {
    /// Runs with the given arguments, first converting any tensor whose layout differs
    /// from the one the primitive expects (in `scratch`, reused from call to call).
    func run(_ arguments: [(Int32, Tensor)], scratch: ReorderScratch) {
        let ready = arguments.map { (arg, tensor) -> (Int32, Tensor) in
            let wanted = layout(of: arg)
            return (arg, tensor.layout == wanted ? tensor : scratch.converted(tensor, to: wanted, slot: arg))
        }
        execute(ready)
    }
}

/// Buffers for layout conversions of inputs, kept by a kernel and reused every step.
final class ReorderScratch: @unchecked Sendable {  // unchecked: its scratch buffers are used by one thread at a time
    private var buffers: [Int32: Tensor] = [:]

    func converted(_ tensor: Tensor, to layout: TensorLayout, slot: Int32) -> Tensor {
        let buffer: Tensor
        if let existing = buffers[slot], existing.layout == layout {
            buffer = existing
        } else {
            buffer = Tensor(layout: layout)
            buffers[slot] = buffer
        }
        Reorder.run(from: tensor, to: buffer)
        return buffer
    }
}

/// A tensor that a kernel or layer writes, reused between calls as long as the layout fits.
public final class OutputSlot: @unchecked Sendable {  // unchecked: its scratch buffers are used by one thread at a time
    private var tensor: Tensor?

    public init() {}

    public func tensor(_ layout: TensorLayout) -> Tensor {
        if let tensor, tensor.layout == layout { return tensor }
        let made = Tensor(layout: layout)
        tensor = made
        return made
    }
}
