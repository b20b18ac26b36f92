import Foundation

/// The restricted pickle machine as PyTorch checkpoints use it: legacy files (five pickles and
/// the raw storages after them) and zip files (`data.pkl` plus one entry per storage, through
/// ZIPFoundation), from the bytes (written to a file in /dev/shm) to materialised tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: folder).appendingPathComponent("petal-fuzz-\(getpid()).pth")
    if (try? bytes.write(to: url)) != nil {
        _ = try? PyTorchCheckpointReader.read(url)
        try? FileManager.default.removeItem(at: url)
    }
    // The machine alone, on pickles that are not checkpoints.
    bytes.withUnsafeBytes { raw in
        var machine = PickleMachine(bytes: raw, path: "fuzz.pkl")
        defer { machine.heap.release() }
        _ = try? machine.load()
    }
    return 0
}
