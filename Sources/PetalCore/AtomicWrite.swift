import Foundation

/// A file write that never leaves half a file: the bytes go to a temporary name beside the
/// destination, which is then renamed into place.
public struct AtomicWriteError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot write (\(reason))" }
}

extension Data {
    /// Writes to a temporary file beside `url` and renames it into place.
    public func writeAtomically(to url: URL) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try write(to: temporary)
        } catch {
            throw AtomicWriteError(path: url.path, reason: error.localizedDescription)
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw AtomicWriteError(path: url.path, reason: "cannot rename into place: \(reason)")
        }
    }
}
