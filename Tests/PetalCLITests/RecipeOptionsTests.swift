import Foundation
import PetalCore
import PetalData
import PetalEvaluation
import PetalInference
import PetalTestSupport
import PetalTraining
import XCTest

/// The recipe options as a user runs them: `petal train --class-weight --label-smoothing`,
/// `petal evaluate/predict --tta flip` and `petal lr-find`, through the built binary.
final class RecipeOptionsTests: XCTestCase {
    private var work: URL!
    private var data: URL!

    override func setUpWithError() throws {
        work = Fixtures.temporaryDirectory("cli-recipe")
        data = work.appendingPathComponent("data")
        // Imbalanced: 4 daisies, 8 roses.
        _ = try TinyModels.files(in: data.appendingPathComponent("daisy"), count: 4, seed: 100)
        _ = try TinyModels.files(in: data.appendingPathComponent("rose"), count: 8, seed: 900)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: work) }

    private let tiny = ["--backbone", "mobilenetv2", "--weights", "none", "--image-size", "32", "--batch-size", "4"]

    func testTrainWithBalancedClassWeightsAndLabelSmoothingThenEvaluateAndPredictWithFlip() throws {
        let run = work.appendingPathComponent("run")
        let trained = try PetalProcess.run(["train", data.path, "--out", run.path, "--alpha", "0.35", "--epochs-fe", "1",
                                            "--epochs-ft", "1", "--split", "0.5,0.25,0.25", "--class-weight", "balanced",
                                            "--label-smoothing", "0.1", "--quiet"] + tiny)
        XCTAssertEqual(trained.status, 0, trained.output)
        let folder = RunFolder(run)
        let config = try folder.read(TransferLearningConfig.self, from: .config)
        XCTAssertEqual(config.classWeight, .balanced)
        XCTAssertEqual(config.labelSmoothing, 0.1)
        let split = try DatasetSplit.load(from: folder.url(.split))
        let counts = split.counts().train
        let state = try folder.read(RunState.self, from: .state)
        let total = Double(counts.reduce(0, +))
        for (name, count) in zip(split.classNames, counts) {
            // scikit-learn's "balanced": n_samples / (n_classes * count), on the training split.
            XCTAssertEqual(try XCTUnwrap(state.classWeights?[name]), total / (2 * Double(count)), accuracy: 1e-6, name)
        }
        let saved = try XCTUnwrap(try folder.metrics())
        let balanced = try XCTUnwrap(saved.balancedAccuracy)
        XCTAssertEqual(balanced, saved.perClass.filter { $0.support > 0 }.map(\.recall).reduce(0, +) / 2, accuracy: 1e-12)
        XCTAssertTrue(try String(contentsOf: folder.url(.report), encoding: .utf8).contains("balanced accuracy"))

        // evaluate --tta flip: the flip classifier's numbers on the run's test split, recorded as such.
        let evaluated = try PetalProcess.run(["evaluate", run.path, "--tta", "flip", "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.output)
        let metrics = try PetalJSON.decode(EvaluationMetrics.self, from: Data(evaluated.stdout.utf8))
        XCTAssertEqual(metrics.testTimeAugmentation, "flip")
        let flip = try ImageClassifier(contentsOf: run, testTimeAugmentation: .flip)
        var expected = try EvaluationMetrics(probabilities: try flip.probabilities(files: split.test.map(\.url)).map { try $0.get() },
                                             labels: split.test.map(\.label), classNames: split.classNames)
        expected.testTimeAugmentation = "flip"
        XCTAssertEqual(metrics, expected)
        let plain = try PetalProcess.run(["evaluate", run.path, "--json"])
        XCTAssertFalse(plain.stdout.contains("testTimeAugmentation"), plain.output)
        let table = try PetalProcess.run(["evaluate", run.path, "--tta", "flip"])
        XCTAssertTrue(table.stdout.contains("test-time aug.  flip") && table.stdout.contains("balanced acc."), table.output)

        let image = split.test[0].url.path
        let predicted = try PetalProcess.run(["predict", run.path, image, "--tta", "flip", "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.output)
        let expectedTop = try flip.classify(.file(split.test[0].url), top: 2).top
        struct Printed: Decodable { var top: [ClassScore] }
        XCTAssertEqual(try PetalJSON.decode([Printed].self, from: Data(predicted.stdout.utf8))[0].top, expectedTop)

        // --resume keeps the run's loss options.
        let resumed = try PetalProcess.run(["train", "--resume", run.path, "--label-smoothing", "0.2"])
        XCTAssertEqual(resumed.status, 64, resumed.output)
        XCTAssertTrue(resumed.stderr.contains("--label-smoothing 0.2 contradicts the run being resumed"), resumed.output)
    }

    func testBadRecipeOptionsAreUsageErrorsNamingTheOption() throws {
        let run = work.appendingPathComponent("run")
        let cases: [([String], String)] = [
            (["train", data.path, "--class-weight", "tulip=2"], "--class-weight: no class 'tulip' in the data; its classes are daisy, rose"),
            (["train", data.path, "--class-weight", "rose=0"], "--class-weight rose is 0; it must be a finite number above 0"),
            (["train", data.path, "--class-weight", "rose=inf"], "--class-weight rose is inf, not a finite number"),
            (["train", data.path, "--class-weight", "heavy"], "--class-weight: 'heavy' is not class=weight"),
            (["train", data.path, "--label-smoothing", "1"], "--label-smoothing is 1; it must be at least 0 and below 1"),
            (["train", data.path, "--label-smoothing", "-0.5"], "--label-smoothing is -0.5"),
            (["evaluate", run.path, "--tta", "mirror"], "unknown --tta 'mirror': use one of none, flip"),
            (["predict", run.path, "x.jpg", "--tta", "rotate"], "unknown --tta 'rotate'"),
            (["evaluate", "--predictions", "p.json", "--tta", "flip"], "--tta applies when a model runs"),
            (["lr-find", data.path, "--steps", "1"], "--steps is 1; it must be between 2 and 100000"),
            (["lr-find", data.path, "--end-lr", "1e-9"], "--end-lr: 1e-09 is not above --start-lr 1e-07"),
            (["lr-find", data.path, "--class-weight", "tulip=1"], "--class-weight: no class 'tulip'"),
        ]
        for (arguments, message) in cases {
            let result = try PetalProcess.run(arguments + (arguments[0] == "train" ? ["--out", run.path] : []))
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.output)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): expected '\(message)' in\n\(result.output)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "\(arguments)")
        }
    }

    func testLRFindWritesItsOwnFolderAndNeverAUsersFile() throws {
        let before = try FolderSnapshot(data)
        let out = work.appendingPathComponent("lr")
        let sweep = ["--steps", "10", "--start-lr", "1e-5", "--end-lr", "1"]
        let first = try PetalProcess.run(["lr-find", data.path, "--out", out.path, "--json"] + tiny + sweep)
        XCTAssertEqual(first.status, 0, first.output)
        let finding = try PetalJSON.decode(LearningRateFinding.self, from: Data(first.stdout.utf8))
        XCTAssertEqual(finding.learningRates.first, 1e-5)
        for i in 1..<finding.learningRates.count {
            XCTAssertEqual(finding.learningRates[i] / finding.learningRates[i - 1], pow(1e5, 1.0 / 9), accuracy: 1e-12)
        }
        XCTAssertEqual(finding.losses.count, finding.learningRates.count)
        XCTAssertTrue(finding.learningRates.contains(finding.suggestedLearningRate))
        XCTAssertEqual(try RunFolder.readJSON(LearningRateFinding.self, from: out.appendingPathComponent("lr-find.json")), finding)
        let page = try String(contentsOf: out.appendingPathComponent("lr-find.html"), encoding: .utf8)
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg") && page.contains("smoothed loss"), page)
        XCTAssertTrue(page.contains(String(format: "%.2g", finding.suggestedLearningRate)))
        XCTAssertFalse(page.contains("src=") || page.contains("<script") || page.contains("href=\"http"), "self-contained")
        XCTAssertEqual(try FolderSnapshot(data), before, "the data folder is untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(), ["lr-find.html", "lr-find.json"])

        // Again into the same folder, which now also holds a user's notes: they stay.
        let notes = out.appendingPathComponent("notes.txt")
        try Data("my notes".utf8).write(to: notes)
        let second = try PetalProcess.run(["lr-find", data.path, "--out", out.path] + tiny + sweep)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.stdout.contains("Suggested learning rate: ") && second.stdout.contains("steepest"), second.output)
        XCTAssertEqual(try String(contentsOf: notes, encoding: .utf8), "my notes")

        // A folder Petal did not write, even with a page of the same name: refused, left as it was.
        let foreign = work.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("my page".utf8).write(to: foreign.appendingPathComponent("lr-find.html"))
        let refused = try PetalProcess.run(["lr-find", data.path, "--out", foreign.path] + tiny + sweep)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.stderr.contains("--out \(foreign.path) holds files Petal did not write (lr-find.html)"), refused.output)
        XCTAssertEqual(try String(contentsOf: foreign.appendingPathComponent("lr-find.html"), encoding: .utf8), "my page")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: foreign.path), ["lr-find.html"])
    }
}
