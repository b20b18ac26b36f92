import Foundation
import PetalCore
import PetalTestSupport
import XCTest
@testable import PetalData

final class DatasetTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = Fixtures.temporaryDirectory("petal-data") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// Writes `counts[name]` distinct small JPEGs per class.
    @discardableResult
    func makeDataset(_ counts: [String: Int], size: Int = 24) throws -> URL {
        var seed = 0
        for (name, n) in counts.sorted(by: { $0.key < $1.key }) {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
            for i in 0..<n {
                seed += 1
                _ = try JPEGEncoder.encode(TestImages.gradient(width: size, height: size, seed: seed), quality: 90)
                    .write(into: dir, "\(name)/img\(String(format: "%03d", i)).jpg")
            }
        }
        return dir
    }

    func testFolderScanOrdersClassesAndIgnoresOtherFiles() throws {
        try makeDataset(["tulip": 2, "daisy": 1, "sunflower": 1, "dandelion": 1, "rose": 1])
        let png = try PNGEncoder.encode(TestImages.solid(width: 4, height: 4, 1, 2, 3))
        _ = try png.write(into: dir, "rose/UPPER.PNG")
        _ = try png.write(into: dir, "rose/nested/deeper.JpEg")
        _ = try Data("x".utf8).write(into: dir, "rose/.DS_Store")
        _ = try Data("x".utf8).write(into: dir, "rose/notes.txt")
        _ = try Data("x".utf8).write(into: dir, "README.md")
        _ = try png.write(into: dir, ".hidden/a.png")
        let folder = try ImageFolder(dir)
        XCTAssertEqual(folder.classNames, ["daisy", "dandelion", "rose", "sunflower", "tulip"])
        XCTAssertEqual(folder.countsPerClass, [1, 1, 3, 1, 2])
        XCTAssertEqual(folder.ignoredCount, 2)   // notes.txt and README.md
        XCTAssertEqual(folder.hiddenCount, 2)    // rose/.DS_Store and the .hidden folder
        XCTAssertEqual(Set(folder.ignoredFiles.map(\.lastPathComponent)), ["notes.txt", "README.md"])
        let sunflower = folder.items.first { $0.url.path.contains("/sunflower/") }!
        XCTAssertEqual(sunflower.label, 3)
        XCTAssertEqual(try Batch(images: try Tensor(zeros: [1]), labels: [3], indices: [0]).oneHot(classCount: 5).toArray(), [0, 0, 0, 1, 0])

        XCTAssertThrowsError(try ImageFolder(dir.appendingPathComponent("nope"))) { XCTAssertTrue("\($0)".contains("no such folder")) }
        let emptyRoot = Fixtures.temporaryDirectory("petal-empty")
        XCTAssertThrowsError(try ImageFolder(emptyRoot)) { XCTAssertTrue("\($0)".contains("no class sub-folders")) }
    }

    func testStratifiedSplitIsDeterministicAndSaved() throws {
        try makeDataset(["a": 20, "b": 41, "c": 7])
        let folder = try ImageFolder(dir)
        let s1 = try DatasetSplit.stratified(folder, seed: 42)
        let s2 = try DatasetSplit.stratified(folder, seed: 42)
        let s3 = try DatasetSplit.stratified(folder, seed: 7)
        XCTAssertEqual(s1, s2)
        XCTAssertNotEqual(s1.test, s3.test)
        let c = s1.counts()
        // round(n * 0.15) for validation and test, the rest for training.
        XCTAssertEqual(c.validation, [3, 6, 1]); XCTAssertEqual(c.test, [3, 6, 1]); XCTAssertEqual(c.train, [14, 29, 5])
        // Every image exactly once.
        let all = (s1.train + s1.validation + s1.test).map(\.url.path)
        XCTAssertEqual(all.count, 68); XCTAssertEqual(Set(all), Set(folder.items.map(\.url.path)))
        // Labels follow the class folder.
        for f in s1.train + s1.test { XCTAssertTrue(f.url.path.contains("/\(folder.classNames[f.label])/")) }

        // The split is a pure function of the seed: a hand-run of the documented procedure
        // (per class: SplitMix64(seed, label) Fisher-Yates, first nVal validation, next nTest test).
        var rng = SplitMix64(seed: 42, 2)
        var cFiles = folder.items.filter { $0.label == 2 }
        rng.shuffle(&cFiles)
        XCTAssertEqual(s1.validation.filter { $0.label == 2 }, [cFiles[0]])
        XCTAssertEqual(s1.test.filter { $0.label == 2 }, [cFiles[1]])

        let file = dir.appendingPathComponent("run/split.json")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try s1.save(to: file)
        let loaded = try DatasetSplit.load(from: file)
        XCTAssertEqual(loaded.classNames, s1.classNames)
        XCTAssertEqual(loaded.test.map(\.url.path), s1.test.map(\.url.path))
        XCTAssertEqual(loaded.train.map(\.label), s1.train.map(\.label))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        XCTAssertEqual((json["test"] as! [String]).first.map { $0.hasPrefix("a/") }, true)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path), ["split.json"])
    }

    func testSmallClassesAndBadFractionsAreErrors() throws {
        try makeDataset(["big": 10, "tiny": 2])
        let folder = try ImageFolder(dir)
        XCTAssertThrowsError(try DatasetSplit.stratified(folder)) { error in
            XCTAssertEqual(error as? DataError, .classTooSmall(className: "tiny", count: 2, needed: 3))
            XCTAssertTrue("\(error)".contains("'tiny'"))
        }
        // Without a test split two images are enough.
        let s = try DatasetSplit.stratified(folder, train: 0.8, validation: 0.2, test: 0)
        XCTAssertEqual(s.counts().train, [8, 1]); XCTAssertEqual(s.counts().validation, [2, 1]); XCTAssertEqual(s.test, [])
        XCTAssertThrowsError(try DatasetSplit.stratified(folder, train: 0.5, validation: 0.2, test: 0.2))
        XCTAssertThrowsError(try DatasetSplit.stratified(folder, train: 1.2, validation: -0.2, test: 0))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try DatasetSplit.stratified(try ImageFolder(dir), train: 0.8, validation: 0.2, test: 0)) {
            XCTAssertTrue("\($0)".contains("'empty'"))
        }
    }

    func testCacheCollectsFailuresAndLoaderMakesBatches() throws {
        try makeDataset(["a": 5, "b": 4], size: 30)
        _ = try Data("not an image".utf8).write(into: dir, "a/zz-broken.jpg")
        _ = try Data().write(into: dir, "b/zz-empty.png")
        let folder = try ImageFolder(dir)
        XCTAssertEqual(folder.count, 11)
        let cache = try ImageCache(files: folder.items, size: (width: 20, height: 16))
        XCTAssertEqual(cache.count, 9)
        XCTAssertEqual(cache.failures.map { URL(fileURLWithPath: $0.path).lastPathComponent }.sorted(), ["zz-broken.jpg", "zz-empty.png"])
        XCTAssertTrue(cache.failures.allSatisfy { !$0.reason.isEmpty })
        XCTAssertEqual(cache.byteCount, 9 * 20 * 16 * 3)
        // Cached pixels are the resized decode.
        let direct = try ImageDecoder.decode(contentsOf: cache.files[3].url, width: 20, height: 16)
        XCTAssertEqual(cache.image(3), direct)

        let loader = BatchLoader.evaluation(cache: cache, batchSize: 4, normalization: .minusOneToOne)
        let batches = Array(loader.epoch(0))
        XCTAssertEqual(batches.map(\.count), [4, 4, 1])   // the last partial batch is kept
        XCTAssertEqual(batches.flatMap(\.labels), cache.labels)
        let first = batches[0].images
        XCTAssertEqual(first.shape, [4, 3, 16, 20]); XCTAssertEqual(first.layout, .nhwc([4, 3, 16, 20]))
        // NHWC storage: image 1, pixel (x 5, y 7), channel 2.
        let px = cache.pixels(1)[(7 * 20 + 5) * 3 + 2]
        XCTAssertEqual(Array(first.floats)[((1 * 16 + 7) * 20 + 5) * 3 + 2], Float(px) / 127.5 - 1, accuracy: 1e-6)

        XCTAssertThrowsError(try ImageCache(files: [LabeledFile(url: dir.appendingPathComponent("a/zz-broken.jpg"), label: 0)], size: (8, 8)))
    }

    func testShufflingAndAugmentationAreSeededPerEpoch() throws {
        try makeDataset(["a": 6, "b": 6], size: 32)
        let cache = try ImageCache(files: try ImageFolder(dir).items, size: (32, 32))
        func run(_ seed: UInt64, epoch: Int, workers: Int) -> ([Int], [Float]) {
            let loader = BatchLoader(cache: cache, batchSize: 5, shuffle: true, augmentation: .standard,
                                     normalization: .minusOneToOne, seed: seed, workers: workers, prefetch: 2)
            let batches = Array(loader.epoch(epoch))
            return (batches.flatMap(\.indices), batches.flatMap { Array($0.images.floats) })
        }
        let a = run(3, epoch: 0, workers: 2), b = run(3, epoch: 0, workers: 1)
        XCTAssertEqual(a.0, b.0); XCTAssertEqual(a.1, b.1)       // thread timing does not matter
        XCTAssertEqual(Set(a.0), Set(0..<12))                    // each image once per epoch
        XCTAssertNotEqual(run(3, epoch: 1, workers: 2).0, a.0)   // a new order each epoch
        XCTAssertNotEqual(run(4, epoch: 0, workers: 2).1, a.1)
        // Leaving an epoch early stops its workers without hanging.
        let loader = BatchLoader(cache: cache, batchSize: 2, shuffle: true, augmentation: .standard,
                                 normalization: .minusOneToOne, workers: 2, prefetch: 1)
        for batch in loader.epoch(0) { XCTAssertEqual(batch.count, 2); break }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            Prefetcher.liveLock.lock(); let live = Prefetcher.liveWorkers; Prefetcher.liveLock.unlock()
            if live == 0 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        Prefetcher.liveLock.lock(); let live = Prefetcher.liveWorkers; Prefetcher.liveLock.unlock()
        XCTAssertEqual(live, 0, "batch workers still running after the loop ended")
    }
}
