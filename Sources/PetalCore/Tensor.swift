import CDNNL
import Foundation

/// An n-dimensional array over 64-byte-aligned storage, with a shape, a data type and a
/// layout (plain or one of oneDNN's blocked layouts).
///
/// A tensor is a reference: layers write their outputs into tensors they own and reuse
/// from step to step. `toArray()` and `rowMajor()` give plain copies whatever the layout.
// unchecked: shared storage by design; a tensor is written by one thread at a time (its layer's caller).
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let layout: TensorLayout
    public let storage: AlignedBuffer
    private var memoryHandle: dnnl_memory_t?

    /// A zero-filled tensor.
    public init(layout: TensorLayout) {
        self.layout = layout
        self.storage = AlignedBuffer(byteCount: layout.byteCount)
    }

    /// A tensor over existing storage (a view: both share the same bytes).
    public init(layout: TensorLayout, sharing storage: AlignedBuffer) {
        precondition(storage.byteCount >= layout.byteCount, "Tensor: storage too small for \(layout)")
        self.layout = layout
        self.storage = storage
    }

    /// The same row-major values seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(layout.isRowMajor && newShape.reduce(1, *) == count,
                     "Tensor: cannot reshape \(layout) to \(newShape)")
        return Tensor(layout: .rowMajor(newShape, dataType), sharing: storage)
    }

    /// A zero-filled row-major tensor.
    public convenience init(zeros shape: [Int], dataType: DataType = .float32) {
        self.init(layout: .rowMajor(shape, dataType))
    }

    /// A row-major Float32 tensor holding `values` in row-major order.
    public convenience init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "Tensor: \(values.count) values do not fill shape \(shape)")
        self.init(layout: .rowMajor(shape))
        values.withUnsafeBufferPointer { src in
            storage.pointer.copyMemory(from: src.baseAddress!, byteCount: values.count * 4)
        }
    }

    /// A Float32 tensor with the given layout filled with `value`.
    public convenience init(layout: TensorLayout, repeating value: Float) {
        self.init(layout: layout)
        floats.initialize(repeating: value)
    }

    deinit { if let memoryHandle { dnnl_memory_destroy(memoryHandle) } }

    public var shape: [Int] { layout.shape }
    public var dataType: DataType { layout.dataType }
    /// Logical element count (the product of the shape).
    public var count: Int { shape.reduce(1, *) }

    /// The storage as Float32, in physical order (padding of blocked layouts included).
    /// For a row-major tensor this is the logical row-major order. The pointer is valid
    /// while the tensor lives: keep it (withExtendedLifetime) when it is a temporary.
    public var floats: UnsafeMutableBufferPointer<Float> {
        precondition(dataType == .float32, "Tensor: \(dataType) storage read as Float32")
        return UnsafeMutableBufferPointer(start: storage.pointer.assumingMemoryBound(to: Float.self),
                                          count: layout.byteCount / 4)
    }

    /// The storage as bytes, in physical order.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage.pointer, count: layout.byteCount)
    }

    /// The values in logical row-major order.
    public func toArray() -> [Float] {
        let plain = rowMajor()
        return withExtendedLifetime(plain) { Array(plain.floats) }
    }

    /// This tensor in row-major layout (itself when it already is).
    public func rowMajor() -> Tensor {
        layout.isRowMajor ? self : reordered(to: .rowMajor(shape, dataType))
    }

    /// A copy in another layout of the same shape, through a cached oneDNN reorder.
    public func reordered(to target: TensorLayout) -> Tensor {
        if target == layout { return self }
        let out = Tensor(layout: target)
        Reorder.run(from: self, to: out)
        return out
    }

    /// Copies another tensor's values into this one, converting the layout if needed.
    public func assign(_ other: Tensor) {
        precondition(other.shape == shape, "Tensor: cannot assign shape \(other.shape) to \(shape)")
        if other === self || other.storage === storage { return }
        if other.layout == layout {
            storage.pointer.copyMemory(from: other.storage.pointer, byteCount: layout.byteCount)
        } else {
            Reorder.run(from: other, to: self)
        }
    }

    /// The oneDNN memory object over this tensor's storage, made once.
    var memory: dnnl_memory_t {
        if let memoryHandle { return memoryHandle }
        var handle: dnnl_memory_t?
        var desc = layout.desc
        check(dnnl_memory_create(&handle, &desc, DNNL.engine, storage.pointer), "wrapping a tensor")
        memoryHandle = handle
        return handle!
    }

    public var description: String { "Tensor(\(layout))" }
}
