import CDNNL
import Foundation

/// A oneDNN call that failed: what Petal was doing and the status oneDNN returned.
public struct DNNLError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// What was being done, e.g. "executing jit:avx2 with ...".
    public var operation: String
    /// oneDNN's status, e.g. "out of memory" or "invalid arguments".
    public var status: String

    public init(operation: String, status: String) {
        self.operation = operation
        self.status = status
    }

    public var description: String { "oneDNN failed \(operation): \(status)" }
    public var errorDescription: String? { description }
}

/// A tensor that cannot be made: its size overflows, the memory for it cannot be had, or
/// values or another tensor do not fit its shape.
public enum TensorError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case sizeOverflow(shape: [Int], elementBytes: Int)
    case allocationFailed(shape: [Int], bytes: Int, reason: String)
    case shapeMismatch(operation: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .sizeOverflow(shape, elementBytes):
            return "cannot allocate a tensor of shape \(shape): its size (\(elementBytes)-byte elements) overflows "
                + "a 64-bit byte count (is an image size or batch size too large?)"
        case let .allocationFailed(shape, bytes, reason):
            let what = shape.isEmpty ? "\(bytes) bytes" : "a tensor of shape \(shape) (\(Self.format(bytes)))"
            return "cannot allocate \(what): \(reason) (is an image size or batch size too large?)"
        case let .shapeMismatch(operation, expected, found):
            return "\(operation): shape \(found) does not fit \(expected)"
        }
    }

    public var errorDescription: String? { description }

    /// Bytes in the largest binary unit that keeps the number at 1 or more, e.g. "3.5 GiB".
    static func format(_ bytes: Int) -> String {
        var value = Double(bytes)
        var unit = "bytes"
        for next in ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] where value >= 1024 {
            value /= 1024
            unit = next
        }
        return unit == "bytes" ? "\(bytes) bytes" : String(format: "%.1f %@", value, unit)
    }
}

/// Throws a `DNNLError` naming `operation` when a oneDNN call did not succeed.
@inline(__always)
func check(_ status: dnnl_status_t, _ operation: @autoclosure () -> String) throws {
    if status != dnnl_success {
        throw DNNLError(operation: operation(), status: describe(status))
    }
}

func describe(_ status: dnnl_status_t) -> String {
    switch status {
    case dnnl_out_of_memory: return "out of memory"
    case dnnl_invalid_arguments: return "invalid arguments"
    case dnnl_unimplemented: return "unimplemented"
    case dnnl_iterator_ends: return "iterator ends"
    case dnnl_runtime_error: return "runtime error"
    case dnnl_not_required: return "not required"
    default: return "status \(status.rawValue)"
    }
}
