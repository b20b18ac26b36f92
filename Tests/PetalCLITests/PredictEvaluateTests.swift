import Foundation
import PetalCore
import PetalData
import PetalEvaluation
import PetalInference
import PetalTestSupport
import PetalTraining
import XCTest

/// `petal predict` and `petal evaluate` on a tiny model, as a user runs them: the numbers
/// are the library's, bad images and bad models get clear errors, bad options name themselves.
final class PredictEvaluateTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("cli-predict") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// The JSON `petal predict --json` prints for one image.
    private struct Prediction: Decodable, Equatable {
        var path: String
        var top: [ClassScore]?
        var error: String?
    }

    func testPredictPrintsTheLibrarysTopClasses() throws {
        let run = folder.appendingPathComponent("run")
        _ = try TinyModels.model(in: run, classes: ["daisy", "rose", "tulip"])
        var images = try TinyModels.files(in: folder.appendingPathComponent("images"), count: 3).map(\.path)
        let corrupt = folder.appendingPathComponent("images/broken.jpg")
        try Data("garbage".utf8).writeAtomically(to: corrupt)
        images.insert(corrupt.path, at: 1)

        let result = try PetalProcess.run(["predict", run.path] + images + ["--top", "2", "--json"])
        XCTAssertEqual(result.status, 1, "an image failed, so the exit status says so\n\(result.output)")
        XCTAssertTrue(result.stderr.contains(corrupt.path), result.output)
        let printed = try PetalJSON.decode([Prediction].self, from: Data(result.stdout.utf8))
        XCTAssertTrue(result.stdout.contains("\"class\" : \"") && result.stdout.contains("\"probability\" : "), result.stdout)
        XCTAssertEqual(printed.map(\.path), images)

        let expected = try ImageClassifier(contentsOf: run).classify(files: images.map { URL(fileURLWithPath: $0) }, top: 2)
        for (prediction, answer) in zip(printed, expected) {
            switch answer {
            case .success(let classification):
                XCTAssertEqual(prediction.top, classification.top)
                XCTAssertNil(prediction.error)
            case .failure(let error):
                XCTAssertEqual(prediction.error, "\(error)")
                XCTAssertNil(prediction.top)
            }
        }
        XCTAssertNotNil(printed[1].error)

        let text = try PetalProcess.run(["predict", run.appendingPathComponent("model.safetensors").path, images[0]])
        XCTAssertEqual(text.status, 0, text.output)
        let lines = text.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first.map(String.init), images[0])
        XCTAssertEqual(lines.count, 4, "the path and the 3 classes (--top 5 is capped by the classes)\n\(text.output)")
        XCTAssertTrue(lines.dropFirst().allSatisfy { ["daisy", "rose", "tulip"].contains(String($0.split(separator: " ")[1])) },
                      text.output)
    }

    /// A model whose weights are NaN: a clear error naming the file and tensor, never "daisy nan".
    func testPredictAndEvaluateRefuseAModelWithNaNWeights() throws {
        let model = try TinyModels.model(in: folder, classes: ["daisy", "rose"]) { model in
            for parameter in model.network.weights where parameter.name.hasPrefix("predictions") {
                withExtendedLifetime(parameter.value) { parameter.value.floats.update(repeating: .nan) }
            }
        }
        let image = try TinyModels.files(in: folder.appendingPathComponent("data/daisy"), count: 1)[0]
        _ = try TinyModels.files(in: folder.appendingPathComponent("data/rose"), count: 1)
        for arguments in [["predict", model.path, image.path], ["evaluate", model.path, folder.appendingPathComponent("data").path]] {
            let result = try PetalProcess.run(arguments)
            XCTAssertNotEqual(result.status, 0, result.output)
            XCTAssertTrue(result.stderr.contains(model.path) && result.stderr.contains("`predictions"), result.output)
            XCTAssertTrue(result.stderr.contains("non-finite"), result.output)
            XCTAssertFalse(result.stdout.lowercased().contains("nan"), result.output)
        }
    }

    /// Negative numbers reach the range check, which names the option.
    func testNumericOptionsNameTheirRange() throws {
        let cases: [([String], String)] = [
            (["predict", "--top", "-3", "model", "image.jpg"], "--top must be at least 1"),
            (["predict", "model", "image.jpg", "--top=-1"], "--top must be at least 1"),
            (["predict", "--batch-size", "-2", "model", "image.jpg"], "--batch-size must be at least 1"),
            (["predict", "--batch-size", "0", "model", "image.jpg"], "--batch-size must be at least 1"),
            (["evaluate", "run", "--top-k", "-1"], "--top-k must be at least 1"),
        ]
        for (arguments, message) in cases {
            let result = try PetalProcess.run(arguments)
            XCTAssertEqual(result.status, 64, result.output)
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.output)")
        }
    }

    /// `petal evaluate MODEL DATA` and `petal evaluate RUN` give the metrics of the library's
    /// probabilities; an undecodable image is named and skipped.
    func testEvaluateGivesTheMetricsOfTheLibrarysProbabilities() throws {
        let data = folder.appendingPathComponent("data")
        for (k, name) in ["cat", "dog"].enumerated() {
            _ = try TinyModels.files(in: data.appendingPathComponent(name), count: 4, seed: UInt64(10 * k))
        }
        let broken = data.appendingPathComponent("dog/broken.png")
        try Data("not a png".utf8).writeAtomically(to: broken)
        let run = folder.appendingPathComponent("run")
        let model = try TinyModels.model(in: run, classes: ["cat", "dog"])
        let classifier = try ImageClassifier(contentsOf: model)

        func expectedMetrics(_ files: [LabeledFile]) throws -> EvaluationMetrics {
            let rows = try classifier.probabilities(files: files.map(\.url))
            let kept = zip(files, rows).compactMap { file, row in (try? row.get()).map { (file.label, $0) } }
            return try EvaluationMetrics(probabilities: kept.map(\.1), labels: kept.map(\.0), classNames: ["cat", "dog"], topK: 1)
        }

        let direct = try PetalProcess.run(["evaluate", model.path, data.path, "--json", "--top-k", "1"])
        XCTAssertEqual(direct.status, 0, direct.output)
        XCTAssertTrue(direct.stderr.contains(broken.path), direct.output)
        let metrics = try PetalJSON.decode(EvaluationMetrics.self, from: Data(direct.stdout.utf8))
        XCTAssertEqual(metrics.sampleCount, 8)
        XCTAssertEqual(metrics, try expectedMetrics(try ImageFolder(data).items))

        let split = try DatasetSplit.stratified(try ImageFolder(data), train: 0.5, validation: 0.25, test: 0.25, seed: 3)
        try split.save(to: run.appendingPathComponent("split.json"))
        var state = RunState()
        state.phase = RunState.done
        try RunFolder(run).write(state, to: .state)
        let fromRun = try PetalProcess.run(["evaluate", run.path, "--json", "--top-k", "1"])
        XCTAssertEqual(fromRun.status, 0, fromRun.output)
        XCTAssertEqual(try PetalJSON.decode(EvaluationMetrics.self, from: Data(fromRun.stdout.utf8)),
                       try expectedMetrics(split.test))
    }
}
