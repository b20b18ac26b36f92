import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels
import PetalWeights

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
    /// The run folder (a new run's is made there once its data and model are set up).
    public let folder: URL
    public let progress: ProgressReporter
    private var state: RunState
    /// Where the run's files are written now: a new run's temporary folder until it is set up.
    private var files: RunFolder
    /// A new run (made by `execute`), not a resumed one.
    private let isNew: Bool
    /// Held while the run trains, so no other process trains in the same folder.
    private var lock: RunLock?
    /// Print Keras's model summary at the start of each phase.
    public var printsSummary = false
    /// The processes training together (`mpirun`): rank 0 scans and splits the data for all,
    /// each trains on its share of every batch and evaluates its block of the validation and
    /// test images. Only rank 0's run folder is the user's (PetalDistributed's `DistributedRun`).
    public var processGroup: ProcessGroup = SingleProcess()

    /// A new run for `folder`, which must be absent or empty (it is made by `execute`).
    public init(config: TransferLearningConfig, folder: URL, progress: ProgressReporter) throws {
        try config.validate()
        try RunFolder.checkNewRunDestination(folder)
        self.config = config
        self.folder = folder.standardizedFileURL
        self.progress = progress
        state = RunState()
        files = RunFolder(folder)
        isNew = true
    }

    /// Continues an interrupted run from its last completed epoch. A finished run, or one
    /// another process trains in, is an error that changes nothing.
    public init(resuming folder: URL, progress: ProgressReporter) throws {
        let (run, saved) = try RunFolder.existingRun(folder)
        guard !saved.isFinished else { throw RunFolderError.finished(path: run.url.path) }
        lock = try run.lock()
        // Read again under the lock: another process may have moved it on meanwhile.
        state = try run.read(RunState.self, from: .state)
        guard !state.isFinished else { throw RunFolderError.finished(path: run.url.path) }
        config = try run.read(TransferLearningConfig.self, from: .config)
        try config.validate()
        self.folder = run.url
        self.progress = progress
        files = run
        isNew = false
    }

    public var isFinished: Bool { state.isFinished }

    // MARK: - Running

    public func execute() throws -> RunOutcome {
        let started = Date()
        if let threads = config.threads { DNNL.threads = threads }
        // Released when the run ends, finished, interrupted or failed.
        defer { lock = nil }
        let setUp: SetUp
        if isNew {
            // A new run is set up out of sight and put in place only once its data and model
            // are ready, so a bad dataset or option leaves no half-made run folder behind.
            let staged = try RunFolder.stage(for: folder)
            do {
                files = staged.folder
                try files.write(config, to: .config)
                try saveState()
                setUp = try prepare()
                files = try staged.commit()
                lock = staged.lock
            } catch {
                staged.discard()
                files = RunFolder(folder)
                throw error
            }
        } else {
            if lock == nil { lock = try files.lock() }
            setUp = try prepare()
        }
        let (folderScan, split, testCache, failures) = (setUp.scan, setUp.split, setUp.testCache, setUp.failures)
        let (train, validation, test) = (setUp.train, setUp.validation, setUp.test)
        let (classifier, fineTuneAt) = (setUp.classifier, setUp.fineTuneAt)

        // The notebook's callbacks, shared by both phases as Keras's fit calls share them.
        let reduceLR = try ReduceLROnPlateau(monitor: config.monitor, factor: config.reduceLRFactor,
                                             patience: config.reduceLRPatience)
        let earlyStopping = try EarlyStopping(monitor: config.monitor, patience: config.earlyStoppingPatience,
                                              restoreBestWeights: true)
        let checkpoint = try ModelCheckpoint(url: files.url(.bestModel), monitor: config.monitor, saveBestOnly: true)
        let history = HistoryLogger(folder: files, phase: state.phase,
                                    history: try HistoryLogger.load(from: files) ?? TrainingHistory())
        let trainer = Trainer(model: classifier, optimizer: try makeOptimizer(config.learningRate),
                              callbacks: [reduceLR, earlyStopping, checkpoint, history], progress: progress)
        trainer.processGroup = processGroup
        let featureEpochs = config.epochsFeatureExtraction
        trainer.lossWeighting = try lossWeighting(split)

        // Phase 1: feature extraction.
        if state.phase == RunState.featureExtraction {
            classifier.freezeBase()
            if printsSummary { progress.message(classifier.summary) }
            progress.message("Phase 1, feature extraction: base frozen, \(classifier.trainableParameterCount) trainable parameters")
            let phaseStart = Date()
            let peakReset = PeakMemory.reset()
            try restoreOptimizer(trainer, learningRate: config.learningRate)
            if state.nextEpoch < featureEpochs {
                trainer.featureCache = try featureCache(trainer, classifier, train, validation)
            }
            let logs = try trainer.fit(train, validation: validation, epochs: featureEpochs, initialEpoch: state.nextEpoch,
                                       phase: RunState.featureExtraction, restoredCallbackState: restoredCallbacks(),
                                       epochEnded: { epoch, _ in try self.saveCheckpoint(trainer, nextEpoch: epoch + 1) })
            trainer.featureCache = nil
            if trainer.interrupted { return try interruptedOutcome(classifier, split, test, testCache, failures, folderScan, started) }
            let ranTo = state.nextEpoch
            state.phases.append(try phaseResult(RunState.featureExtraction, trainer, test, logs: logs, since: phaseStart,
                                                peakReset: peakReset))
            state.phase = RunState.fineTuning
            state.fineTuningStartEpoch = ranTo
            state.learningRate = nil
            state.callbackStates = nil
            files.remove(.optimizer)
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
            let peakReset = PeakMemory.reset()
            try restoreOptimizer(trainer, learningRate: rate)
            trainer.featureCache = try featureCache(trainer, classifier, train, validation)
            let logs = try trainer.fit(train, validation: validation, epochs: start + config.epochsFineTuning,
                                       initialEpoch: max(state.nextEpoch, start), phase: RunState.fineTuning,
                                       restoredCallbackState: restoredCallbacks(),
                                       epochEnded: { epoch, _ in try self.saveCheckpoint(trainer, nextEpoch: epoch + 1) })
            trainer.featureCache = nil
            if trainer.interrupted { return try interruptedOutcome(classifier, split, test, testCache, failures, folderScan, started) }
            state.phases.append(try phaseResult(RunState.fineTuning, trainer, test, logs: logs, since: phaseStart,
                                                peakReset: peakReset))
        }
        state.phase = RunState.done
        try classifier.save(to: files.url(.model))
        try saveState()
        files.remove(.lastModel)
        files.remove(.optimizer)
        let final = try trainer.evaluate(test)
        return RunOutcome(folder: folder, classifier: classifier, classNames: split.classNames, phases: state.phases,
                          test: final, testFiles: testCache.files, split: split, decodeFailures: failures,
                          ignoredFiles: folderScan?.ignoredCount ?? 0, interrupted: false,
                          totalSeconds: Date().timeIntervalSince(started))
    }

    // MARK: - Pieces

    /// The data, loaders and model a run trains with.
    private struct SetUp {
        /// Rank 0's scan (the other processes of a data-parallel run get only the split).
        var scan: ImageFolder?
        var split: DatasetSplit
        var testCache: ImageCache
        var failures: [DecodeFailure]
        var train: BatchLoader, validation: BatchLoader, test: BatchLoader
        var classifier: TransferClassifier
        var fineTuneAt: Int
    }

    /// Scans and splits the data (the run's own split.json on resume), decodes it once into
    /// memory at input size, and makes the model: new from pretrained weights, or the last
    /// checkpoint of an interrupted run.
    private func prepare() throws -> SetUp {
        let architecture = config.architecture!
        let size = config.imageSize ?? architecture.nativeInputSize
        var folderScan: ImageFolder?
        let split = try processGroup.agreed { () throws -> DatasetSplit in
            let scan = try ImageFolder(URL(fileURLWithPath: config.data))
            folderScan = scan
            if files.contains(.split) { return try DatasetSplit.load(from: files.url(.split)) }
            let (kept, excluded) = try config.leavingOutExcluded(scan, message: progress.message)
            if let excluded { state.excludedImages = excluded; try saveState() }
            return try DatasetSplit.stratified(kept, train: config.trainFraction, validation: config.validationFraction,
                                               test: config.testFraction, seed: config.seed)
        }
        if !files.contains(.split) { try split.save(to: files.url(.split)) }
        progress.message("Data: \(split.train.count) train, \(split.validation.count) validation, \(split.test.count) test images in \(split.classNames.count) classes; decoding at \(size)x\(size)")
        for group in split.identicalFilesAcrossSplits() { progress.message("warning: identical files in more than one split (their test metrics read too good): \(group.joined(separator: ", "))") }
        let trainCache = try ImageCache(files: split.train, side: size)
        let validationCache = try ImageCache(files: split.validation, side: size)
        let testCache = try ImageCache(files: split.test, side: size)
        let failures = trainCache.failures + validationCache.failures + testCache.failures
        for f in failures { progress.message("skipped \(f)") }
        let normalization = architecture.normalization
        let (rank, ranks) = (processGroup.rank, processGroup.size)
        let train = BatchLoader(cache: trainCache, batchSize: config.batchSize, shuffle: true,
                                augmentation: config.augmentation, normalization: normalization, seed: config.seed,
                                workers: 1, sharding: ranks > 1 ? .batchShares(rank: rank, count: ranks) : .none)
        let validation = BatchLoader.evaluation(cache: validationCache, batchSize: config.batchSize, normalization: normalization,
                                                sharding: ranks > 1 ? .block(rank: rank, count: ranks) : .none)
        let test = BatchLoader.evaluation(cache: testCache, batchSize: config.batchSize, normalization: normalization,
                                          sharding: ranks > 1 ? .block(rank: rank, count: ranks) : .none)

        let classifier: TransferClassifier
        if state.nextEpoch > 0, files.contains(.lastModel) {
            classifier = try TransferClassifier.load(from: files.url(.lastModel))
            progress.message("Resuming at epoch \(state.nextEpoch + 1) (\(state.phase))")
        } else {
            classifier = try TransferClassifier(architecture: architecture, classNames: split.classNames,
                                                inputSize: size, head: config.head,
                                                base: try weightsBinder(architecture, size: size), seed: config.seed)
        }
        return SetUp(scan: folderScan, split: split, testCache: testCache, failures: failures, train: train,
                     validation: validation, test: test, classifier: classifier,
                     fineTuneAt: try resolveFineTuneAt(classifier))
    }

    /// The frozen prefix's outputs computed once (see `FeatureCache.make`); not under MPI, where
    /// each process trains on its share of every batch and the cache's batches are not sharded.
    private func featureCache(_ trainer: Trainer, _ classifier: TransferClassifier, _ train: BatchLoader,
                              _ validation: BatchLoader?) throws -> FeatureCache? {
        guard trainer.processGroup.size == 1 else { return nil }
        return try FeatureCache.make(for: classifier.network, train: train, validation: validation, log: progress.message)
    }

    private func weightsBinder(_ architecture: Architecture, size: Int) throws -> WeightBinder {
        try config.pretrainedWeights(architecture, size: size)
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

    /// The loss's class weights (recorded in state.json) and label smoothing.
    private func lossWeighting(_ split: DatasetSplit) throws -> LossWeighting {
        let weighting = try config.lossWeighting(classNames: split.classNames, trainingCounts: split.counts().train)
        if let weights = weighting.classWeights {
            state.classWeights = Dictionary(uniqueKeysWithValues: zip(split.classNames, weights.map(Double.init)))
            try saveState()
            progress.message("Class weights: " + zip(split.classNames, weights).map { String(format: "%@ %.4g", $0, Double($1)) }.joined(separator: ", "))
        }
        if weighting.labelSmoothing > 0 { progress.message("Label smoothing: \(weighting.labelSmoothing)") }
        return weighting
    }

    private func makeOptimizer(_ rate: Double) throws -> Optimizer {
        try OptimizerSpec(kind: config.optimizer, learningRate: rate).makeOptimizer()
    }

    private func phaseResult(_ name: String, _ trainer: Trainer, _ test: BatchLoader, logs: [EpochLogs],
                             since start: Date, peakReset: Bool) throws -> PhaseResult {
        let result = try trainer.evaluate(test)
        progress.message(result.isEmpty ? "\(name): no test images, no test metrics"
                         : String(format: "%@: test accuracy %.4f, test loss %.4f", name, result.accuracy, result.loss))
        return PhaseResult(name: name, epochs: logs.count, seconds: Date().timeIntervalSince(start),
                           imagesPerSecond: trainer.imagesPerSecond,
                           bestValidationAccuracy: logs.compactMap { $0["val_accuracy"] }.max(),
                           testLoss: result.loss, testAccuracy: result.accuracy, peakMemoryBytes: PeakMemory.bytes,
                           peakMemoryPhaseOnly: peakReset)
    }

    // MARK: - Checkpoints for resuming

    private func saveCheckpoint(_ trainer: Trainer, nextEpoch: Int) throws {
        try trainer.model.save(to: files.url(.lastModel))
        let optimizerState = try trainer.optimizer.exportState(for: trainer.model.network.trainableParameters)
        try SafetensorsFile.write(optimizerState.slots.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                  metadata: ["optimizer": optimizerState.optimizer,
                                             "iterations": String(optimizerState.iterations)],
                                  to: files.url(.optimizer))
        state.nextEpoch = nextEpoch
        state.learningRate = trainer.learningRate
        state.callbackStates = String(decoding: try trainer.callbacks.encodeStates(), as: UTF8.self)
        try saveState()
    }

    private func restoreOptimizer(_ trainer: Trainer, learningRate: Double) throws {
        if let rate = state.learningRate { trainer.learningRate = rate } else { trainer.learningRate = learningRate }
        let url = files.url(.optimizer)
        guard state.nextEpoch > 0, files.contains(.optimizer) else { return }
        let file = try SafetensorsFile.read(url)
        let saved = OptimizerState(optimizer: file.metadata["optimizer"] ?? trainer.optimizer.name,
                                   iterations: Int(file.metadata["iterations"] ?? "0") ?? 0,
                                   learningRate: trainer.learningRate, slots: file.tensors)
        try trainer.optimizer.importState(saved, for: trainer.model.network.trainableParameters)
    }

    private func restoredCallbacks() -> Data? { state.callbackStates.map { Data($0.utf8) } }

    private func saveState() throws { try files.write(state, to: .state) }

    private func interruptedOutcome(_ classifier: TransferClassifier, _ split: DatasetSplit, _ test: BatchLoader,
                                    _ testCache: ImageCache, _ failures: [DecodeFailure], _ scan: ImageFolder?,
                                    _ started: Date) throws -> RunOutcome {
        progress.message("Stopped. Completed epochs are kept; continue with: petal train --resume \(folder.path)")
        return RunOutcome(folder: folder, classifier: classifier, classNames: split.classNames, phases: state.phases,
                          test: EvaluationResult(loss: .nan, accuracy: .nan, probabilities: [], labels: []),
                          testFiles: testCache.files, split: split, decodeFailures: failures,
                          ignoredFiles: scan?.ignoredCount ?? 0, interrupted: true,
                          totalSeconds: Date().timeIntervalSince(started))
    }
}

/// Training set-up errors, each naming what to change.
public enum TrainingError: Error, CustomStringConvertible, LocalizedError {
    case unknownBackbone(String)
    case noInstalledWeights(String)
    case noImagenetDownload(String)
    case badFineTuneAt(String, String)

    public var description: String {
        switch self {
        case .unknownBackbone(let name):
            return "unknown backbone '\(name)': use one of \(Backbones.nameList)"
        case .noInstalledWeights(let name):
            return "no pretrained weights installed for \(name): run scripts/setup.sh, or pass --weights FILE"
                + " (or --weights imagenet for \(Backbones.imageNetDownloadNames.joined(separator: ", ")))"
        case .noImagenetDownload(let name):
            return "--weights imagenet downloads weights for \(Backbones.imageNetDownloadNames.joined(separator: ", ")) only;"
                + " for \(name) pass --weights FILE"
        case .badFineTuneAt(let value, let why): return "--fine-tune-at \(value): \(why)"
        }
    }

    public var errorDescription: String? { description }
}
