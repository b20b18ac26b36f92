import Foundation

/// File name extensions of weights files, for listing a folder's candidates.
let weightFileExtensions: Set<String> = ["h5", "pth", "pt", "bin", "safetensors", "ckpt"]

/// Reads a whole file, memory-mapped, with a clear error when it is missing or a folder.
func readFile(_ url: URL) throws -> Data {
    try checkIsFile(url)
    do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
        throw WeightError.unreadable(path: url.path, reason: error.localizedDescription)
    }
}

/// Throws `fileNotFound` for a missing path and `folder` for a directory (reading one would
/// fail deep inside Foundation or a C library instead of naming the mistake).
func checkIsFile(_ url: URL) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw WeightError.fileNotFound(path: url.path)
    }
    if isDirectory.boolValue {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        let weights = files.filter { weightFileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
        throw WeightError.folder(path: url.path, weightFiles: weights.sorted())
    }
}
