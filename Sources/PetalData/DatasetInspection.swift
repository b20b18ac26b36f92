import Dispatch
import Foundation

/// What `petal data inspect` reports about a dataset folder: images per class, image sizes,
/// and problems (files that do not decode, identical files, the same file under two classes,
/// links to what was already found, fewer than two classes, empty classes, imbalance). Every
/// image is fully decoded to find the broken ones.
public struct DatasetInspection: Codable, Sendable {
    public struct ClassCount: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
    }

    public struct SizeCount: Codable, Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var count: Int
    }

    /// Classes whose largest/smallest image-count ratio exceeds this are flagged as imbalanced.
    public static let imbalanceThreshold = 2.0

    public var root: String
    public var classes: [ClassCount]
    public var imageCount: Int
    public var ignoredCount: Int
    /// Hidden files and folders skipped.
    public var hiddenCount: Int
    /// Ignored files, relative to the root.
    public var ignoredFiles: [String]
    /// Upright image sizes of the decodable images, most common first.
    public var sizes: [SizeCount]
    public var failures: [DecodeFailure]
    /// Groups of byte-identical files within one class (relative paths).
    public var duplicates: [[String]]
    /// Groups of byte-identical files found under more than one class (relative paths).
    public var crossClassDuplicates: [[String]]
    /// Paths skipped because a symbolic link leads to a folder or image already found, as
    /// "path (same as first path)", relative to the root.
    public var skippedLinks: [String]
    public var emptyClasses: [String]
    /// Largest class count over smallest non-empty class count (1 when balanced).
    public var imbalanceRatio: Double
    public var isImbalanced: Bool
    /// One line per problem, for people.
    public var problems: [String]

    /// Inspects a scanned folder, decoding with `threads` threads (default: all cores).
    public static func inspect(_ folder: ImageFolder, threads: Int? = nil) -> DatasetInspection {
        let n = folder.items.count
        var results = [(size: (Int, Int)?, failure: DecodeFailure?, hash: UInt64, bytes: Int)](
            repeating: (nil, nil, 0, 0), count: n)
        let lock = NSLock()
        let counter = AtomicCounter()
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, max(n, 1)))
        results.withUnsafeMutableBufferPointer { out in
            // Every slot is written under `lock` by one worker only.
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let i = counter.next()
                    if i >= n { break }
                    let url = folder.items[i].url
                    var entry: (size: (Int, Int)?, failure: DecodeFailure?, hash: UInt64, bytes: Int) = (nil, nil, 0, 0)
                    do {
                        let data = try ImageDecoder.readFile(url)
                        entry.hash = fnv1a(data)
                        entry.bytes = data.count
                        let image = try ImageDecoder.decode(data, path: url.path)
                        entry.size = (image.width, image.height)
                    } catch {
                        entry.failure = DecodeFailure(url: url, error: error)
                    }
                    lock.lock(); out[i] = entry; lock.unlock()
                }
            }
        }

        var report = DatasetInspection(
            root: folder.root.path,
            classes: zip(folder.classNames, folder.countsPerClass).map { ClassCount(name: $0, count: $1) },
            imageCount: n, ignoredCount: folder.ignoredCount, hiddenCount: folder.hiddenCount,
            ignoredFiles: folder.ignoredFiles.map { folder.relativePath($0) },
            sizes: [], failures: results.compactMap(\.failure), duplicates: [], crossClassDuplicates: [],
            skippedLinks: folder.skippedLinks.map { "\(folder.relativePath($0.url)) (same as \(folder.relativePath($0.firstFound)))" },
            emptyClasses: [], imbalanceRatio: 1, isImbalanced: false, problems: [])

        var sizeCounts: [Int: Int] = [:]
        for r in results { if let (w, h) = r.size { sizeCounts[w << 32 | h, default: 0] += 1 } }
        report.sizes = sizeCounts.map { SizeCount(width: $0.key >> 32, height: $0.key & 0xFFFF_FFFF, count: $0.value) }
            .sorted { ($0.count, $1.width, $1.height) > ($1.count, $0.width, $0.height) }

        // Identical files: same length and hash, confirmed byte for byte.
        var groups: [String: [Int]] = [:]
        for (i, r) in results.enumerated() where r.bytes > 0 { groups["\(r.bytes)-\(r.hash)", default: []].append(i) }
        for key in groups.keys.sorted() {
            guard let members = groups[key], members.count > 1 else { continue }
            var remaining = members
            while let first = remaining.first {
                let data = try? Data(contentsOf: folder.items[first].url)
                let same = remaining.filter { $0 == first || (try? Data(contentsOf: folder.items[$0].url)) == data }
                remaining.removeAll { same.contains($0) }
                guard same.count > 1 else { continue }
                let paths = same.map { folder.relativePath(folder.items[$0].url) }
                if Set(same.map { folder.items[$0].label }).count > 1 {
                    report.crossClassDuplicates.append(paths)
                } else {
                    report.duplicates.append(paths)
                }
            }
        }
        report.duplicates.sort { $0[0].utf8.lexicographicallyPrecedes($1[0].utf8) }
        report.crossClassDuplicates.sort { $0[0].utf8.lexicographicallyPrecedes($1[0].utf8) }

        report.emptyClasses = report.classes.filter { $0.count == 0 }.map(\.name)
        let nonEmpty = report.classes.map(\.count).filter { $0 > 0 }
        if let lo = nonEmpty.min(), let hi = nonEmpty.max() {
            report.imbalanceRatio = Double(hi) / Double(lo)
            report.isImbalanced = report.imbalanceRatio > imbalanceThreshold
        }

        var problems: [String] = []
        for f in report.failures { problems.append("does not decode: \(f)") }
        for g in report.duplicates { problems.append("identical files: \(g.joined(separator: ", "))") }
        for g in report.crossClassDuplicates { problems.append("same image under different classes: \(g.joined(separator: ", "))") }
        for link in report.skippedLinks { problems.append("link to a folder or image already found, skipped: \(link)") }
        if report.classes.count == 1 {
            problems.append("only one class (\(report.classes[0].name)): training needs at least two classes")
        }
        for c in report.emptyClasses { problems.append("empty class: \(c)") }
        if report.isImbalanced, let lo = report.classes.filter({ $0.count > 0 }).min(by: { $0.count < $1.count }),
           let hi = report.classes.max(by: { $0.count < $1.count }) {
            problems.append(String(format: "imbalanced: %@ has %d images, %@ has %d (%.1fx)",
                                   hi.name, hi.count, lo.name, lo.count, report.imbalanceRatio))
        }
        report.problems = problems
        return report
    }

    /// 64-bit FNV-1a over the bytes (only to group candidates; equality is confirmed).
    static func fnv1a(_ data: Data) -> UInt64 {
        data.withUnsafeBytes { raw in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in raw { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            return h
        }
    }

    /// The report as text.
    public var text: String {
        var lines: [String] = []
        lines.append("Dataset \(root)")
        lines.append("\(imageCount) images in \(classes.count) classes; \(ignoredCount) other file\(ignoredCount == 1 ? "" : "s") and \(hiddenCount) hidden ignored")
        if !ignoredFiles.isEmpty {
            let shown = ignoredFiles.prefix(5).joined(separator: ", ")
            lines.append("  ignored: \(shown)\(ignoredFiles.count > 5 ? ", ..." : "")")
        }
        let width = classes.map(\.name.count).max() ?? 0
        for (i, c) in classes.enumerated() {
            let share = imageCount > 0 ? 100 * Double(c.count) / Double(imageCount) : 0
            lines.append("  \(String(format: "%2d", i))  \(c.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(format: "%6d  %5.1f%%", c.count, share))")
        }
        if sizes.isEmpty {
            lines.append("Image sizes: none decoded")
        } else {
            let shown = sizes.prefix(5).map { "\($0.width)x\($0.height) (\($0.count))" }.joined(separator: ", ")
            let more = sizes.count > 5 ? ", and \(sizes.count - 5) other sizes" : ""
            lines.append("Image sizes: \(shown)\(more)")
            let ws = sizes.map(\.width), hs = sizes.map(\.height)
            lines.append("  width \(ws.min()!)...\(ws.max()!), height \(hs.min()!)...\(hs.max()!)")
        }
        lines.append(String(format: "Balance: largest/smallest class = %.2f%@", imbalanceRatio,
                            isImbalanced ? " (imbalanced)" : ""))
        if problems.isEmpty {
            lines.append("No problems found.")
        } else {
            lines.append("\(problems.count) problem\(problems.count == 1 ? "" : "s"):")
            lines += problems.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
