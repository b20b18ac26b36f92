import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalWeights

/// One phase's outcome: how long it took and how well the model then did on the test split.
public struct PhaseResult: Codable, Sendable, Equatable {
    public var name: String
    public var epochs: Int
    public var seconds: Double
    public var imagesPerSecond: Double
    public var bestValidationAccuracy: Double?
    public var testLoss: Double
    public var testAccuracy: Double
}

/// Where a run is, saved after every epoch as `state.json` so `petal train --resume` can
/// continue from the last completed epoch.
public struct RunState: Codable, Sendable {
    public static let featureExtraction = "feature-extraction", fineTuning = "fine-tuning", done = "done"
    public var phase = RunState.featureExtraction
    /// The next epoch to run (global numbering, 0-based).
    public var nextEpoch = 0
    /// The epoch at which fine-tuning starts (known once phase 1 ended).
    public var fineTuningStartEpoch: Int?
    public var learningRate: Double?
    public var callbackStates: String?
    public var phases: [PhaseResult] = []
}

/// What a finished (or interrupted) run produced.
public struct RunOutcome {
    public var folder: URL
    public var classifier: TransferClassifier
    public var classNames: [String]
    public var phases: [PhaseResult]
    /// The final model on the test split.
    public var test: EvaluationResult
    public var testFiles: [LabeledFile]
    public var split: DatasetSplit
    public var decodeFailures: [DecodeFailure]
    public var ignoredFiles: Int
    public var interrupted: Bool
    public var totalSeconds: Double
}

/// The notebook's method as one object: scan and split the data, put a new head on a
/// pretrained base, train the head with the base frozen (feature extraction), then
/// fine-tune the base's top layers at a lower rate; with the notebook's callbacks, a
/// history across both phases and a resumable run folder.
public final class TransferLearningRun {
    public let config: TransferLearningConfig
    public let folder: URL
    public let progress: ProgressReporter
    private var state: RunState
    /// Print Keras's model summary at the start of each phase.
    public var printsSummary = false

    static let configName = "config.json", stateName = "state.json", splitName = "split.json"
    static let lastModel = "last.safetensors", bestModel = "best.safetensors", finalModel = "model.safetensors"
    static let optimizerName = "optimizer.safetensors"

    /// A new run writing into `folder` (created; must not already hold a run).
    public init(config: TransferLearningConfig, folder: URL, progress: ProgressReporter) throws {
        try config.validate()
        self.config = config
        self.folder = folder
        self.progress = progress
        state = RunState()
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent(Self.stateName).path) {
            throw TrainingError.runExists(folder.path)
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Self.writeJSON(config, to: folder.appendingPathComponent(Self.configName))
        try saveState()
    }

    /// Continues an interrupted run from its last completed epoch.
    public init(resuming folder: URL, progress: ProgressReporter) throws {
        let configURL = folder.appendingPathComponent(Self.configName)
        let stateURL = folder.appendingPathComponent(Self.stateName)
        guard FileManager.default.fileExists(atPath: stateURL.path) else { throw TrainingError.notResumable(folder.path) }
        config = try PetalJSON.decode(TransferLearningConfig.self, from: Data(contentsOf: configURL))
        state = try PetalJSON.decode(RunState.self, from: Data(contentsOf: stateURL))
        try config.validate()
        self.folder = folder
        self.progress = progress
    }

    public var isFinished: Bool { state.phase == RunState.done }

    // MARK: - Running

