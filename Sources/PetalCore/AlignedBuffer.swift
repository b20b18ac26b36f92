import Foundation

/// Zero-initialised memory aligned to 64 bytes, the alignment oneDNN's vector kernels prefer.
public final class AlignedBuffer: @unchecked Sendable {  // unchecked: a raw buffer; its owner (Tensor) says who writes it
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        self.byteCount = byteCount
        var raw: UnsafeMutableRawPointer?
        // posix_memalign refuses a zero size on some libcs; keep one cache line at least.
        let size = max(byteCount, 64)
        guard posix_memalign(&raw, 64, size) == 0, let raw else {
            fatalError("Petal: out of memory allocating \(byteCount) bytes")
        }
        memset(raw, 0, size)
        pointer = raw
    }

    deinit { free(pointer) }
}
