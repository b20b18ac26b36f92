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
///
/// Symbolic links are followed at most once per real file or folder: a link to a folder
/// already being walked (a loop) or already walked, and a second path to an image already
/// found, are skipped and listed in `skippedLinks`, so every real image is listed once and
/// can only land in one split.
public struct ImageFolder: Sendable {
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    public let root: URL
    public let classNames: [String]
    /// Every image, grouped by class in label order, sorted by path within a class.
    public internal(set) var items: [LabeledFile]
    /// Non-hidden files that are not images (or are not inside a class folder).
    public let ignoredFiles: [URL]
    /// Hidden files and folders skipped (names starting with "."), not listed.
    public let hiddenCount: Int
    /// Paths skipped because they lead (through symbolic links) to a folder or image already
    /// found: each with the path first found for the same real file or folder.
    public let skippedLinks: [SkippedLink]

    public struct SkippedLink: Sendable, Equatable {
        /// The path skipped.
        public var url: URL
        /// The path under which the same real file or folder was found first.
        public var firstFound: URL
    }

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
        let hidden = entries.filter { $0.hasPrefix(".") }.count
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
        let classFolders = classes.map { root.appendingPathComponent($0, isDirectory: true) }
        var walk = Walk(ignored: ignored, hidden: hidden, reserved: [root] + classFolders)
        for (label, dir) in classFolders.enumerated() {
            var found: [URL] = []
            walk.folder(dir, images: &found, top: true)
            found.sort { ImageFolder.pathOrder($0.path, $1.path) }
            items += found.map { LabeledFile(url: $0, label: label) }
        }
        self.root = root
        self.classNames = classes
        self.items = items
        self.ignoredFiles = walk.ignored.sorted { ImageFolder.pathOrder($0.path, $1.path) }
        self.hiddenCount = walk.hidden
        self.skippedLinks = walk.skippedLinks
    }

    /// Byte order of UTF-8 (as Python's `sorted` on code points), the same on every machine.
    static func pathOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func isImageName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// A depth-first walk in sorted name order that enters each real folder and lists each
    /// real file once, whatever the symbolic links.
    private struct Walk {
        var ignored: [URL]
        var hidden: Int
        var skippedLinks: [SkippedLink] = []
        /// Real path -> the path it was first found under.
        private var seenFolders: [String: URL] = [:]
        private var seenFiles: [String: URL] = [:]
        /// The root and the class folders, entered only as themselves (a link inside a class
        /// to the root or to a class would walk a class twice, or under another label).
        private let reserved: [String: URL]

        init(ignored: [URL], hidden: Int, reserved: [URL]) {
            self.ignored = ignored
            self.hidden = hidden
            self.reserved = Dictionary(reserved.map { ($0.resolvingSymlinksInPath().path, $0) }) { first, _ in first }
        }

        mutating func folder(_ dir: URL, images: inout [URL], top: Bool) {
            let real = dir.resolvingSymlinksInPath().path
            if let first = seenFolders[real] ?? (top ? nil : reserved[real]) {
                skippedLinks.append(SkippedLink(url: dir, firstFound: first))
                return
            }
            seenFolders[real] = dir
            let fm = FileManager.default
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else { return }
            hidden += names.filter { $0.hasPrefix(".") }.count
            for name in names.sorted(by: ImageFolder.pathOrder) where !name.hasPrefix(".") {
                let url = dir.appendingPathComponent(name)
                var d: ObjCBool = false
                guard fm.fileExists(atPath: url.path, isDirectory: &d) else { continue }   // a broken link
                if d.boolValue {
                    folder(url, images: &images, top: false)
                } else if ImageFolder.isImageName(name) {
                    let realFile = url.resolvingSymlinksInPath().path
                    if let first = seenFiles[realFile] {
                        skippedLinks.append(SkippedLink(url: url, firstFound: first))
                    } else {
                        seenFiles[realFile] = url
                        images.append(url)
                    }
                } else {
                    ignored.append(url)
                }
            }
        }
    }

    /// The path of `url` relative to the root ("daisy/123.jpg").
    public func relativePath(_ url: URL) -> String {
        let base = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return url.path.hasPrefix(base) ? String(url.path.dropFirst(base.count)) : url.path
    }
}
