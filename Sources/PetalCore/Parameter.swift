/// A trainable tensor with its gradient, bound by name (Keras's or PyTorch's, as the
/// model was built).
///
/// `value` and `gradient` always share one layout (possibly a oneDNN blocked one), so that
/// optimizers, which are elementwise, update the raw storage directly with no reorder.
public final class Parameter: @unchecked Sendable {  // unchecked: changed only by loading and training, one thread
    public let name: String
    public private(set) var value: Tensor
    /// Filled by the backward pass of a trainable layer; nil until then.
    public private(set) var gradient: Tensor?
    /// False freezes the parameter: no gradient is computed and optimizers skip it.
    public var trainable: Bool = true
    /// Bumped on every change of `value`, so derived copies (folded or reordered weights)
    /// know when to refresh.
    public private(set) var version = 0

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
    }

    public var shape: [Int] { value.shape }
    public var layout: TensorLayout { value.layout }

    /// Moves the value to another layout (e.g. the one a convolution prefers).
    /// Done once, before training; any gradient is dropped.
    public func adopt(layout target: TensorLayout) throws {
        guard target != value.layout else { return }
        value = try value.reordered(to: target)
        gradient = nil
        version += 1
    }

    /// Replaces the values (same shape, any layout), e.g. when loading weights.
    public func load(_ values: Tensor) throws {
        try value.assign(values)
        version += 1
    }

    /// The gradient tensor, created zeroed in the value's layout on first use.
    public func gradientBuffer() throws -> Tensor {
        if let gradient { return gradient }
        let made = try Tensor(layout: value.layout)
        gradient = made
        return made
    }

    /// Call after writing `value.floats` in place (optimizers do).
    public func markUpdated() { version += 1 }
}
