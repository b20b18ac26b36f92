import Foundation

/// One image file and its class index.
public struct LabeledFile: Codable, Hashable, Sendable {
    public var url: URL
    public var label: Int

    public init(url: URL, label: Int) {
        self.url = url
        self.label = label
    }
}

/// A dataset folder with one sub-folder per class (like Keras's `image_dataset_from_directory`).
///
/// Class names are the sub-folder names in sorted order, which gives the label indices.
/// Images are `.jpg`, `.jpeg` and `.png` in any letter case, found at any depth inside a
/// class folder. Hidden files and folders (names starting with ".") and other files (and
/// files directly in the root) are ignored; both are counted.
public struct ImageFolder: Sendable {
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    public let root: URL
    public let classNames: [String]
    /// Every image, grouped by class in label order, sorted by path within a class.
    public let items: [LabeledFile]
    /// Non-hidden files that are not images (or are not inside a class folder).
    public let ignoredFiles: [URL]
    /// Hidden files and folders skipped (names starting with "."), not listed.
    public let hiddenCount: Int

    public var ignoredCount: Int { ignoredFiles.count }
    public var count: Int { items.count }
    public var classCount: Int { classNames.count }

    /// Images per class, in label order.
    public var countsPerClass: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for item in items { counts[item.label] += 1 }
        return counts
    }

    /// Scans `root`. Throws when it is missing, not a folder, or has no class folders.
    public init(_ root: URL) throws {
        let fm = FileManager.default
        let root = root.standardizedFileURL
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir) else {
            throw DataError.badFolder(path: root.path, reason: "no such folder")
        }
        guard isDir.boolValue else {
            throw DataError.badFolder(path: root.path, reason: "is a file, not a folder with one sub-folder per class")
        }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw DataError.badFolder(path: root.path, reason: "cannot list the folder (\(error.localizedDescription))")
        }
        var classes: [String] = []
        var ignored: [URL] = []
        var hidden = entries.filter { $0.hasPrefix(".") }.count
        for name in entries where !name.hasPrefix(".") {
            var d: ObjCBool = false
            let url = root.appendingPathComponent(name)
            if fm.fileExists(atPath: url.path, isDirectory: &d), d.boolValue {
                classes.append(name)
            } else {
                ignored.append(url)
            }
        }
        classes.sort(by: ImageFolder.pathOrder)
        guard !classes.isEmpty else {
            throw DataError.badFolder(path: root.path, reason: "has no class sub-folders (expected one sub-folder of images per class)")
        }
        var items: [LabeledFile] = []
        for (label, name) in classes.enumerated() {
            let dir = root.appendingPathComponent(name, isDirectory: true)
            var found: [URL] = []
            ImageFolder.walk(dir, images: &found, ignored: &ignored, hidden: &hidden)
            found.sort { ImageFolder.pathOrder($0.path, $1.path) }
            items += found.map { LabeledFile(url: $0, label: label) }
        }
        ignored.sort { ImageFolder.pathOrder($0.path, $1.path) }
        self.root = root
        self.classNames = classes
        self.items = items
        self.ignoredFiles = ignored
        self.hiddenCount = hidden
    }

    /// Byte order of UTF-8 (as Python's `sorted` on code points), the same on every machine.
    static func pathOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func isImageName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    private static func walk(_ dir: URL, images: inout [URL], ignored: inout [URL], hidden: inout Int) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else { return }
        hidden += names.filter { $0.hasPrefix(".") }.count
        for name in names where !name.hasPrefix(".") {
            let url = dir.appendingPathComponent(name)
            var d: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &d) else { continue }
            if d.boolValue {
                walk(url, images: &images, ignored: &ignored, hidden: &hidden)
            } else if isImageName(name) {
                images.append(url)
            } else {
                ignored.append(url)
            }
        }
    }

    /// The path of `url` relative to the root ("daisy/123.jpg").
    public func relativePath(_ url: URL) -> String {
        let base = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return url.path.hasPrefix(base) ? String(url.path.dropFirst(base.count)) : url.path
    }
}
