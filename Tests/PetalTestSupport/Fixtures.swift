import Foundation

/// Where committed test fixtures live (Tests/Fixtures), found from this source file so
/// tests run from any working directory.
public enum Fixtures {
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// The checkout's root folder (Tests/Fixtures is two levels below it).
    public static var repositoryRoot: URL { directory.deletingLastPathComponent().deletingLastPathComponent() }

    /// The shared flowers dataset, if this machine has it (../shared/data/flowers beside the
    /// checkout, or PETAL_FLOWERS). Tests that need it skip with a message where it is absent.
    public static var flowers: URL? {
        if let env = ProcessInfo.processInfo.environment["PETAL_FLOWERS"] {
            return FileManager.default.fileExists(atPath: env) ? URL(fileURLWithPath: env) : nil
        }
        let candidate = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/flowers")
        return FileManager.default.fileExists(atPath: candidate.path) ? candidate : nil
    }

    /// A new empty temporary folder, removed by the caller (or left for the OS).
    public static func temporaryDirectory(_ label: String = "petal-test") -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
