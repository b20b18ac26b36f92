import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels

/// Loss, accuracy and per-image probabilities of a model on a data set.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var accuracy: Double
    /// One row of class probabilities per image, in the loader's order.
    public var probabilities: [[Float]]
    public var labels: [Int]
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
    /// phases as Keras does. Returns the logs of each epoch run.
    @discardableResult
    public func fit(_ train: BatchLoader, validation: BatchLoader?, epochs: Int, initialEpoch: Int = 0,
                    phase: String = "training", restoredCallbackState: Data? = nil,
                    epochEnded: ((Int, EpochLogs) throws -> Void)? = nil) throws -> [EpochLogs] {
        stopTraining = false
        interrupted = false
        try train.checkBatchFits()
        try validation?.checkBatchFits()
        try callbacks.onTrainBegin(context: self)
        if let restoredCallbackState { try callbacks.restoreStates(from: restoredCallbackState) }
        var history: [EpochLogs] = []
        var trainedImages = 0
        var trainingSeconds = 0.0
        let parameters = model.network.trainableParameters
        for epoch in initialEpoch..<epochs where !stopTraining {
            try callbacks.onEpochBegin(epoch: epoch, context: self)
            progress.epochBegan(epoch: epoch, of: epochs, phase: phase)
            let started = Date()
            var lossSum = 0.0, correct = 0, seen = 0
            for (b, batch) in train.epoch(epoch).enumerated() {
                try callbacks.onBatchBegin(batch: b, context: self)
                let logits = try model.network.forward(batch.images, training: true)
                let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: batch.labels)
                try model.network.backward(result.logitsGradient)
                try optimizer.step(parameters)
                lossSum += result.loss * Double(batch.count)
                correct += result.correct
                seen += batch.count
                let logs = EpochLogs(loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen))
                progress.batchEnded(batch: b, of: train.batchesPerEpoch, logs: logs, images: seen)
                try callbacks.onBatchEnd(batch: b, logs: logs, context: self)
                if Interrupt.requested { break }
            }
            let seconds = Date().timeIntervalSince(started)
            trainedImages += seen
            trainingSeconds += seconds
            if Interrupt.requested {
                interrupted = true
                break
            }
            model.network.releaseSavedState()
            var logs = EpochLogs(loss: lossSum / Double(max(seen, 1)), accuracy: Double(correct) / Double(max(seen, 1)))
            if let validation {
                let v = try evaluate(validation)
                logs.values["val_loss"] = v.loss
                logs.values["val_accuracy"] = v.accuracy
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

    /// Loss, accuracy and probabilities in inference mode (moving statistics, no dropout).
    public func evaluate(_ loader: BatchLoader) throws -> EvaluationResult {
        try Self.evaluate(model, loader)
    }

    public static func evaluate(_ model: TransferClassifier, _ loader: BatchLoader) throws -> EvaluationResult {
        var lossSum = 0.0, correct = 0
        var probabilities: [[Float]] = []
        var labels: [Int] = []
        let k = model.classNames.count
        try loader.checkBatchFits()
        for batch in loader.epoch(0) {
            let logits = try model.network.forward(batch.images, training: false)
            let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: batch.labels)
            lossSum += result.loss * Double(batch.count)
            correct += result.correct
            for i in 0..<batch.count { probabilities.append(Array(result.probabilities[(i * k)..<((i + 1) * k)])) }
            labels += batch.labels
        }
        let n = Double(max(labels.count, 1))
        return EvaluationResult(loss: lossSum / n, accuracy: Double(correct) / n, probabilities: probabilities,
                                labels: labels)
    }
}
