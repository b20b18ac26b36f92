import Foundation
import PetalCore

/// A stratified train/validation/test split of an `ImageFolder`, saved as `split.json` in
/// the run folder so evaluation later uses exactly the same test images.
public struct DatasetSplit: Codable, Sendable, Equatable {
    /// The dataset root the paths are relative to.
    public var root: URL
    public var classNames: [String]
    public var seed: UInt64
    public var fractions: Fractions
    public var train: [LabeledFile]
    public var validation: [LabeledFile]
    public var test: [LabeledFile]

    public struct Fractions: Codable, Sendable, Equatable {
        public var train: Double
        public var validation: Double
        public var test: Double
    }

    /// Splits every class separately in the given fractions (default 70/15/15): each class
    /// is shuffled with a SplitMix64 stream from `seed`, then cut. Validation and test take
    /// `round(n * fraction)` images (at least one when their fraction is not zero); train
    /// takes the rest. A class too small to give every non-empty split one image throws
    /// `DataError.classTooSmall` naming the class, and a folder of fewer than two classes
    /// `DataError.tooFewClasses`. The same seed gives the same split anywhere.
    public static func stratified(_ folder: ImageFolder, train: Double = 0.7, validation: Double = 0.15,
                                  test: Double = 0.15, seed: UInt64 = 42) throws -> DatasetSplit {
        guard folder.classCount >= 2 else {
            throw DataError.tooFewClasses(path: folder.root.path, classNames: folder.classNames)
        }
        for (name, f) in [("train", train), ("validation", validation), ("test", test)] where !(f >= 0 && f <= 1) {
            throw DataError.badFractions("\(name) fraction \(f) is not between 0 and 1")
        }
        guard train > 0 else { throw DataError.badFractions("train fraction must be above 0") }
        guard abs(train + validation + test - 1) < 1e-6 else {
            throw DataError.badFractions("train \(train) + validation \(validation) + test \(test) = \(train + validation + test), not 1")
        }
        let needed = [train, validation, test].filter { $0 > 0 }.count
        var byClass = [[LabeledFile]](repeating: [], count: folder.classCount)
        for item in folder.items { byClass[item.label].append(item) }
        var result = DatasetSplit(root: folder.root, classNames: folder.classNames, seed: seed,
                                  fractions: Fractions(train: train, validation: validation, test: test),
                                  train: [], validation: [], test: [])
        for (label, var files) in byClass.enumerated() {
            let n = files.count
            if n < needed {
                throw DataError.classTooSmall(className: folder.classNames[label], count: n, needed: needed)
            }
            var rng = SplitMix64(seed: seed, UInt64(label))
            rng.shuffle(&files)
            var nVal = validation > 0 ? max(1, Int((Double(n) * validation).rounded())) : 0
            var nTest = test > 0 ? max(1, Int((Double(n) * test).rounded())) : 0
            // Keep at least one training image by shrinking the larger held-out part.
            while n - nVal - nTest < 1 {
                if nVal >= nTest && nVal > (validation > 0 ? 1 : 0) { nVal -= 1 } else { nTest -= 1 }
            }
            result.validation += files[0..<nVal]
            result.test += files[nVal..<(nVal + nTest)]
            result.train += files[(nVal + nTest)...]
        }
        return result
    }

    /// Counts per class for train, validation and test.
    public func counts() -> (train: [Int], validation: [Int], test: [Int]) {
        func count(_ files: [LabeledFile]) -> [Int] {
            var c = [Int](repeating: 0, count: classNames.count)
            for f in files { c[f.label] += 1 }
            return c
        }
        return (count(train), count(validation), count(test))
    }

    // MARK: split.json

    /// The file form: class names and, per split, paths relative to `root` (the first path
    /// component is the class folder, which gives the label).
    struct File: Codable {
        var root: String
        var classNames: [String]
        var seed: UInt64
        var fractions: Fractions
        var train: [String]
        var validation: [String]
        var test: [String]
    }

    private func relative(_ files: [LabeledFile]) -> [String] { files.map { relativePath($0.url) } }

    private func relativePath(_ url: URL) -> String {
        let base = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return url.path.hasPrefix(base) ? String(url.path.dropFirst(base.count)) : url.path
    }

    /// Writes `split.json` (to a temporary name, then renamed).
    public func save(to url: URL) throws {
        let file = File(root: root.path, classNames: classNames, seed: seed, fractions: fractions,
                        train: relative(train), validation: relative(validation), test: relative(test))
        try PetalJSON.encode(file).writeAtomically(to: url)
    }

    /// Reads a split saved by `save(to:)`. `dataRoot` replaces the saved dataset root (for a
    /// dataset that moved). Paths whose class folder is not one of the class names throw.
    public static func load(from url: URL, dataRoot: URL? = nil) throws -> DatasetSplit {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError.badSplitFile(path: url.path, reason: "cannot read the split file (\(error.localizedDescription))")
        }
        let file: File
        do { file = try PetalJSON.decode(File.self, from: data) } catch {
            throw DataError.badSplitFile(path: url.path, reason: "not a Petal split file (\(error))")
        }
        let root = (dataRoot ?? URL(fileURLWithPath: file.root, isDirectory: true)).standardizedFileURL
        var labels: [String: Int] = [:]
        for (i, name) in file.classNames.enumerated() { labels[name] = i }
        func resolve(_ paths: [String]) throws -> [LabeledFile] {
            try paths.map { path in
                let first = path.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
                guard let label = labels[first] else {
                    throw DataError.badSplitFile(path: url.path, reason: "'\(path)' is not inside one of the class folders \(file.classNames)")
                }
                let fileURL = path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
                return LabeledFile(url: fileURL, label: label)
            }
        }
        return DatasetSplit(root: root, classNames: file.classNames, seed: file.seed, fractions: file.fractions,
                            train: try resolve(file.train), validation: try resolve(file.validation),
                            test: try resolve(file.test))
    }

    // MARK: Leaks between splits

    /// Groups of byte-identical files that are in more than one split, each file as
    /// "split: path relative to the root" ("train: daisy/a.jpg"). An image both trained on
    /// and tested on makes the test metrics too good. Unreadable files are left out (decoding
    /// reports them).
    public func identicalFilesAcrossSplits() -> [[String]] {
        let named = [("train", train), ("validation", validation), ("test", test)]
        // Candidates by length and hash (only their paths are kept), confirmed byte for byte.
        var candidates: [String: [(split: String, url: URL)]] = [:]
        for (name, files) in named {
            for file in files {
                guard let data = try? Data(contentsOf: file.url), !data.isEmpty else { continue }
                candidates["\(data.count)-\(DatasetInspection.fnv1a(data))", default: []].append((name, file.url))
            }
        }
        var groups: [[String]] = []
        for key in candidates.keys.sorted() {
            guard let members = candidates[key], Set(members.map(\.split)).count > 1 else { continue }
            var remaining = members.map { (split: $0.split, url: $0.url, data: (try? Data(contentsOf: $0.url)) ?? Data()) }
            while let first = remaining.first {
                let same = remaining.filter { $0.data == first.data }
                remaining.removeAll { $0.data == first.data }
                if Set(same.map(\.split)).count > 1 {
                    groups.append(same.map { "\($0.split): \(relativePath($0.url))" })
                }
            }
        }
        return groups.sorted { $0[0].utf8.lexicographicallyPrecedes($1[0].utf8) }
    }
}
