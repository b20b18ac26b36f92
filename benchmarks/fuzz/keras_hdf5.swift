import Foundation

/// The Keras HDF5 reader's metadata: libhdf5 opens the bytes (written to a file in /dev/shm,
/// as libhdf5 reads files), then Petal reads the root attributes, `layer_names`, each layer's
/// `weight_names`, the Keras 3 groups and every dataset's shape, and the tensors when small.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKerasHDF5(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: folder).appendingPathComponent("petal-fuzz-\(getpid()).h5")
    guard (try? Data(bytes: data, count: size).write(to: url)) != nil else { return 0 }
    defer { try? FileManager.default.removeItem(at: url) }
    guard let reader = try? KerasHDF5Reader(url) else { return 0 }
    let elements = reader.entries.reduce(0) { total, entry in
        total &+ entry.shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).overflow ? Int.max : $0 * max($1, 0) }
    }
    if elements >= 0, elements <= 1 << 16 { _ = try? reader.readAll() }
    return 0
}
