import Foundation
import PetalTestSupport
import XCTest
@testable import PetalData

final class InspectionTests: XCTestCase {
    func testInspectionFindsEveryKindOfProblem() throws {
        let dir = Fixtures.temporaryDirectory("petal-inspect")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shared = try JPEGEncoder.encode(TestImages.gradient(width: 40, height: 30, seed: 1))
        _ = try shared.write(into: dir, "cat/a.jpg")
        _ = try shared.write(into: dir, "dog/same-as-cat.jpg")       // same image under two classes
        let twin = try JPEGEncoder.encode(TestImages.gradient(width: 20, height: 20, seed: 2))
        _ = try twin.write(into: dir, "cat/b.jpg")
        _ = try twin.write(into: dir, "cat/b copy.jpg")               // identical within a class
        for i in 0..<6 { _ = try JPEGEncoder.encode(TestImages.gradient(width: 20, height: 20, seed: 10 + i)).write(into: dir, "cat/c\(i).jpg") }
        _ = try Data("<html>".utf8).write(into: dir, "dog/page.jpg")  // does not decode
        _ = try Data("x".utf8).write(into: dir, "dog/labels.csv")     // ignored
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("fish"), withIntermediateDirectories: true)

        let report = DatasetInspection.inspect(try ImageFolder(dir))
        XCTAssertEqual(report.classes, [.init(name: "cat", count: 9), .init(name: "dog", count: 2), .init(name: "fish", count: 0)])
        XCTAssertEqual(report.ignoredFiles, ["dog/labels.csv"])
        XCTAssertEqual(report.failures.map { URL(fileURLWithPath: $0.path).lastPathComponent }, ["page.jpg"])
        XCTAssertTrue(report.failures[0].reason.contains("not a JPEG or PNG"))
        XCTAssertEqual(report.duplicates, [["cat/b copy.jpg", "cat/b.jpg"]])
        XCTAssertEqual(report.crossClassDuplicates, [["cat/a.jpg", "dog/same-as-cat.jpg"]])
        XCTAssertEqual(report.emptyClasses, ["fish"])
        XCTAssertEqual(report.imbalanceRatio, 4.5, accuracy: 1e-9)
        XCTAssertTrue(report.isImbalanced)
        XCTAssertEqual(report.sizes, [.init(width: 20, height: 20, count: 8), .init(width: 40, height: 30, count: 2)])
        XCTAssertEqual(report.problems.count, 5)
        XCTAssertTrue(report.text.contains("empty class: fish"))
        let json = try JSONEncoder().encode(report)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    }

    /// The shared flowers dataset: five classes with known counts, and a split and batches from it.
    func testFlowersDataset() throws {
        guard let flowers = Fixtures.flowers else {
            print("skipped: the flowers dataset is not on this machine (set PETAL_FLOWERS)")
            return
        }
        let folder = try ImageFolder(flowers)
        XCTAssertEqual(folder.classNames, ["daisy", "dandelion", "rose", "sunflower", "tulip"])
        XCTAssertEqual(folder.countsPerClass, [631, 864, 645, 590, 725])
        XCTAssertEqual(folder.ignoredCount, 0)
        let split = try DatasetSplit.stratified(folder, seed: 42)
        XCTAssertEqual(split.train.count + split.validation.count + split.test.count, 3455)
        XCTAssertEqual(split.counts().test, [95, 130, 97, 89, 109])   // round(0.15 n) per class
        let cache = try ImageCache(files: Array(split.test.prefix(40)), size: (224, 224))
        XCTAssertEqual(cache.count, 40); XCTAssertEqual(cache.failures, [])
        let loader = BatchLoader(cache: cache, batchSize: 32, shuffle: true, augmentation: .standard,
                                 normalization: .minusOneToOne, seed: 42)
        let batches = Array(loader.epoch(0))
        XCTAssertEqual(batches.map(\.count), [32, 8])
        let values = Array(batches[0].images.floats)
        XCTAssertTrue(values.allSatisfy { $0 >= -1 && $0 <= 1 })
    }
}
