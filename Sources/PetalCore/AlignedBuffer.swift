import Foundation

/// Zero-initialised memory aligned to 64 bytes, the alignment oneDNN's vector kernels prefer.
public final class AlignedBuffer: @unchecked Sendable {  // unchecked: a raw buffer; its owner (Tensor) says who writes it
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    /// Throws `TensorError.allocationFailed` (naming `shape` when given) when the machine
    /// does not have that much memory or the allocation fails, rather than stopping the process.
    public init(byteCount: Int, shape: [Int] = []) throws {
        try Self.checkAllocatable(byteCount: byteCount, shape: shape)
        self.byteCount = byteCount
        var raw: UnsafeMutableRawPointer?
        // posix_memalign refuses a zero size on some libcs; keep one cache line at least.
        let size = max(byteCount, 64)
        let status = posix_memalign(&raw, 64, size)
        guard status == 0, let raw else {
            throw TensorError.allocationFailed(shape: shape, bytes: byteCount,
                                               reason: String(cString: strerror(status)))
        }
        memset(raw, 0, size)
        pointer = raw
    }

    deinit { free(pointer) }

    /// Throws the error allocating `byteCount` bytes would certainly end in: a negative size,
    /// or more than the machine's memory (Linux would promise it, overcommitting, and then
    /// end the process when zero-filling touches the pages).
    static func checkAllocatable(byteCount: Int, shape: [Int]) throws {
        guard byteCount >= 0 else {
            throw TensorError.allocationFailed(shape: shape, bytes: byteCount, reason: "a negative size")
        }
        let physical = physicalMemory
        if physical > 0 && byteCount > physical {
            throw TensorError.allocationFailed(
                shape: shape, bytes: byteCount,
                reason: "more than this machine's \(TensorError.format(physical)) of memory")
        }
    }

    /// Bytes of physical memory (0 when unknown).
    static let physicalMemory: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 0 }
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? .max : bytes
    }()
}
