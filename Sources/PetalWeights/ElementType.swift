import Foundation
import PetalCore

/// Element types found in weight files, with their conversion to Float32 (Petal's only
/// weight type). Names follow safetensors ("F32", "BF16", ...).
public enum ElementType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

enum TensorBuilder {
    /// Petal tensors have rank 1...6: scalars (PyTorch's `num_batches_tracked`) become [1].
    static func petalShape(_ shape: [Int], name: String, path: String) throws -> [Int] {
        if shape.isEmpty { return [1] }
        guard shape.count <= 6 else {
            throw WeightError.malformed(path: path, reason: "tensor `\(name)` has rank \(shape.count); at most 6 is supported")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw WeightError.malformed(path: path, reason: "tensor `\(name)` has a negative dimension in \(shape)")
        }
        return shape
    }

    /// The number of elements of a shape read from a file, refused when it overflows.
    static func elementCount(_ shape: [Int], name: String, path: String) throws -> Int {
        var count = 1
        for dimension in try petalShape(shape, name: name, path: path) {
            let product = count.multipliedReportingOverflow(by: dimension)
            guard !product.overflow else {
                throw WeightError.malformed(path: path, reason: "tensor `\(name)` has shape \(shape), more elements than can be addressed")
            }
            count = product.partialValue
        }
        return count
    }

    /// A row-major Float32 tensor from the contiguous little-endian elements in `source`, which
    /// must hold exactly the shape's elements.
    static func make(shape: [Int], type: ElementType, source: UnsafeRawBufferPointer, name: String, path: String) throws -> Tensor {
        let count = try elementCount(shape, name: name, path: path)
        guard case let (bytes, false) = count.multipliedReportingOverflow(by: type.byteSize), bytes == source.count else {
            throw WeightError.malformed(path: path, reason: "tensor `\(name)` of shape \(shape) (\(type.rawValue)) needs \(count) elements, the file has \(source.count) bytes for it")
        }
        let tensor = try Tensor(layout: .rowMajor(try petalShape(shape, name: name, path: path)))
        guard count > 0, let source = source.baseAddress, let out = tensor.floats.baseAddress else { return tensor }
        switch type {
        case .f32: UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: bytes)
        case .f64: convert(count, source, out) { (v: Double) in Float(v) }
        case .f16: convert(count, source, out) { (v: UInt16) in halfToFloat(v) }
        case .bf16: convert(count, source, out) { (v: UInt16) in Float(bitPattern: UInt32(v) << 16) }
        case .i64: convert(count, source, out) { (v: Int64) in Float(v) }
        case .i32: convert(count, source, out) { (v: Int32) in Float(v) }
        case .i16: convert(count, source, out) { (v: Int16) in Float(v) }
        case .i8: convert(count, source, out) { (v: Int8) in Float(v) }
        case .u8, .bool: convert(count, source, out) { (v: UInt8) in Float(v) }
        }
        return tensor
    }

    /// Converts `count` elements at element offsets `first`, `first + stride`, ... of `source` into `out`.
    static func convertStrided(_ type: ElementType, _ source: UnsafeRawPointer, first: Int, stride: Int, count: Int,
                               into out: UnsafeMutablePointer<Float>) {
        func run<T>(_ f: (T) -> Float) {
            let size = MemoryLayout<T>.size
            var offset = first * size
            for j in 0..<count {
                out[j] = f(source.loadUnaligned(fromByteOffset: offset, as: T.self))
                offset += stride * size
            }
        }
        switch type {
        case .f32: run { (v: Float) in v }
        case .f64: run { (v: Double) in Float(v) }
        case .f16: run { (v: UInt16) in halfToFloat(v) }
        case .bf16: run { (v: UInt16) in Float(bitPattern: UInt32(v) << 16) }
        case .i64: run { (v: Int64) in Float(v) }
        case .i32: run { (v: Int32) in Float(v) }
        case .i16: run { (v: Int16) in Float(v) }
        case .i8: run { (v: Int8) in Float(v) }
        case .u8, .bool: run { (v: UInt8) in Float(v) }
        }
    }

    private static func convert<T>(_ count: Int, _ source: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>,
                                   _ f: (T) -> Float) {
        let stride = MemoryLayout<T>.size
        for i in 0..<count { out[i] = f(source.loadUnaligned(fromByteOffset: i * stride, as: T.self)) }
    }

    /// IEEE half to single, bit by bit (Float16 is not on every platform Swift targets).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        var mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal half: normalize it.
            var e = -1
            repeat { mantissa <<= 1; e += 1 } while mantissa & 0x400 == 0
            mantissa &= 0x3FF
            return Float(bitPattern: sign | UInt32(127 - 15 - e) << 23 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}

/// Writes `data` to a temporary file beside `url` and renames it into place, so a reader
/// never sees half a file.
func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try data.writeAtomically(to: url)
    } catch let error as AtomicWriteError {
        throw WeightError.writeFailed(path: url.path, reason: error.reason)
    } catch {
        throw WeightError.writeFailed(path: url.path, reason: error.localizedDescription)
    }
}
