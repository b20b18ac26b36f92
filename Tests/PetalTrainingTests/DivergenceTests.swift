import Foundation
import PetalCore
import PetalData
import PetalModels
@testable import PetalTraining
import PetalTestSupport
import XCTest

/// Training that diverges stops with a message and keeps what the last good epoch wrote;
/// empty validation and test sets give no metrics rather than zeros.
final class DivergenceTests: XCTestCase {
    private func setUp(_ data: URL) throws -> (TransferClassifier, BatchLoader) {
        let folder = try ImageFolder(data)
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: folder.classNames,
                                           inputSize: 32, base: .none)
        model.freezeBase()
        let train = BatchLoader(cache: try ImageCache(files: folder.items, side: 32), batchSize: 4, shuffle: true,
                                normalization: model.normalization)
        return (model, train)
    }

    /// A NaN loss stops training before the optimizer uses it: a typed error naming the epoch
    /// and batch, the checkpoint of the last completed epoch unchanged, history.json valid.
    func testNonFiniteLossStopsTrainingAndKeepsTheLastCheckpoint() throws {
        let data = try TinyDataset.make(perClass: 4)
        let runFolder = Fixtures.temporaryDirectory("petal-diverge")
        let (model, train) = try setUp(data)
        let checkpoint = runFolder.appendingPathComponent("last.safetensors")
        let trainer = Trainer(model: model, optimizer: RMSprop(learningRate: 1e-3), callbacks: [
            try ModelCheckpoint(url: checkpoint, monitor: "loss"),
            HistoryLogger(folder: RunFolder(runFolder)),
        ])
        try trainer.fit(train, validation: nil, epochs: 1)
        let goodCheckpoint = try Data(contentsOf: checkpoint)

        // The head's weights go bad (as a too-high learning rate makes them).
        let head = try XCTUnwrap(model.network.trainableParameters.first)
        head.value.floats[0] = .nan
        XCTAssertThrowsError(try trainer.fit(train, validation: nil, epochs: 3, initialEpoch: 1)) { error in
            guard case let .diverged(epoch, batch, quantity, value)? = error as? TrainerError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(epoch, 2)
            XCTAssertEqual(batch, 1)
            XCTAssertEqual(quantity, "loss")
            XCTAssertTrue(value.isNaN)
            XCTAssertEqual("\(error)", "training diverged at epoch 2, batch 1: loss is nan; training stopped and the last good checkpoint (the last completed epoch) is kept; try a lower --lr")
        }
        XCTAssertEqual(try Data(contentsOf: checkpoint), goodCheckpoint)
        let history = try XCTUnwrap(try HistoryLogger.load(from: RunFolder(runFolder)))
        XCTAssertEqual(history.epochs.map(\.epoch), [1])
        XCTAssertTrue(history.epochs[0].loss.isFinite)
    }

    /// A weight that went non-finite in an epoch's last step is caught at the epoch's end,
    /// before its checkpoint is written.
    func testNonFiniteWeightsAreCaughtBeforeTheEpochsCheckpoint() throws {
        let data = try TinyDataset.make(perClass: 4)
        let runFolder = Fixtures.temporaryDirectory("petal-diverge-end")
        let (model, train) = try setUp(data)
        let checkpoint = runFolder.appendingPathComponent("last.safetensors")
        // A callback that spoils a weight after the last batch, as an overflowing step would.
        final class Spoil: Callback {
            let parameter: Parameter
            let lastBatch: Int
            init(_ parameter: Parameter, lastBatch: Int) { self.parameter = parameter; self.lastBatch = lastBatch }
            func onBatchEnd(batch: Int, logs: EpochLogs, context: TrainingContext) throws {
                if batch == lastBatch { parameter.value.floats[1] = .infinity }
            }
        }
        let head = try XCTUnwrap(model.network.trainableParameters.first)
        let trainer = Trainer(model: model, optimizer: RMSprop(learningRate: 1e-3), callbacks: [
            Spoil(head, lastBatch: train.batchesPerEpoch - 1),
            try ModelCheckpoint(url: checkpoint, monitor: "loss"),
        ])
        XCTAssertThrowsError(try trainer.fit(train, validation: nil, epochs: 1)) { error in
            guard case let .diverged(epoch, batch, quantity, _)? = error as? TrainerError else { return XCTFail("\(error)") }
            XCTAssertEqual(epoch, 1)
            XCTAssertNil(batch)
            XCTAssertEqual(quantity, "a weight of \(head.name)")
            XCTAssertTrue("\(error)".hasPrefix("training diverged at the end of epoch 1: a weight of \(head.name) is inf"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.path))
    }

    /// No images, no metrics: evaluation over nothing is NaN and says it is empty, and an
    /// empty validation set means no validation metrics in the logs.
    func testEmptySetsGiveNoMetrics() throws {
        let data = try TinyDataset.make(perClass: 4)
        let (model, train) = try setUp(data)
        let empty = BatchLoader.evaluation(cache: try ImageCache(files: [], side: 32), batchSize: 4,
                                           normalization: model.normalization)
        let result = try Trainer.evaluate(model, empty)
        XCTAssertTrue(result.isEmpty)
        XCTAssertTrue(result.loss.isNaN)
        XCTAssertTrue(result.accuracy.isNaN)
        // Callbacks that judge a validation metric sit out; the others run.
        let folder = Fixtures.temporaryDirectory("petal-novalidation")
        let best = folder.appendingPathComponent("best.safetensors")
        let reduce = try ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.5, patience: 0)
        let trainer = Trainer(model: model, optimizer: RMSprop(learningRate: 1e-3), callbacks: [
            reduce,
            try EarlyStopping(monitor: "val_accuracy", patience: 0),
            try ModelCheckpoint(url: best, monitor: "val_accuracy", saveBestOnly: true),
            HistoryLogger(folder: RunFolder(folder)),
        ])
        let logs = try trainer.fit(train, validation: empty, epochs: 3)
        XCTAssertEqual(logs.count, 3)
        XCTAssertNil(logs[0]["val_accuracy"])
        XCTAssertNil(logs[0]["val_loss"])
        XCTAssertNotNil(logs[0]["accuracy"])
        XCTAssertEqual(trainer.learningRate, 1e-3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: best.path))
        XCTAssertEqual(try HistoryLogger.load(from: RunFolder(folder))?.epochs.count, 3)
    }
}
