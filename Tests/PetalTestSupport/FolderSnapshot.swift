import Foundation

/// Every file under a folder (hidden ones included) with a hash of its bytes, so a test can
/// check that a refused command left the user's files exactly as they were.
public struct FolderSnapshot: Equatable, CustomStringConvertible {
    /// Relative path → FNV-1a 64 hash of the contents ("dir" for a folder).
    public let files: [String: String]

    public init(_ folder: URL) throws {
        var files: [String: String] = [:]
        let root = folder.standardizedFileURL.path
        if let walker = FileManager.default.enumerator(atPath: root) {
            while let relative = walker.nextObject() as? String {
                let path = root + "/" + relative
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                files[relative] = isDirectory.boolValue ? "dir" : Self.hash(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
        }
        self.files = files
    }

    /// FNV-1a, 64 bits: enough to tell changed files apart in a test.
    static func hash(_ data: Data) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    public var description: String {
        files.keys.sorted().map { "\($0) \(files[$0]!)" }.joined(separator: "\n")
    }
}
