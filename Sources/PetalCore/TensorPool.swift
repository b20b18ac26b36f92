import Foundation

/// Tensors lent to one call at a time and given back, by layout: the activations of
/// inference passes, reused from call to call (no allocation, no page faults) while calls
/// that overlap on several threads each get their own.
public final class TensorPool: @unchecked Sendable {  // unchecked: `free` and `bytes` behind `lock`
    private let lock = NSLock()
    private var free: [[UInt8]: [Tensor]] = [:]
    private var bytes = 0
    private let keptPerLayout: Int
    private let maximumBytes: Int

    /// Keeps at most `keptPerLayout` tensors of a layout (about the threads that run at
    /// once) and `maximumBytes` in all; what is given back beyond that is freed.
    public init(keptPerLayout: Int = 4, maximumBytes: Int = 1 << 30) {
        self.keptPerLayout = keptPerLayout
        self.maximumBytes = maximumBytes
    }

    /// A tensor of `layout` whose contents are undefined: the caller overwrites all of it.
    public func tensor(_ layout: TensorLayout) throws -> Tensor {
        let reused = lock.withLock { () -> Tensor? in
            guard let tensor = free[layout.key]?.popLast() else { return nil }
            bytes -= tensor.storage.byteCount
            return tensor
        }
        return try reused ?? Tensor(layout: layout)
    }

    /// Returns a tensor that no one reads any more.
    public func giveBack(_ tensor: Tensor) {
        lock.withLock {
            let key = tensor.layout.key
            guard free[key, default: []].count < keptPerLayout,
                  bytes + tensor.storage.byteCount <= maximumBytes else { return }
            free[key, default: []].append(tensor)
            bytes += tensor.storage.byteCount
        }
    }
}