    public func execute() throws -> RunOutcome {
        let started = Date()
        if let threads = config.threads { DNNL.threads = threads }
        let architecture = config.architecture!
        let size = config.imageSize ?? architecture.nativeInputSize

        // Data: the same split on resume, decoded once into memory at input size.
        let splitURL = folder.appendingPathComponent(Self.splitName)
        let folderScan = try ImageFolder(URL(fileURLWithPath: config.data))
        let split: DatasetSplit
        if FileManager.default.fileExists(atPath: splitURL.path) {
            split = try DatasetSplit.load(from: splitURL)
        } else {
            split = try DatasetSplit.stratified(folderScan, train: config.trainFraction,
                                                validation: config.validationFraction,
                                                test: config.testFraction, seed: config.seed)
            try split.save(to: splitURL)
        }
        progress.message("Data: \(split.train.count) train, \(split.validation.count) validation, \(split.test.count) test images in \(split.classNames.count) classes; decoding at \(size)x\(size)")
        for group in split.identicalFilesAcrossSplits() { progress.message("warning: identical files in more than one split (their test metrics read too good): \(group.joined(separator: ", "))") }
        let trainCache = try ImageCache(files: split.train, side: size)
        let validationCache = try ImageCache(files: split.validation, side: size)
        let testCache = try ImageCache(files: split.test, side: size)
        let failures = trainCache.failures + validationCache.failures + testCache.failures
        for f in failures { progress.message("skipped \(f)") }
        let normalization = architecture.normalization
        let train = BatchLoader(cache: trainCache, batchSize: config.batchSize, shuffle: true,
                                augmentation: config.augmentation, normalization: normalization, seed: config.seed,
                                workers: 1)
        let validation = BatchLoader.evaluation(cache: validationCache, batchSize: config.batchSize, normalization: normalization)
        let test = BatchLoader.evaluation(cache: testCache, batchSize: config.batchSize, normalization: normalization)

        // Model: new from pretrained weights, or the last checkpoint of an interrupted run.
        let lastURL = folder.appendingPathComponent(Self.lastModel)
        let classifier: TransferClassifier
        if state.nextEpoch > 0, FileManager.default.fileExists(atPath: lastURL.path) {
            classifier = try TransferClassifier.load(from: lastURL)
            progress.message("Resuming at epoch \(state.nextEpoch + 1) (\(state.phase))")
        } else {
            classifier = try TransferClassifier(architecture: architecture, classNames: split.classNames,
                                                inputSize: size, head: config.head,
                                                base: try weightsBinder(architecture, size: size), seed: config.seed)
        }
        let fineTuneAt = try resolveFineTuneAt(classifier)

        // The notebook's callbacks, shared by both phases as Keras's fit calls share them.
        let reduceLR = try ReduceLROnPlateau(monitor: config.monitor, factor: config.reduceLRFactor,
                                             patience: config.reduceLRPatience)
        let earlyStopping = try EarlyStopping(monitor: config.monitor, patience: config.earlyStoppingPatience,
                                              restoreBestWeights: true)
        let checkpoint = try ModelCheckpoint(url: folder.appendingPathComponent(Self.bestModel), monitor: config.monitor,
                                             saveBestOnly: true)
        let history = HistoryLogger(directory: folder, phase: state.phase == RunState.done ? RunState.fineTuning : state.phase,
                                    history: try HistoryLogger.load(from: folder) ?? TrainingHistory())
        let trainer = Trainer(model: classifier, optimizer: try makeOptimizer(config.learningRate),
                              callbacks: [reduceLR, earlyStopping, checkpoint, history], progress: progress)
        let featureEpochs = config.epochsFeatureExtraction

        // Phase 1: feature extraction.
        if state.phase == RunState.featureExtraction {
            classifier.freezeBase()
            if printsSummary { progress.message(classifier.summary) }
            progress.message("Phase 1, feature extraction: base frozen, \(classifier.trainableParameterCount) trainable parameters")
            let phaseStart = Date()
            try restoreOptimizer(trainer, learningRate: config.learningRate)
            let logs = try trainer.fit(train, validation: validation, epochs: featureEpochs, initialEpoch: state.nextEpoch,
                                       phase: RunState.featureExtraction, restoredCallbackState: restoredCallbacks(),
                                       epochEnded: { epoch, _ in try self.saveCheckpoint(trainer, nextEpoch: epoch + 1) })
            if trainer.interrupted { return try interruptedOutcome(classifier, split, test, testCache, failures, folderScan, started) }
            let ranTo = state.nextEpoch
            state.phases.append(phaseResult(RunState.featureExtraction, trainer, test, logs: logs, since: phaseStart))
            state.phase = RunState.fineTuning
            state.fineTuningStartEpoch = ranTo
            state.learningRate = nil
            state.callbackStates = nil
            try removeOptimizerState()
            try saveState()
        }

        // Phase 2: fine-tuning from `fineTuneAt`, at a tenth of the rate unless told.
        if state.phase == RunState.fineTuning, config.epochsFineTuning > 0 {
            let start = state.fineTuningStartEpoch ?? featureEpochs
            classifier.unfreezeBase(from: fineTuneAt, trainStatistics: config.trainBatchNormStatistics)
            let rate = config.fineTuneLearningRate ?? config.learningRate / 10
            trainer.optimizer = try makeOptimizer(rate)
            history.phase = HistoryLogger.fineTuning
            if printsSummary { progress.message(classifier.summary) }
            progress.message("Phase 2, fine-tuning from layer \(fineTuneAt) (\(classifier.network.layers[fineTuneAt].name)): \(classifier.trainableParameterCount) trainable parameters, learning rate \(rate)")
            let phaseStart = Date()
            try restoreOptimizer(trainer, learningRate: rate)
            let logs = try trainer.fit(train, validation: validation, epochs: start + config.epochsFineTuning,
                                       initialEpoch: max(state.nextEpoch, start), phase: RunState.fineTuning,
                                       restoredCallbackState: restoredCallbacks(),
                                       epochEnded: { epoch, _ in try self.saveCheckpoint(trainer, nextEpoch: epoch + 1) })
            if trainer.interrupted { return try interruptedOutcome(classifier, split, test, testCache, failures, folderScan, started) }
            state.phases.append(phaseResult(RunState.fineTuning, trainer, test, logs: logs, since: phaseStart))
        }
        state.phase = RunState.done
        try classifier.save(to: folder.appendingPathComponent(Self.finalModel))
        try saveState()
        try? FileManager.default.removeItem(at: lastURL)
        try removeOptimizerState()
        let final = Trainer.evaluate(classifier, test)
        return RunOutcome(folder: folder, classifier: classifier, classNames: split.classNames, phases: state.phases,
                          test: final, testFiles: testCache.files, split: split, decodeFailures: failures,
                          ignoredFiles: folderScan.ignoredCount, interrupted: false,
                          totalSeconds: Date().timeIntervalSince(started))
    }

