import CDNNL

/// How a tensor's elements are laid out in memory: a oneDNN memory descriptor.
///
/// Shapes are logical and follow oneDNN's order: images are (N, C, H, W) whatever the
/// physical order; convolution weights are (O, I, H, W), or (G, O/G, I/G, H, W) grouped.
/// A layout is either plain (row-major or another permutation such as NHWC) or one of
/// oneDNN's blocked layouts (e.g. nChw8c), chosen by a primitive for speed.
// unchecked: a plain C struct (oneDNN memory descriptor) held by value, no pointers into shared state.
public struct TensorLayout: @unchecked Sendable, Equatable, CustomStringConvertible {
    var desc: dnnl_memory_desc_t

    init(_ desc: dnnl_memory_desc_t) { self.desc = desc }

    /// Row-major over the logical shape (the last dimension varies fastest).
    public static func rowMajor(_ shape: [Int], _ type: DataType = .float32) -> TensorLayout {
        TensorLayout(shape: shape, type: type, tag: rowMajorTag(shape.count))
    }

    /// Channels-last for a 4-D (N, C, H, W) shape, as images are decoded.
    public static func nhwc(_ shape: [Int], _ type: DataType = .float32) -> TensorLayout {
        // Callers pass literal (N, 3, H, W) shapes: no input reaches this.
        precondition(shape.count == 4, "NHWC needs a 4-D (N, C, H, W) shape, got \(shape)")
        return TensorLayout(shape: shape, type: type, tag: dnnl_nhwc)
    }

    /// Placeholder that lets a primitive pick its preferred layout.
    static func any(_ shape: [Int], _ type: DataType = .float32) -> TensorLayout {
        TensorLayout(shape: shape, type: type, tag: dnnl_format_tag_any)
    }

    init(shape: [Int], type: DataType, tag: dnnl_format_tag_t) {
        var desc = dnnl_memory_desc_t()
        let dims = shape.map(Int64.init)
        let status = dnnl_memory_desc_init_by_tag(&desc, Int32(shape.count), dims, type.dnnl, tag)
        // Shapes arrive validated (rank at most 6, no negative dimension): weight readers and
        // model builders check them, so no input reaches this failure.
        precondition(status == dnnl_success, "oneDNN cannot describe a tensor of shape \(shape): \(describe(status))")
        self.desc = desc
    }

    public var shape: [Int] {
        withUnsafeBytes(of: desc.dims) { raw in
            Array(raw.bindMemory(to: Int64.self).prefix(Int(desc.ndims)).map(Int.init))
        }
    }

    public var dataType: DataType {
        switch desc.data_type {
        case dnnl_bf16: return .bfloat16
        case dnnl_u8: return .uint8
        case dnnl_s32: return .int32
        case dnnl_s8: return .int8
        default: return .float32
        }
    }

    /// Bytes of storage, including the padding of blocked layouts.
    public var byteCount: Int {
        var d = desc
        return dnnl_memory_desc_get_size(&d)
    }

    /// `byteCount`, or `TensorError.sizeOverflow` when the padded element count times the
    /// element size does not fit in an Int (oneDNN's own size would wrap around).
    func checkedByteCount() throws -> Int {
        let padded = withUnsafeBytes(of: desc.padded_dims) { raw in
            Array(raw.bindMemory(to: Int64.self).prefix(Int(desc.ndims)))
        }
        var total = dataType.byteSize
        for d in padded {
            let (product, overflow) = total.multipliedReportingOverflow(by: Int(d))
            guard !overflow, d >= 0 else { throw TensorError.sizeOverflow(shape: shape, elementBytes: dataType.byteSize) }
            total = product
        }
        return max(total, byteCount)
    }

    /// True for plain row-major storage, where element i of the logical shape is at offset i.
    public var isRowMajor: Bool { self == .rowMajor(shape, dataType) }

    /// True for a layout without inner blocks (any permutation of the dimensions, no padding).
    public var isPlain: Bool {
        desc.format_kind == dnnl_blocked && desc.format_desc.blocking.inner_nblks == 0
            && byteCount == shape.reduce(1, *) * dataType.byteSize
    }

    public static func == (a: TensorLayout, b: TensorLayout) -> Bool {
        var x = a.desc, y = b.desc
        return dnnl_memory_desc_equal(&x, &y) != 0
    }

    /// A compact key for caches: the descriptor's bytes.
    public var key: [UInt8] {
        withUnsafeBytes(of: desc) { Array($0) }
    }

    public var description: String {
        let blocks = desc.format_kind == dnnl_blocked ? desc.format_desc.blocking.inner_nblks : -1
        return "\(dataType)\(shape)\(isRowMajor ? "" : blocks > 0 ? " blocked" : " permuted")"
    }

    static func rowMajorTag(_ rank: Int) -> dnnl_format_tag_t {
        switch rank {
        case 1: return dnnl_a
        case 2: return dnnl_ab
        case 3: return dnnl_abc
        case 4: return dnnl_abcd
        case 5: return dnnl_abcde
        case 6: return dnnl_abcdef
        // Weight readers reject rank > 6 and layers make at most 5-D tensors: no input reaches this.
        default: preconditionFailure("Petal: tensors of rank \(rank) are not supported")
        }
    }
}
