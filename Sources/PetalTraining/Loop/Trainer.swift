import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels

/// Loss, accuracy and per-image probabilities of a model on a data set. Over no images
/// there is no loss or accuracy: both are NaN and `isEmpty` is true.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var accuracy: Double
    /// One row of class probabilities per image, in the loader's order.
    public var probabilities: [[Float]]
    public var labels: [Int]

    /// True when there were no images to evaluate (an empty split).
    public var isEmpty: Bool { labels.isEmpty }
}

/// Training that cannot go on.
public enum TrainerError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A non-finite loss (or weights) in `epoch` (1-based), at `batch` (1-based) when a training
    /// batch showed it, or at the epoch's end (validation loss, weights) when `batch` is nil.
    case diverged(epoch: Int, batch: Int?, quantity: String, value: Double)

    public var description: String {
        switch self {
        case let .diverged(epoch, batch, quantity, value):
            let place = batch.map { "epoch \(epoch), batch \($0)" } ?? "the end of epoch \(epoch)"
            let shown = value.isNaN ? "nan" : value < 0 ? "-inf" : "inf"
            return "training diverged at \(place): \(quantity) is \(shown); training stopped and the last good checkpoint (the last completed epoch) is kept; try a lower --lr"
        }
    }

    public var errorDescription: String? { description }
}

/// Keras's `Model.fit` for a `TransferClassifier`: mini-batch training with an optimizer,
/// validation after each epoch, and callbacks between epochs. It is the callbacks'
/// `TrainingContext`.
public final class Trainer: TrainingContext {
    public let model: TransferClassifier
    public var optimizer: Optimizer
    public let callbacks: CallbackList
    public let progress: ProgressReporter
    public var stopTraining = false
    /// True when the last `fit` ended because of Ctrl-C.
    public private(set) var interrupted = false
    /// Images per second of the last `fit`'s training steps.
    public private(set) var imagesPerSecond = 0.0
    /// When set, `fit` trains (and validates) the model's remainder on these cached outputs
    /// of its frozen prefix instead of running the whole network on the images.
    public var featureCache: FeatureCache?
    /// Class weights and label smoothing of the training loss (validation and test losses
    /// stay plain cross-entropy, the log loss).
    public var lossWeighting = LossWeighting.none
    /// The last training batch's loss (the learning-rate finder records it).
    public private(set) var lastBatchLoss = Double.nan

    public init(model: TransferClassifier, optimizer: Optimizer, callbacks: [Callback] = [],
                progress: ProgressReporter = ProgressReporter(style: .quiet)) {
        self.model = model
        self.optimizer = optimizer
        self.callbacks = CallbackList(callbacks)
        self.progress = progress
    }

    // MARK: TrainingContext

    public var learningRate: Double {
        get { optimizer.learningRate }
        set { optimizer.learningRate = newValue }
    }

    public func snapshotWeights() throws -> WeightsSnapshot { try WeightsSnapshot(capturing: model.network.weights) }

    public func restoreWeights(_ snapshot: WeightsSnapshot) throws { try snapshot.restore(into: model.network.weights) }

    public func saveModel(to url: URL) throws { try model.save(to: url) }

    public func log(_ message: String) { progress.message(message) }

    // MARK: Training