    // MARK: - Pieces

    private func weightsBinder(_ architecture: Architecture, size: Int) throws -> WeightBinder {
        switch config.weights {
        case "none", "random":
            return .none
        case "imagenet":
            guard architecture.family == .mobileNetV2 else { throw TrainingError.noImagenetDownload(architecture.description) }
            let url = try KerasApplicationsDownloader().mobileNetV2(
                alpha: architecture.alpha, size: KerasApplicationsDownloader.mobileNetV2Sizes.contains(size) ? size : 224)
            return try PretrainedWeights.binder(for: architecture, url: url)
        case let path?:
            return try PretrainedWeights.binder(for: architecture, url: URL(fileURLWithPath: path))
        case nil:
            guard let url = PretrainedWeights.installedDefault(for: architecture) else {
                throw TrainingError.noInstalledWeights(architecture.description)
            }
            return try PretrainedWeights.binder(for: architecture, url: url)
        }
    }

    private func resolveFineTuneAt(_ classifier: TransferClassifier) throws -> Int {
        let text = config.fineTuneAt ?? classifier.architecture.defaultFineTuneAt
        if let index = Int(text) {
            guard (0..<classifier.baseLayerCount).contains(index) else {
                throw TrainingError.badFineTuneAt(text, "the base has layers 0..<\(classifier.baseLayerCount)")
            }
            return index
        }
        guard let index = classifier.layerIndex(named: text), index < classifier.baseLayerCount else {
            throw TrainingError.badFineTuneAt(text, "no layer or block of \(classifier.architecture) is named so")
        }
        return index
    }

    private func makeOptimizer(_ rate: Double) throws -> Optimizer {
        try OptimizerSpec(kind: config.optimizer, learningRate: rate).makeOptimizer()
    }

    private func phaseResult(_ name: String, _ trainer: Trainer, _ test: BatchLoader, logs: [EpochLogs],
                             since start: Date) -> PhaseResult {
        let result = trainer.evaluate(test)
        progress.message(String(format: "%@: test accuracy %.4f, test loss %.4f", name, result.accuracy, result.loss))
        return PhaseResult(name: name, epochs: logs.count, seconds: Date().timeIntervalSince(start),
                           imagesPerSecond: trainer.imagesPerSecond,
                           bestValidationAccuracy: logs.compactMap { $0["val_accuracy"] }.max(),
                           testLoss: result.loss, testAccuracy: result.accuracy)
    }

