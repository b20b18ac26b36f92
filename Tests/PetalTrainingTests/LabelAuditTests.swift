import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalTestSupport
@testable import PetalTraining
import XCTest

/// The whole audit on a generated dataset with labels flipped on purpose: it finds most of
/// them, and little else.
final class LabelAuditTests: XCTestCase {
    func testFindsFlippedLabels() throws {
        guard PretrainedWeights.installedDefault(for: .efficientNetLite(0)) != nil else {
            throw XCTSkip("EfficientNet-Lite0 weights are not installed (scripts/setup.sh): the audit needs a pretrained base")
        }
        let root = Fixtures.temporaryDirectory("petal-audit-data")
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try MislabeledDataset.make(in: root)
        var audit = LabelAudit(data: root)
        audit.imageSize = 128
        let result = try audit()
        XCTAssertEqual(result.imageCount, dataset.imageCount)
        XCTAssertEqual(result.classNames, MislabeledDataset.classNames)

        let flagged = Set(result.issues.map(\.path))
        let found = flagged.intersection(dataset.flipped).count
        let precision = Double(found) / Double(max(flagged.count, 1))
        let recall = Double(found) / Double(dataset.flipped.count)
        print(String(format: "label audit: %d flipped of %d images; %d flagged, %d of them flipped: precision %.2f, recall %.2f; out-of-fold accuracy %.3f, %.1f s",
                     dataset.flipped.count, dataset.imageCount, flagged.count, found, precision, recall,
                     result.outOfFoldAccuracy, result.seconds.total))
        XCTAssertGreaterThan(precision, 0.8)
        XCTAssertGreaterThan(recall, 0.8)
        // Each flipped image found is suggested back to the class it was drawn as.
        for issue in result.issues where dataset.flipped.contains(issue.path) {
            let drawnAs = String(issue.path.split(separator: "/")[1].split(separator: "-").prefix(2).joined(separator: "-"))
            XCTAssertEqual(issue.suggestedLabel, drawnAs, issue.path)
            XCTAssertNotEqual(issue.givenLabel, issue.suggestedLabel)
        }
        // Ranked as cleanlab ranks: lowest probability of the given label first.
        XCTAssertEqual(result.issues.map(\.givenLabelProbability), result.issues.map(\.givenLabelProbability).sorted())
        // The generated pictures of a class look alike to the base: every cross-class
        // near-duplicate is a flipped image beside one of its true class.
        for pair in result.nearDuplicates {
            XCTAssertTrue(pair.paths.contains { dataset.flipped.contains($0) }, "\(pair)")
        }
    }

    func testSameSeedSameAudit() throws {
        guard PretrainedWeights.installedDefault(for: .efficientNetLite(0)) != nil else {
            throw XCTSkip("EfficientNet-Lite0 weights are not installed (scripts/setup.sh)")
        }
        let root = Fixtures.temporaryDirectory("petal-audit-data")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try MislabeledDataset.make(in: root, perClass: 12)
        // A copy of an image under another class: an exact and a near duplicate across classes.
        let original = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("red-discs").path).sorted().first)
        try FileManager.default.copyItem(at: root.appendingPathComponent("red-discs/\(original)"),
                                         to: root.appendingPathComponent("blue-stripes/copy.jpg"))
        var audit = LabelAudit(data: root)
        audit.imageSize = 96
        audit.folds = 3
        var first = try audit()
        var second = try audit()
        first.seconds = .init(features: 0, crossValidation: 0, total: 0)
        second.seconds = first.seconds
        XCTAssertEqual(first, second)
        XCTAssertEqual(first.identicalFiles, [["blue-stripes/copy.jpg", "red-discs/\(original)"]])
        XCTAssertEqual(first.nearDuplicates.first?.paths, ["blue-stripes/copy.jpg", "red-discs/\(original)"])
        XCTAssertEqual(first.nearDuplicates.first?.similarity ?? 0, 1, accuracy: 1e-5)
    }

    func testStratifiedFoldsKeepClassShares() {
        let labels = (0..<50).map { $0 % 3 == 0 ? 0 : 1 }
        let folds = StratifiedFolds.assign(labels: labels, folds: 5, seed: 9)
        for fold in 0..<5 {
            let members = labels.indices.filter { folds[$0] == fold }
            let zeros = members.filter { labels[$0] == 0 }.count
            XCTAssertTrue((3...4).contains(zeros), "fold \(fold): \(zeros) of class 0")
            XCTAssertEqual(members.count, 10)
        }
        XCTAssertEqual(folds, StratifiedFolds.assign(labels: labels, folds: 5, seed: 9))
        XCTAssertNotEqual(folds, StratifiedFolds.assign(labels: labels, folds: 5, seed: 10))
    }

    func testRefusesBadSettings() {
        var audit = LabelAudit(data: URL(fileURLWithPath: "/nonexistent"))
        audit.folds = 1
        XCTAssertThrowsError(try audit.validate()) { XCTAssertTrue("\($0)".contains("--folds: 1 is not between 2 and 50"), "\($0)") }
        audit.folds = 5
        audit.backbone = "resnet-9000"
        XCTAssertThrowsError(try audit.validate()) { XCTAssertTrue("\($0)".contains("--backbone"), "\($0)") }
        audit.backbone = "efficientnet-lite0"
        XCTAssertThrowsError(try audit()) { XCTAssertTrue("\($0)".contains("/nonexistent"), "\($0)") }
    }
}
