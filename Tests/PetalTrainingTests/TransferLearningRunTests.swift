import Foundation
import XCTest
import PetalCore
import PetalData
import PetalModels
import PetalWeights
@testable import PetalTraining
import PetalTestSupport

/// End to end: a tiny two-class data set (made here), one epoch of each phase, and the
/// run folder it leaves; then a resumed run and the saved model's predictions.
final class TransferLearningRunTests: XCTestCase {
    private func config(_ data: URL) -> TransferLearningConfig {
        var config = TransferLearningConfig(data: data.path)
        config.backbone = "efficientnet-lite0"
        // Real weights when set-up installed them; the run is the same otherwise.
        config.weights = PretrainedWeights.installedDefault(for: .efficientNetLite(0)) == nil ? "none" : nil
        config.imageSize = 64
        config.batchSize = 4
        config.epochsFeatureExtraction = 1
        config.epochsFineTuning = 1
        config.learningRate = 1e-2
        config.trainFraction = 0.6
        config.validationFraction = 0.2
        config.testFraction = 0.2
        return config
    }

    func testTwoPhaseRunWritesItsFolder() throws {
        let data = try TinyDataset.make()
        let folder = Fixtures.temporaryDirectory("petal-run").appendingPathComponent("run")
        let run = try TransferLearningRun(config: config(data), folder: folder, progress: ProgressReporter(style: .quiet))
        let outcome = try run.execute()
        XCTAssertFalse(outcome.interrupted)
        XCTAssertEqual(outcome.phases.map(\.name), ["feature-extraction", "fine-tuning"])
        XCTAssertEqual(outcome.classNames, ["cool", "warm"])
        XCTAssertEqual(outcome.ignoredFiles, 1)
        XCTAssertEqual(outcome.test.labels.count, 4)
        XCTAssertTrue(outcome.test.accuracy >= 0 && outcome.test.accuracy <= 1)
        for name in ["config.json", "split.json", "history.json", "history.csv", "state.json", "model.safetensors",
                     "best.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), name)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("last.safetensors").path))
        let history = try JSONDecoder().decode(TrainingHistory.self,
                                               from: Data(contentsOf: folder.appendingPathComponent("history.json")))
        XCTAssertEqual(history.epochs.map(\.phase), ["feature-extraction", "fine-tuning"])
        XCTAssertEqual(history.fineTuningStartEpoch, 2)
        XCTAssertLessThan(history.epochs[1].learningRate, history.epochs[0].learningRate)

        // The saved model predicts what the run's model predicts.
        let model = try TransferClassifier.load(from: folder.appendingPathComponent("model.safetensors"))
        let cache = try ImageCache(files: outcome.testFiles, side: 64)
        let loader = BatchLoader(cache: cache, batchSize: 4, shuffle: false, normalization: model.normalization)
        let reloaded = try Trainer.evaluate(model, loader)
        for (a, b) in zip(reloaded.probabilities.joined(), outcome.test.probabilities.joined()) {
            XCTAssertEqual(a, b, accuracy: 1e-5)
        }
        // A finished run cannot be started again in the same folder.
        XCTAssertThrowsError(try TransferLearningRun(config: config(data), folder: folder,
                                                     progress: ProgressReporter(style: .quiet)))
    }

    /// The same seed and thread count give the same history (augmentation, shuffling, dropout,
    /// head initialisation and both phases' arithmetic), and another seed a different one.
    func testSameSeedGivesTheSameHistory() throws {
        let data = try TinyDataset.make(perClass: 6)
        func history(seed: UInt64, _ name: String) throws -> [EpochRecord] {
            var settings = config(data)
            settings.seed = seed
            settings.threads = 2
            let folder = Fixtures.temporaryDirectory("petal-seed").appendingPathComponent(name)
            let run = try TransferLearningRun(config: settings, folder: folder, progress: ProgressReporter(style: .quiet))
            _ = try run.execute()
            return try JSONDecoder().decode(TrainingHistory.self,
                                            from: Data(contentsOf: folder.appendingPathComponent("history.json"))).epochs
        }
        let first = try history(seed: 7, "a"), second = try history(seed: 7, "b"), other = try history(seed: 8, "c")
        XCTAssertEqual(first.count, 2)
        XCTAssertEqual(first.map(\.loss), second.map(\.loss))
        XCTAssertEqual(first.map(\.accuracy), second.map(\.accuracy))
        XCTAssertEqual(first.map(\.validationLoss), second.map(\.validationLoss))
        XCTAssertNotEqual(first.map(\.loss), other.map(\.loss))
    }

    func testInterruptedRunResumesFromItsLastEpoch() throws {
        let data = try TinyDataset.make(perClass: 6)
        let folder = Fixtures.temporaryDirectory("petal-resume").appendingPathComponent("run")
        var settings = config(data)
        settings.epochsFeatureExtraction = 2
        let run = try TransferLearningRun(config: settings, folder: folder, progress: ProgressReporter(style: .quiet))
        // Ctrl-C during the first epoch: the loop stops after the batch; nothing is lost but that epoch.
        Interrupt.simulate(true)
        defer { Interrupt.simulate(false) }
        let first = try run.execute()
        XCTAssertTrue(first.interrupted)
        Interrupt.simulate(false)
        let resumed = try TransferLearningRun(resuming: folder, progress: ProgressReporter(style: .quiet))
        let outcome = try resumed.execute()
        XCTAssertFalse(outcome.interrupted)
        let history = try JSONDecoder().decode(TrainingHistory.self,
                                               from: Data(contentsOf: folder.appendingPathComponent("history.json")))
        XCTAssertEqual(history.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(history.epochs.map(\.phase), ["feature-extraction", "feature-extraction", "fine-tuning"])
    }
}
