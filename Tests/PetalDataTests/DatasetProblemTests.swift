import Foundation
import PetalCore
import PetalTestSupport
import XCTest
@testable import PetalData

/// Datasets a user can get wrong: symbolic-link loops and duplicate links, a single class,
/// the same image in two splits. Each gives a clear error or report, and nothing is counted twice.
final class DatasetProblemTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = Fixtures.temporaryDirectory("petal-problems") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func image(_ path: String, seed: Int) throws {
        _ = try JPEGEncoder.encode(TestImages.gradient(width: 16, height: 16, seed: seed)).write(into: dir, path)
    }

    private func link(_ path: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(path).path,
                                                   withDestinationPath: destination)
    }

    /// A link to the root, a link to its own folder and a second link to an image: each real
    /// image is listed once (the user's 20 images gave 17,220 before), and the skipped links
    /// are reported by inspection.
    func testSymbolicLinksAreFollowedOncePerRealFile() throws {
        for i in 0..<10 { try image("cat/c\(i).jpg", seed: i) }
        for i in 0..<10 { try image("dog/d\(i).jpg", seed: 100 + i) }
        try link("cat/loop", to: dir.path)                                  // the root: a loop
        try link("dog/self", to: ".")                                       // its own folder
        try link("dog/again.jpg", to: dir.appendingPathComponent("cat/c0.jpg").path)  // an image found before
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("extra"), withIntermediateDirectories: true)
        try link("extra/cats", to: dir.appendingPathComponent("cat").path)  // another class's folder
        try image("extra/e0.jpg", seed: 200)
        try image("extra/e1.jpg", seed: 201)

        let folder = try ImageFolder(dir)
        XCTAssertEqual(folder.classNames, ["cat", "dog", "extra"])
        XCTAssertEqual(folder.countsPerClass, [10, 10, 2])
        XCTAssertEqual(Set(folder.items.map { $0.url.resolvingSymlinksInPath().path }).count, 22)
        XCTAssertEqual(folder.skippedLinks.map { folder.relativePath($0.url) }.sorted(),
                       ["cat/loop", "dog/again.jpg", "dog/self", "extra/cats"])
        XCTAssertEqual(folder.skippedLinks.first { $0.url.lastPathComponent == "again.jpg" }.map { folder.relativePath($0.firstFound) },
                       "cat/c0.jpg")

        // No image in two splits.
        let split = try DatasetSplit.stratified(folder, train: 0.6, validation: 0, test: 0.4)
        let real = { (files: [LabeledFile]) in Set(files.map { $0.url.resolvingSymlinksInPath().path }) }
        XCTAssertTrue(real(split.train).isDisjoint(with: real(split.test)))
        XCTAssertEqual(split.identicalFilesAcrossSplits(), [])

        let report = DatasetInspection.inspect(folder)
        XCTAssertEqual(report.skippedLinks.count, 4)
        XCTAssertTrue(report.problems.contains("link to a folder or image already found, skipped: dog/again.jpg (same as cat/c0.jpg)"),
                      "\(report.problems)")
    }

    func testOneClassIsAnErrorNamingTheFolder() throws {
        for i in 0..<5 { try image("only/o\(i).jpg", seed: i) }
        let folder = try ImageFolder(dir)
        XCTAssertThrowsError(try DatasetSplit.stratified(folder)) { error in
            XCTAssertEqual(error as? DataError, .tooFewClasses(path: folder.root.path, classNames: ["only"]))
            XCTAssertTrue("\(error)".contains("only one class (only)"), "\(error)")
            XCTAssertTrue("\(error)".contains("at least two classes"), "\(error)")
        }
        let report = DatasetInspection.inspect(folder)
        XCTAssertTrue(report.problems.contains("only one class (only): training needs at least two classes"), "\(report.problems)")
    }

    /// The same bytes under two names, one trained on and one tested on, are found.
    func testIdenticalFilesInTwoSplitsAreReported() throws {
        let same = try JPEGEncoder.encode(TestImages.gradient(width: 16, height: 16, seed: 1))
        _ = try same.write(into: dir, "a/first.jpg")
        _ = try same.write(into: dir, "a/second.jpg")
        try image("b/x.jpg", seed: 2)
        try image("b/y.jpg", seed: 3)
        let split = try DatasetSplit.stratified(try ImageFolder(dir), train: 0.5, validation: 0, test: 0.5)
        XCTAssertEqual(split.validation, [])
        let groups = split.identicalFilesAcrossSplits()
        XCTAssertEqual(groups.count, 1)
        let trained = split.train.filter { $0.label == 0 }.map(\.url.lastPathComponent)
        let tested = split.test.filter { $0.label == 0 }.map(\.url.lastPathComponent)
        XCTAssertEqual(trained.count, 1)
        XCTAssertEqual(tested.count, 1)
        XCTAssertEqual(Set(groups[0]), ["train: a/\(trained[0])", "test: a/\(tested[0])"])
    }

    /// split.json goes through PetalJSON and reads back.
    func testSplitFileRoundTrips() throws {
        for i in 0..<4 { try image("a/\(i).jpg", seed: i); try image("b/\(i).jpg", seed: 10 + i) }
        let split = try DatasetSplit.stratified(try ImageFolder(dir), train: 0.5, validation: 0.25, test: 0.25)
        let file = Fixtures.temporaryDirectory("petal-split").appendingPathComponent("split.json")
        try split.save(to: file)
        XCTAssertEqual(try PetalJSON.encode(try PetalJSON.decode(DatasetSplit.File.self, from: Data(contentsOf: file))),
                       try Data(contentsOf: file))
        let loaded = try DatasetSplit.load(from: file)
        XCTAssertEqual(loaded.test.map(\.url.path), split.test.map(\.url.path))
        XCTAssertEqual(loaded.validation.map(\.label), split.validation.map(\.label))
    }
}