    /// Trains from epoch `initialEpoch` up to (not including) `epochs`, both counted across
    /// phases as Keras does. Returns the logs of each epoch run. A validation loader without
    /// images counts as none (no validation metrics rather than metrics over nothing).
    ///
    /// Without validation data, callbacks that judge a validation metric (early stopping,
    /// learning-rate reduction, best-only checkpoints on "val_..."), are left out of this fit,
    /// with one message, instead of acting on nothing.
    ///
    /// A non-finite training loss stops training before the optimizer applies that batch, and
    /// a non-finite validation loss or weight stops it before the epoch's callbacks run, so no
    /// checkpoint of diverged weights is written: `TrainerError.diverged` is thrown and the
    /// last completed epoch's checkpoints stay as they were.
    @discardableResult
    public func fit(_ train: BatchLoader, validation: BatchLoader?, epochs: Int, initialEpoch: Int = 0,
                    phase: String = "training", restoredCallbackState: Data? = nil,
                    epochEnded: ((Int, EpochLogs) throws -> Void)? = nil) throws -> [EpochLogs] {
        stopTraining = false
        interrupted = false
        let validation = validation.flatMap { $0.cache.count > 0 ? $0 : nil }
        let callbacks = activeCallbacks(hasValidation: validation != nil)
        try train.checkBatchFits()
        try validation?.checkBatchFits()
        try callbacks.onTrainBegin(context: self)
        if let restoredCallbackState { try self.callbacks.restoreStates(from: restoredCallbackState) }
        var history: [EpochLogs] = []
        var trainedImages = 0
        var trainingSeconds = 0.0
        let parameters = model.network.trainableParameters
        let network = featureCache?.remainder ?? model.network
        for epoch in initialEpoch..<epochs where !stopTraining {
            try callbacks.onEpochBegin(epoch: epoch, context: self)
            progress.epochBegan(epoch: epoch, of: epochs, phase: phase)
            let started = Date()
            var lossSum = 0.0, correct = 0, seen = 0
            for (b, batch) in steps(train, epoch: epoch).enumerated() {
                try callbacks.onBatchBegin(batch: b, context: self)
                let logits = try network.forward(batch.input, training: true)
                let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: batch.labels, weighting: lossWeighting)
                lastBatchLoss = result.loss
                if !result.loss.isFinite {
                    network.releaseSavedState()
                    throw TrainerError.diverged(epoch: epoch + 1, batch: b + 1, quantity: "loss", value: result.loss)
                }
                try network.backward(result.logitsGradient)
                try optimizer.step(parameters)
                lossSum += result.loss * Double(batch.count)
                correct += result.correct
                seen += batch.count
                let logs = EpochLogs(loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen))
                progress.batchEnded(batch: b, of: train.batchesPerEpoch, logs: logs, images: seen)
                try callbacks.onBatchEnd(batch: b, logs: logs, context: self)
                // A callback may stop within the epoch, as Keras checks `stop_training` after each batch.
                if Interrupt.requested || stopTraining { break }
            }
            let seconds = Date().timeIntervalSince(started)
            trainedImages += seen
            trainingSeconds += seconds
            if Interrupt.requested {
                interrupted = true
                break
            }
            network.releaseSavedState()
            var logs = EpochLogs(loss: lossSum / Double(max(seen, 1)), accuracy: Double(correct) / Double(max(seen, 1)))
            if let validation {
                let v = try featureCache?.validation.map { try Self.evaluate(network, classCount: model.classNames.count,
                                                                             batches: $0.epoch(0)) }
                    ?? evaluate(validation)
                if !v.loss.isFinite {
                    throw TrainerError.diverged(epoch: epoch + 1, batch: nil, quantity: "the validation loss", value: v.loss)
                }
                logs.values["val_loss"] = v.loss
                logs.values["val_accuracy"] = v.accuracy
            }
            if let bad = Self.firstNonFiniteValue(in: parameters) {
                throw TrainerError.diverged(epoch: epoch + 1, batch: nil, quantity: "a weight of \(bad.name)", value: bad.value)
            }
            let rate = learningRate
            try callbacks.onEpochEnd(epoch: epoch, logs: logs, context: self)
            progress.epochEnded(epoch: epoch, phase: phase, logs: logs, learningRate: rate,
                                seconds: Date().timeIntervalSince(started), imagesPerSecond: Double(seen) / seconds)
            history.append(logs)
            try epochEnded?(epoch, logs)
        }
        imagesPerSecond = trainingSeconds > 0 ? Double(trainedImages) / trainingSeconds : 0
        if !interrupted { try callbacks.onTrainEnd(logs: history.last, context: self) }
        return history
    }

    /// The callbacks of this fit: all of them with validation data; without, those that do
    /// not need a validation metric.
    private func activeCallbacks(hasValidation: Bool) -> CallbackList {
        guard !hasValidation else { return callbacks }
        func monitored(_ c: Callback) -> String? {
            switch c {
            case let c as EarlyStopping: return c.monitor.name
            case let c as ReduceLROnPlateau: return c.monitor.name
            case let c as ModelCheckpoint: return c.saveBestOnly ? c.monitor.name : nil
            default: return nil
            }
        }
        let off = callbacks.callbacks.filter { monitored($0)?.hasPrefix("val_") == true }
        guard !off.isEmpty else { return callbacks }
        let names = off.map { "\(type(of: $0))(\(monitored($0) ?? ""))" }.joined(separator: ", ")
        log("No validation images: \(names) off")
        return CallbackList(callbacks.callbacks.filter { c in !off.contains { $0 === c } })
    }

    /// The first parameter holding a NaN or infinity, and that value.
    static func firstNonFiniteValue(in parameters: [Parameter]) -> (name: String, value: Double)? {
        for p in parameters where p.value.dataType == .float32 {
            if let bad = p.value.floats.first(where: { !$0.isFinite }) { return (p.name, Double(bad)) }
        }
        return nil
    }

    /// Loss, accuracy and probabilities in inference mode (moving statistics, no dropout);
    /// NaN loss and accuracy over a loader without images.
    public func evaluate(_ loader: BatchLoader) throws -> EvaluationResult {
        try Self.evaluate(model, loader)
    }

    public static func evaluate(_ model: TransferClassifier, _ loader: BatchLoader) throws -> EvaluationResult {
        try loader.checkBatchFits()
        return try evaluate(model.network, classCount: model.classNames.count, batches: steps(loader, epoch: 0))
    }

    /// The batches of a training epoch: the cached features' when there are some, else the loader's images.
    private func steps(_ loader: BatchLoader, epoch: Int) -> AnySequence<StepBatch> {
        featureCache?.train.epoch(epoch) ?? Self.steps(loader, epoch: epoch)
    }

    private static func steps(_ loader: BatchLoader, epoch: Int) -> AnySequence<StepBatch> {
        AnySequence(loader.epoch(epoch).lazy.map { StepBatch(input: $0.images, labels: $0.labels) })
    }

    static func evaluate(_ network: Network, classCount k: Int, batches: AnySequence<StepBatch>) throws -> EvaluationResult {
        var lossSum = 0.0, correct = 0
        var probabilities: [[Float]] = []
        var labels: [Int] = []
        for batch in batches {
            let logits = try network.forward(batch.input, training: false)
            let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: batch.labels)
            lossSum += result.loss * Double(batch.count)
            correct += result.correct
            for i in 0..<batch.count { probabilities.append(Array(result.probabilities[(i * k)..<((i + 1) * k)])) }
            labels += batch.labels
        }
        // No metric over an empty set: NaN says "none" where 0 would read as a result.
        let n = Double(labels.count)
        return EvaluationResult(loss: n > 0 ? lossSum / n : .nan, accuracy: n > 0 ? Double(correct) / n : .nan,
                                probabilities: probabilities, labels: labels)
    }
}
