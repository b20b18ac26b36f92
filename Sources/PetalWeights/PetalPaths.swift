import Foundation

/// Where Petal keeps pretrained weights on this machine.
public enum PetalPaths {
    /// `$PETAL_HOME/weights` when PETAL_HOME is set, else `~/.cache/petal/weights`.
    public static var weightsDirectory: URL {
        weightsDirectory(environment: ProcessInfo.processInfo.environment)
    }

    public static func weightsDirectory(environment: [String: String]) -> URL {
        if let home = environment["PETAL_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home).appendingPathComponent("weights")
        }
        return homeDirectory(environment).appendingPathComponent(".cache/petal/weights")
    }

    /// `~/.keras/models`, where Keras (and Petal's downloader) keeps keras.applications weights.
    public static var kerasModelsDirectory: URL {
        kerasModelsDirectory(environment: ProcessInfo.processInfo.environment)
    }

    public static func kerasModelsDirectory(environment: [String: String]) -> URL {
        homeDirectory(environment).appendingPathComponent(".keras/models")
    }

    /// The file `name` in the weights folder if it exists there, else in ~/.keras/models, else nil.
    public static func installedWeights(named name: String) -> URL? {
        [weightsDirectory, kerasModelsDirectory].map { $0.appendingPathComponent(name) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Every weights file installed: the weights folder's files, then ~/.keras/models/*.h5.
    public static func installedWeightFiles() -> [URL] {
        let fm = FileManager.default
        func list(_ dir: URL, _ keep: (String) -> Bool) -> [URL] {
            ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") && keep($0) }.sorted()
                .map { dir.appendingPathComponent($0) }
        }
        return list(weightsDirectory) { WeightFormat.fileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            + list(kerasModelsDirectory) { $0.lowercased().hasSuffix(".h5") }
    }

    private static func homeDirectory(_ environment: [String: String]) -> URL {
        if let home = environment["HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        return FileManager.default.homeDirectoryForCurrentUser
    }
}
