import Foundation

/// A list of images to leave out of a dataset (`petal train --exclude FILE`), as
/// `petal data audit` writes it in `exclude.txt`: one path a line, relative to the dataset
/// folder ("daisy/123.jpg") or absolute; blank lines and lines starting with "#" are ignored.
public struct ExcludeList: Sendable, Equatable {
    /// The file it was read from.
    public var source: String
    /// The paths, as written.
    public var paths: [String]

    public init(source: String, paths: [String]) {
        self.source = source
        self.paths = paths
    }

    /// Reads the list; a missing or unreadable file is an error naming it.
    public static func read(_ url: URL) throws(ExcludeListError) -> ExcludeList {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw .unreadable(path: url.path, reason: FileManager.default.fileExists(atPath: url.path)
                              ? "not a UTF-8 text file" : "no such file")
        }
        let paths = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        return ExcludeList(source: url.path, paths: paths)
    }

    /// What leaving the list out of a folder did.
    public struct Outcome: Sendable {
        /// The folder without the listed images.
        public var folder: ImageFolder
        /// The images left out.
        public var excluded: [URL]
        /// Listed paths that are not images of the folder (a file since removed, a typo).
        public var unknown: [String]
    }

    /// `folder` without the listed images. Paths that match no image are returned as
    /// `unknown` (the caller warns: a list made before some files were deleted still works);
    /// a non-empty list of which no path matches is an error, as it is most likely the list
    /// of another dataset.
    public func apply(to folder: ImageFolder) throws(ExcludeListError) -> Outcome {
        let root = folder.root.standardizedFileURL
        var wanted: [String: String] = [:]
        for path in paths {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
            wanted[url.standardizedFileURL.path] = path
        }
        var result = folder
        var excluded: [URL] = []
        result.items = folder.items.filter { item in
            guard wanted.removeValue(forKey: item.url.standardizedFileURL.path) != nil else { return true }
            excluded.append(item.url)
            return false
        }
        let unknown = paths.filter { wanted.values.contains($0) }
        if !paths.isEmpty && excluded.isEmpty {
            throw .nothingMatches(path: source, root: root.path, first: paths[0])
        }
        return Outcome(folder: result, excluded: excluded, unknown: unknown)
    }
}

/// Problems with an `--exclude` file, naming it.
public enum ExcludeListError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case unreadable(path: String, reason: String)
    case nothingMatches(path: String, root: String, first: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "--exclude \(path): \(reason)"
        case let .nothingMatches(path, root, first):
            return "--exclude \(path): none of its paths is an image of \(root) (the first is '\(first)'); "
                + "paths are relative to the dataset folder, as petal data audit writes them"
        }
    }

    public var errorDescription: String? { description }
}
