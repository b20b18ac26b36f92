import Foundation
import XCTest
import PetalCore
import PetalData
import PetalModels
import PetalTraining
import PetalTestSupport

/// The README's Swift API example, compiled and run here on generated data. The test also
/// checks that the README shows exactly this code, so the two cannot drift apart.
final class ReadmeExampleTests: XCTestCase {
    // README-EXAMPLE-BEGIN
    func trainFlowerClassifier(data: URL, runFolder: URL) throws -> Double {
        // Scan the folder (one sub-folder per class) and split it 70/15/15, stratified.
        let folder = try ImageFolder(data)
        let split = try DatasetSplit.stratified(folder, train: 0.7, validation: 0.15, test: 0.15, seed: 42)

        // A new head on EfficientNet-Lite0 (its ImageNet weights when installed).
        let architecture = Architecture.efficientNetLite(0)
        let weights = PretrainedWeights.installedDefault(for: architecture)
        let model = try TransferClassifier(
            architecture: architecture, classNames: split.classNames, inputSize: 64,
            base: weights.map { try PretrainedWeights.binder(for: architecture, url: $0) } ?? .none)

        // Images decoded once; augmented batches for training only.
        let train = BatchLoader(cache: try ImageCache(files: split.train, side: 64), batchSize: 8, shuffle: true,
                                augmentation: .standard, normalization: model.normalization)
        let validation = BatchLoader.evaluation(cache: try ImageCache(files: split.validation, side: 64),
                                                batchSize: 8, normalization: model.normalization)

        // Phase 1: feature extraction, the base frozen, with the notebook's callbacks.
        model.freezeBase()
        let trainer = Trainer(model: model, optimizer: RMSprop(learningRate: 1e-3), callbacks: [
            try ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.25, patience: 3),
            try EarlyStopping(monitor: "val_accuracy", patience: 5, restoreBestWeights: true),
            try ModelCheckpoint(url: runFolder.appendingPathComponent("best.safetensors"),
                                monitor: "val_accuracy", saveBestOnly: true),
        ])
        let phase1 = try trainer.fit(train, validation: validation, epochs: 2)

        // Phase 2: fine-tune the top of the base at a tenth of the rate.
        model.unfreezeBase(from: model.layerIndex(named: "_blocks.11.")!)
        trainer.optimizer = RMSprop(learningRate: 1e-4)
        try trainer.fit(train, validation: validation, epochs: 4, initialEpoch: phase1.count)

        try model.save(to: runFolder.appendingPathComponent("model.safetensors"))
        return try trainer.evaluate(validation).accuracy
    }
    // README-EXAMPLE-END

    func testReadmeExampleRuns() throws {
        let data = try TinyDataset.make(perClass: 8)
        let run = Fixtures.temporaryDirectory("petal-readme")
        let accuracy = try trainFlowerClassifier(data: data, runFolder: run)
        XCTAssertTrue((0...1).contains(accuracy))
        let model = try TransferClassifier.load(from: run.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(model.classNames, ["cool", "warm"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("best.safetensors").path))
    }

    func testReadmeShowsThisExample() throws {
        let example = try ReadmeExample.code(in: #filePath, begin: "README-EXAMPLE-BEGIN", end: "README-EXAMPLE-END")
        XCTAssertTrue(try ReadmeExample.isShownInReadme(example), "README.md must show the example of ReadmeExampleTests.swift verbatim")
    }
}
