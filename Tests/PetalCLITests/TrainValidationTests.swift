import Foundation
import PetalCore
import PetalData
import PetalTestSupport
import XCTest

/// `petal train` and `petal data inspect` with bad input, as a user types it: a usage error
/// (exit 64) naming the option and its range, and no run folder written.
final class TrainValidationTests: XCTestCase {
    private var data: URL!
    private var work: URL!

    override func setUpWithError() throws {
        work = Fixtures.temporaryDirectory("petal-cli-validation")
        data = work.appendingPathComponent("data")
        // Two classes of three distinct tiny JPEGs.
        for (c, name) in ["a", "b"].enumerated() {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(name), withIntermediateDirectories: true)
            for i in 0..<3 {
                var image = RGBImage(width: 16, height: 16)
                for p in 0..<image.pixels.count { image.pixels[p] = UInt8((p * (c + 1) + i * 37) % 256) }
                try JPEGEncoder.write(image, to: data.appendingPathComponent("\(name)/\(i).jpg"))
            }
        }
    }

    override func tearDown() { try? FileManager.default.removeItem(at: work) }

    private func train(_ options: [String]) throws -> PetalProcess.Result {
        try PetalProcess.run(["train", data.path, "--out", work.appendingPathComponent("run").path] + options)
    }

    func testBadOptionValuesAreUsageErrorsNamingTheOption() throws {
        let cases: [([String], String)] = [
            (["--threads", "0"], "--threads is 0; it must be between 1 and 1024"),
            (["--threads", "-3"], "--threads is -3; it must be between 1 and 1024"),
            (["--lr", "nan"], "--lr is nan, not a finite number"),
            (["--lr", "1e30"], "--lr is 1e+30; it must be above 0 and at most 10"),
            (["--augment", "zoom=50"], "--augment zoom is 50; it must be between 0 and 1"),
            (["--augment", "brightness=1000"], "--augment brightness is 1000"),
            (["--epochs-fe", "0", "--epochs-ft", "0"], "would save an untrained model"),
            (["--image-size", "100000"], "--image-size is 100000; it must be between 32 and 1024"),
            (["--batch-size", "-1"], "--batch-size is -1; it must be between 1 and 4096"),
            (["--dropout", "inf"], "--dropout is inf, not a finite number"),
            (["--split", "0.7,0.4,-0.1"], "--split test is -0.1; it must be between 0 and 1"),
            (["--split", "0.5,0.5,0.5"], "not 1"),
            (["--image-size", "1024", "--batch-size", "4096"], "lower --image-size or --batch-size"),
            (["--seed", "-1"], "--seed is -1; it must be a whole number between 0 and 18446744073709551615"),
        ]
        for (options, message) in cases {
            let result = try train(options)
            XCTAssertEqual(result.status, 64, "\(options): \(result.output)")
            XCTAssertTrue(result.stderr.contains(message), "\(options): expected '\(message)' in\n\(result.output)")
            XCTAssertFalse(result.stderr.contains("EncodingError"), result.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("run").path), "\(options)")
        }
    }

    /// `--resume` keeps the run's configuration: options that contradict it are refused,
    /// options that agree are accepted (and the run then says what else is wrong).
    func testResumeRefusesOptionsThatContradictTheRun() throws {
        let run = work.appendingPathComponent("old-run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let config = """
            {"data": "\(data.path)", "backbone": "efficientnet-lite0", "alpha": 1, "batch_size": 32,
             "epochs_fe": 8, "epochs_ft": 8, "lr": 0.001, "optimizer": "rmsprop", "augmentation": {},
             "head": {"hiddenUnits": [], "dropout": 0.2}, "train_fraction": 0.7, "validation_fraction": 0.15,
             "test_fraction": 0.15, "seed": 42, "reduce_lr_factor": 0.25, "reduce_lr_patience": 3,
             "early_stopping_patience": 5, "monitor": "val_accuracy", "train_bn_statistics": false}
            """
        try Data(config.utf8).write(to: run.appendingPathComponent("config.json"))
        let contradicting = try PetalProcess.run(["train", "--resume", run.path, "--lr", "0.01"])
        XCTAssertEqual(contradicting.status, 64, contradicting.output)
        XCTAssertTrue(contradicting.stderr.contains("--lr 0.01 contradicts the run being resumed"), contradicting.output)
        XCTAssertTrue(contradicting.stderr.contains("--lr 0.001"), contradicting.output)

        let otherData = try PetalProcess.run(["train", "--resume", run.path, work.path])
        XCTAssertEqual(otherData.status, 64, otherData.output)
        XCTAssertTrue(otherData.stderr.contains("DATA \(work.path) contradicts"), otherData.output)

        // Agreeing options pass the check; this folder has no state.json, which the run reports.
        let agreeing = try PetalProcess.run(["train", "--resume", run.path, "--lr", "0.001", "--seed", "42"])
        XCTAssertNotEqual(agreeing.status, 64, agreeing.output)
        XCTAssertFalse(agreeing.stderr.contains("contradicts"), agreeing.output)
    }

    func testOneClassDatasetIsAClearError() throws {
        try FileManager.default.removeItem(at: data.appendingPathComponent("b"))
        let result = try train(["--epochs-fe", "1", "--epochs-ft", "0", "--weights", "none", "--image-size", "32"])
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stderr.contains("only one class (a)"), result.output)
        XCTAssertTrue(result.stderr.contains("at least two classes"), result.output)
    }

    func testDataInspectExitsNonZeroOnBrokenFiles() throws {
        let clean = try PetalProcess.run(["data", "inspect", data.path])
        XCTAssertEqual(clean.status, 0, clean.output)
        try Data("<html>".utf8).write(to: data.appendingPathComponent("a/broken.jpg"))
        let broken = try PetalProcess.run(["data", "inspect", data.path])
        XCTAssertEqual(broken.status, 1, broken.output)
        XCTAssertTrue(broken.stdout.contains("does not decode"), broken.output)
        XCTAssertTrue(broken.stdout.contains("a/broken.jpg"), broken.output)
        let json = try PetalProcess.run(["data", "inspect", "--json", data.path])
        XCTAssertEqual(json.status, 1, json.output)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((object?["failures"] as? [Any])?.count, 1)
    }

    /// `--split 1,0,0`: no validation and no test images. Training runs without the callbacks
    /// that need validation, and says there are no test metrics instead of printing 0 %.
    func testEmptyValidationAndTestSplitsReportNoMetrics() throws {
        let result = try train(["--split", "1,0,0", "--epochs-fe", "1", "--epochs-ft", "0", "--weights", "none",
                                "--backbone", "mobilenetv2", "--alpha", "0.35", "--image-size", "32", "--batch-size", "4"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("No validation images: ReduceLROnPlateau(val_accuracy), EarlyStopping(val_accuracy), ModelCheckpoint(val_accuracy) off"),
                      result.output)
        XCTAssertTrue(result.stdout.contains("No test images"), result.output)
        XCTAssertFalse(result.stdout.contains("0.00%"), result.output)
        let metrics = try JSONSerialization.jsonObject(
            with: Data(contentsOf: work.appendingPathComponent("run/metrics.json"))) as? [String: Any]
        XCTAssertEqual(metrics?["sampleCount"] as? Int, 0)
        XCTAssertNotEqual(metrics?["accuracy"] as? Double, 0)
        let report = try String(contentsOf: work.appendingPathComponent("run/report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("The test split has no images, so there are no test results."))
        XCTAssertFalse(report.lowercased().contains("nan"))
        let evaluation = try PetalProcess.run(["evaluate", work.appendingPathComponent("run").path])
        XCTAssertEqual(evaluation.status, 0, evaluation.output)
        XCTAssertEqual(evaluation.stdout, "Evaluated 0 images in 2 classes: no images, so no metrics\n")
    }

    /// The same image in the training and the test split is reported by `petal train` itself.
    func testIdenticalFilesInTwoSplitsAreReportedByTrain() throws {
        try FileManager.default.removeItem(at: data.appendingPathComponent("a/2.jpg"))
        try FileManager.default.copyItem(at: data.appendingPathComponent("a/0.jpg"), to: data.appendingPathComponent("a/copy.jpg"))
        try FileManager.default.removeItem(at: data.appendingPathComponent("a/1.jpg"))
        try FileManager.default.removeItem(at: data.appendingPathComponent("b/2.jpg"))
        // Two images per class, one trained on and one tested on: a/0.jpg and its copy are apart.
        let result = try train(["--split", "0.5,0,0.5", "--epochs-fe", "1", "--epochs-ft", "0", "--weights", "none",
                                "--backbone", "mobilenetv2", "--alpha", "0.35", "--image-size", "32", "--batch-size", "2"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("identical files in more than one split"), result.output)
        XCTAssertTrue(result.output.contains("a/0.jpg") && result.output.contains("a/copy.jpg"), result.output)
    }
}