    // MARK: - Checkpoints for resuming

    private func saveCheckpoint(_ trainer: Trainer, nextEpoch: Int) throws {
        try trainer.model.save(to: folder.appendingPathComponent(Self.lastModel))
        let optimizerState = trainer.optimizer.exportState(for: trainer.model.network.trainableParameters)
        try SafetensorsFile.write(optimizerState.slots.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                  metadata: ["optimizer": optimizerState.optimizer,
                                             "iterations": String(optimizerState.iterations)],
                                  to: folder.appendingPathComponent(Self.optimizerName))
        state.nextEpoch = nextEpoch
        state.learningRate = trainer.learningRate
        state.callbackStates = String(decoding: try trainer.callbacks.encodeStates(), as: UTF8.self)
        try saveState()
    }

    private func restoreOptimizer(_ trainer: Trainer, learningRate: Double) throws {
        if let rate = state.learningRate { trainer.learningRate = rate } else { trainer.learningRate = learningRate }
        let url = folder.appendingPathComponent(Self.optimizerName)
        guard state.nextEpoch > 0, FileManager.default.fileExists(atPath: url.path) else { return }
        let file = try SafetensorsFile.read(url)
        let saved = OptimizerState(optimizer: file.metadata["optimizer"] ?? trainer.optimizer.name,
                                   iterations: Int(file.metadata["iterations"] ?? "0") ?? 0,
                                   learningRate: trainer.learningRate, slots: file.tensors)
        try trainer.optimizer.importState(saved, for: trainer.model.network.trainableParameters)
    }

    private func restoredCallbacks() -> Data? { state.callbackStates.map { Data($0.utf8) } }

    private func removeOptimizerState() throws {
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(Self.optimizerName))
    }

    private func saveState() throws { try Self.writeJSON(state, to: folder.appendingPathComponent(Self.stateName)) }

    private func interruptedOutcome(_ classifier: TransferClassifier, _ split: DatasetSplit, _ test: BatchLoader,
                                    _ testCache: ImageCache, _ failures: [DecodeFailure], _ scan: ImageFolder,
                                    _ started: Date) throws -> RunOutcome {
        progress.message("Stopped. Completed epochs are kept; continue with: petal train --resume \(folder.path)")
        return RunOutcome(folder: folder, classifier: classifier, classNames: split.classNames, phases: state.phases,
                          test: EvaluationResult(loss: .nan, accuracy: .nan, probabilities: [], labels: []),
                          testFiles: testCache.files, split: split, decodeFailures: failures,
                          ignoredFiles: scan.ignoredCount, interrupted: true,
                          totalSeconds: Date().timeIntervalSince(started))
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        try PetalJSON.encode(value).writeAtomically(to: url)
    }
}

/// Training set-up errors, each naming what to change.
public enum TrainingError: Error, CustomStringConvertible, LocalizedError {
    case unknownBackbone(String)
    case runExists(String)
    case notResumable(String)
    case noInstalledWeights(String)
    case noImagenetDownload(String)
    case badFineTuneAt(String, String)

    public var description: String {
        switch self {
        case .unknownBackbone(let name):
            return "unknown backbone '\(name)': use mobilenetv2 or efficientnet-lite0 ... efficientnet-lite4"
        case .runExists(let path): return "\(path) already holds a run: choose another --out, or --resume it"
        case .notResumable(let path): return "\(path) is not a Petal run folder (no state.json) to resume"
        case .noInstalledWeights(let name):
            return "no pretrained weights installed for \(name): run scripts/setup.sh, or pass --weights FILE (or --weights imagenet for MobileNetV2)"
        case .noImagenetDownload(let name):
            return "--weights imagenet downloads Keras's MobileNetV2 files only; for \(name) pass --weights FILE"
        case .badFineTuneAt(let value, let why): return "--fine-tune-at \(value): \(why)"
        }
    }

    public var errorDescription: String? { description }
}
