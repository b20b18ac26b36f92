import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalTestSupport
import PetalTraining
import XCTest

/// `petal data audit` and `petal train --exclude`, run through the built binary as a user
/// runs them.
final class AuditCommandTests: XCTestCase {
    private var work: URL!

    override func setUpWithError() throws { work = Fixtures.temporaryDirectory("petal-cli-audit") }
    override func tearDown() { try? FileManager.default.removeItem(at: work) }

    /// The audit writes its page, JSON and exclude.txt; `train --exclude` leaves those files
    /// out of the split, says how many, and records the count in state.json.
    func testAuditThenTrainExcludingWhatItFound() throws {
        guard PretrainedWeights.installedDefault(for: .efficientNetLite(0)) != nil else {
            throw XCTSkip("EfficientNet-Lite0 weights are not installed (scripts/setup.sh): the audit needs a pretrained base")
        }
        let data = work.appendingPathComponent("data")
        let dataset = try MislabeledDataset.make(in: data, perClass: 20)
        let out = work.appendingPathComponent("audit")
        let audit = try PetalProcess.run(["data", "audit", data.path, "--image-size", "96", "--out", out.path, "--json"])
        XCTAssertEqual(audit.status, 0, audit.output)
        let result = try PetalJSON.decode(LabelAuditResult.self, from: Data(audit.stdout.utf8))
        XCTAssertTrue(audit.stderr.contains("\(result.issues.count) of \(dataset.imageCount) images likely mislabeled"), audit.output)
        XCTAssertTrue(audit.stderr.contains("page: \(out.path)/audit.html"), audit.output)
        XCTAssertGreaterThan(result.issues.count, 0)
        let page = try String(contentsOf: out.appendingPathComponent("audit.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("data:image/jpeg;base64,"))
        XCTAssertTrue(page.contains(result.issues[0].path))
        let listed = try ExcludeList.read(out.appendingPathComponent("exclude.txt")).paths
        XCTAssertEqual(listed, result.issues.map(\.path))

        // A second audit replaces the first (Petal's own folder).
        let again = try PetalProcess.run(["data", "audit", data.path, "--image-size", "96", "--out", out.path])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.stdout.contains("images likely mislabeled"), again.output)

        // Train without the flagged images, plus a stale path (a warning).
        let exclude = work.appendingPathComponent("exclude.txt")
        try Data((listed + ["blue-stripes/deleted-since.jpg"]).joined(separator: "\n").utf8).write(to: exclude)
        let run = work.appendingPathComponent("run")
        let train = try PetalProcess.run(["train", data.path, "--exclude", exclude.path, "--out", run.path,
                                          "--epochs-fe", "1", "--epochs-ft", "0", "--image-size", "64", "--batch-size", "16"])
        XCTAssertEqual(train.status, 0, train.output)
        let said = train.stdout + train.stderr
        XCTAssertTrue(said.contains("Excluded \(listed.count) images listed in \(exclude.path)"), train.output)
        XCTAssertTrue(said.contains("warning: 1 paths in \(exclude.path) are not images of"), train.output)
        XCTAssertTrue(said.contains("blue-stripes/deleted-since.jpg"), train.output)
        let split = try DatasetSplit.load(from: run.appendingPathComponent("split.json"))
        let used = Set((split.train + split.validation + split.test).map { $0.url.standardizedFileURL.path })
        XCTAssertEqual(used.count, dataset.imageCount - listed.count)
        for path in listed { XCTAssertFalse(used.contains(data.appendingPathComponent(path).standardizedFileURL.path), path) }
        let state = try PetalJSON.decode(RunState.self, from: Data(contentsOf: run.appendingPathComponent("state.json")))
        XCTAssertEqual(state.excludedImages, listed.count)
        let config = try PetalJSON.decode(TransferLearningConfig.self, from: Data(contentsOf: run.appendingPathComponent("config.json")))
        XCTAssertEqual(config.exclude, exclude.path)
    }

    /// Bad input: a usage error or a failure naming the problem, and nothing of the user's touched.
    func testRefusals() throws {
        let data = work.appendingPathComponent("data")
        _ = try MislabeledDataset.make(in: data, perClass: 3)

        let missing = try PetalProcess.run(["data", "audit", work.appendingPathComponent("nope").path, "--out", work.appendingPathComponent("a").path])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.stderr.contains("petal data audit: \(work.appendingPathComponent("nope").path)"), missing.output)
        XCTAssertTrue(missing.stderr.contains("no such folder"), missing.output)

        for folds in ["1", "0", "-2", "100"] {
            let bad = try PetalProcess.run(["data", "audit", data.path, "--folds", folds])
            XCTAssertEqual(bad.status, 64, bad.output)
            XCTAssertTrue(bad.stderr.contains("--folds: \(folds) is not between 2 and 50"), bad.output)
        }

        // A folder of the user's: refused before any work, its file untouched.
        let mine = work.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: mine.appendingPathComponent("notes.txt"))
        let refused = try PetalProcess.run(["data", "audit", data.path, "--out", mine.path])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.stderr.contains("holds files Petal did not write (notes.txt)"), refused.output)
        XCTAssertEqual(try String(contentsOf: mine.appendingPathComponent("notes.txt"), encoding: .utf8), "keep me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mine.path), ["notes.txt"])

        // Never inside the dataset, and never over a file.
        let inside = try PetalProcess.run(["data", "audit", data.path, "--out", data.appendingPathComponent("audit").path])
        XCTAssertEqual(inside.status, 1, inside.output)
        XCTAssertTrue(inside.stderr.contains("is inside the dataset folder"), inside.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: data.appendingPathComponent("audit").path))
        let file = mine.appendingPathComponent("notes.txt")
        let overFile = try PetalProcess.run(["data", "audit", data.path, "--out", file.path])
        XCTAssertEqual(overFile.status, 1, overFile.output)
        XCTAssertTrue(overFile.stderr.contains("is a file"), overFile.output)

        // train --exclude: a missing list, and a list of another dataset's images.
        let run = work.appendingPathComponent("run")
        let noList = try PetalProcess.run(["train", data.path, "--exclude", work.appendingPathComponent("none.txt").path, "--out", run.path])
        XCTAssertEqual(noList.status, 1, noList.output)
        XCTAssertTrue(noList.stderr.contains("--exclude \(work.appendingPathComponent("none.txt").path): no such file"), noList.output)
        let other = work.appendingPathComponent("other.txt")
        try Data("# another dataset\ndaisy/1.jpg\n".utf8).write(to: other)
        let wrongList = try PetalProcess.run(["train", data.path, "--exclude", other.path, "--out", run.path])
        XCTAssertEqual(wrongList.status, 1, wrongList.output)
        XCTAssertTrue(wrongList.stderr.contains("none of its paths is an image of"), wrongList.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "a failed start leaves no run folder")
    }
}
