import CDNNL
import Foundation

/// An n-dimensional array over 64-byte-aligned storage, with a shape, a data type and a
/// layout (plain or one of oneDNN's blocked layouts).
///
/// A tensor is a reference: layers write their outputs into tensors they own and reuse
/// from step to step. `toArray()` and `rowMajor()` give plain copies whatever the layout.
// unchecked: immutable but for its storage's bytes, which one thread at a time writes (its layer's caller).
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let layout: TensorLayout
    public let storage: AlignedBuffer

    /// A zero-filled tensor. Throws `TensorError` when its size overflows or the memory
    /// cannot be allocated (e.g. a huge image size), naming the shape and the bytes.
    public init(layout: TensorLayout) throws {
        self.layout = layout
        self.storage = try AlignedBuffer(byteCount: try layout.checkedByteCount(), shape: layout.shape)
    }

    /// Throws the `TensorError` that allocating a tensor of `layout` would certainly throw
    /// (its size overflows or exceeds the machine's memory), without allocating it.
    public static func checkAllocatable(_ layout: TensorLayout) throws {
        try AlignedBuffer.checkAllocatable(byteCount: try layout.checkedByteCount(), shape: layout.shape)
    }

    /// A tensor over existing storage (a view: both share the same bytes).
    public init(layout: TensorLayout, sharing storage: AlignedBuffer) throws {
        guard storage.byteCount >= layout.byteCount else {
            throw TensorError.allocationFailed(shape: layout.shape, bytes: layout.byteCount,
                                               reason: "a view over only \(storage.byteCount) bytes")
        }
        self.layout = layout
        self.storage = storage
    }

    /// The same row-major values seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard layout.isRowMajor, newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == count else {
            throw TensorError.shapeMismatch(operation: "reshaping a \(layout) tensor", expected: shape, found: newShape)
        }
        return try Tensor(layout: .rowMajor(newShape, dataType), sharing: storage)
    }

    /// A zero-filled row-major tensor.
    public convenience init(zeros shape: [Int], dataType: DataType = .float32) throws {
        try self.init(layout: .rowMajor(shape, dataType))
    }

    /// A row-major Float32 tensor holding `values` in row-major order.
    public convenience init(shape: [Int], values: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw TensorError.shapeMismatch(operation: "filling a tensor with \(values.count) values",
                                            expected: shape, found: [values.count])
        }
        try self.init(layout: .rowMajor(shape))
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.copyMemory(from: base, byteCount: values.count * 4) }
        }
    }

    /// A Float32 tensor with the given layout filled with `value`.
    public convenience init(layout: TensorLayout, repeating value: Float) throws {
        try self.init(layout: layout)
        floats.initialize(repeating: value)
    }

    public var shape: [Int] { layout.shape }
    public var dataType: DataType { layout.dataType }
    /// Logical element count (the product of the shape).
    public var count: Int { shape.reduce(1, *) }

    /// The storage as Float32, in physical order (padding of blocked layouts included).
    /// For a row-major tensor this is the logical row-major order. The pointer is valid
    /// while the tensor lives: keep it (withExtendedLifetime) when it is a temporary.
    public var floats: UnsafeMutableBufferPointer<Float> {
        // Petal's code chooses every data type (files are read as Float32): no input reaches this.
        precondition(dataType == .float32, "Tensor: \(dataType) storage read as Float32")
        return UnsafeMutableBufferPointer(start: storage.pointer.assumingMemoryBound(to: Float.self),
                                          count: layout.byteCount / 4)
    }

    /// The storage as bytes, in physical order.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage.pointer, count: layout.byteCount)
    }

    /// The values in logical row-major order.
    public func toArray() throws -> [Float] {
        let plain = try rowMajor()
        return withExtendedLifetime(plain) { Array(plain.floats) }
    }

    /// This tensor in row-major layout (itself when it already is).
    public func rowMajor() throws -> Tensor {
        layout.isRowMajor ? self : try reordered(to: .rowMajor(shape, dataType))
    }

    /// A copy in another layout of the same shape, through a cached oneDNN reorder.
    public func reordered(to target: TensorLayout) throws -> Tensor {
        if target == layout { return self }
        let out = try Tensor(layout: target)
        try Reorder.run(from: self, to: out)
        return out
    }

    /// Copies another tensor's values into this one, converting the layout if needed.
    public func assign(_ other: Tensor) throws {
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(operation: "copying values", expected: shape, found: other.shape)
        }
        if other === self || other.storage === storage { return }
        if other.layout == layout {
            storage.pointer.copyMemory(from: other.storage.pointer, byteCount: layout.byteCount)
        } else {
            try Reorder.run(from: other, to: self)
        }
    }

    /// A new oneDNN memory object over this tensor's storage; the caller destroys it.
    func makeMemory() throws -> dnnl_memory_t {
        var handle: dnnl_memory_t?
        var desc = layout.desc
        try check(dnnl_memory_create(&handle, &desc, try DNNL.engine(), storage.pointer), "wrapping a tensor")
        return handle!
    }

    public var description: String { "Tensor(\(layout))" }
}
