import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels
@testable import PetalTraining
import PetalTestSupport
import XCTest

/// Training on cached outputs of the frozen layers (`--augment none`) gives the same losses
/// and weights as running the whole network at every step, in both phases.
final class FeatureCacheTests: XCTestCase {
    private struct Trained {
        var history: [EpochLogs]
        var weights: [[Float]]
        var cut: Int?
    }

    /// Trains a fresh tiny MobileNetV2 (random, seeded base) for two epochs, frozen as
    /// `freeze` says, with or without the feature cache.
    private func train(_ data: URL, cached: Bool, freeze: (TransferClassifier) -> Void) throws -> Trained {
        let folder = try ImageFolder(data)
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: folder.classNames,
                                           inputSize: 32, base: .none, seed: 3)
        freeze(model)
        let items = folder.items
        let train = BatchLoader(cache: try ImageCache(files: Array(items.prefix(14)), side: 32), batchSize: 4,
                                shuffle: true, augmentation: .none, normalization: model.normalization, seed: 5)
        let validation = BatchLoader.evaluation(cache: try ImageCache(files: Array(items.suffix(6)), side: 32),
                                                batchSize: 4, normalization: model.normalization)
        let trainer = Trainer(model: model, optimizer: RMSprop(learningRate: 1e-2))
        if cached {
            trainer.featureCache = try FeatureCache.make(for: model.network, train: train, validation: validation,
                                                         log: { _ in })
        }
        let history = try trainer.fit(train, validation: validation, epochs: 2)
        return Trained(history: history, weights: try model.network.weights.map { try $0.value.rowMajor().toArray() },
                       cut: trainer.featureCache?.cut)
    }

    private func assertSame(_ a: Trained, _ b: Trained, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.history.count, 2, file: file, line: line)
        for (x, y) in zip(a.history, b.history) {
            for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
                let (u, v) = (x.values[key] ?? .nan, y.values[key] ?? .nan)
                XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u)), "\(key)", file: file, line: line)
            }
        }
        XCTAssertEqual(a.weights.count, b.weights.count, file: file, line: line)
        var worst: Float = 0
        for (u, v) in zip(a.weights, b.weights) {
            for (p, q) in zip(u, v) { worst = max(worst, abs(p - q) / max(1, abs(p))) }
        }
        XCTAssertLessThan(worst, 1e-4, "largest weight difference", file: file, line: line)
    }

    /// Phase 1: the base's pooled features are computed once; the head (dropout included)
    /// trains on them exactly as on the images.
    func testFeatureExtractionOnCachedFeaturesEqualsTheFullNetwork() throws {
        let data = try TinyDataset.make(perClass: 10)
        let slow = try train(data, cached: false) { $0.freezeBase() }
        let fast = try train(data, cached: true) { $0.freezeBase() }
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["a", "b"],
                                           inputSize: 32, base: .none)
        // The cut is the global average pooling: the dropout after it stays in the trained part.
        XCTAssertEqual(fast.cut, model.baseLayerCount)
        XCTAssertNil(slow.cut)
        assertSame(slow, fast)
    }

    /// Phase 2: the prefix below the fine-tuning point is cached (at the last layer whose
    /// output alone feeds the rest); the trainable blocks train as on the images.
    func testFineTuningOnCachedPrefixEqualsTheFullNetwork() throws {
        let data = try TinyDataset.make(perClass: 10)
        let slow = try train(data, cached: false) { $0.unfreezeBase(from: 100) }
        let fast = try train(data, cached: true) { $0.unfreezeBase(from: 100) }
        let cut = try XCTUnwrap(fast.cut)
        XCTAssertGreaterThan(cut, 80)
        XCTAssertLessThan(cut, 100)
        assertSame(slow, fast)
    }

    /// Nothing is cached where the images are augmented (the frozen layers' outputs change
    /// from epoch to epoch), or where nothing below the trained layers is frozen.
    func testNoCacheWithAugmentationOrWithoutAFrozenPrefix() throws {
        let data = try TinyDataset.make(perClass: 2)
        let folder = try ImageFolder(data)
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: folder.classNames,
                                           inputSize: 32, base: .none)
        model.freezeBase()
        let cache = try ImageCache(files: folder.items, side: 32)
        let augmented = BatchLoader(cache: cache, batchSize: 2, shuffle: true, augmentation: .standard,
                                    normalization: model.normalization)
        XCTAssertNil(try FeatureCache.make(for: model.network, train: augmented, validation: nil, log: { _ in }))
        model.unfreezeBase(from: 1)
        let plain = BatchLoader(cache: cache, batchSize: 2, shuffle: true, augmentation: .none,
                                normalization: model.normalization)
        XCTAssertNil(try FeatureCache.make(for: model.network, train: plain, validation: nil, log: { _ in }))
    }

    /// A run records each phase's peak resident memory in state.json (and so timings.json).
    func testRunRecordsPeakMemoryPerPhase() throws {
        let data = try TinyDataset.make(perClass: 5)
        var config = TinyDataset.tinyRunConfig(data)
        config.epochsFeatureExtraction = 1
        config.epochsFineTuning = 1
        config.augmentation = .none
        let folder = Fixtures.temporaryDirectory("petal-run-memory").appendingPathComponent("run")
        let outcome = try TransferLearningRun(config: config, folder: folder, progress: ProgressReporter(style: .quiet))
            .execute()
        XCTAssertEqual(outcome.phases.count, 2)
        for phase in outcome.phases {
            let bytes = try XCTUnwrap(phase.peakMemoryBytes, phase.name)
            // At least the decoded images and the model; less than the machine has.
            XCTAssertGreaterThan(bytes, 1 << 20, phase.name)
            XCTAssertLessThan(Double(bytes), Double(ProcessInfo.processInfo.physicalMemory), phase.name)
            XCTAssertNotNil(phase.peakMemoryPhaseOnly, phase.name)
        }
    }
}
