import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels

/// fastai's `lr_find` sweep: the learning rate grows geometrically from `startLR` to `endLR`
/// over `steps` mini-batches (both ends included: rate i is startLR·(endLR/startLR)^(i/(steps−1))),
/// the loss is smoothed as fastai's `AvgSmoothLoss` does (exponential moving average with
/// `beta`, divided by 1−beta^t), and the sweep stops once the smoothed loss exceeds
/// `divergenceFactor` times its minimum.
public struct LearningRateSweep: Sendable, Equatable, Codable {
    public var startLR = 1e-7
    public var endLR = 10.0
    public var steps = 100
    public var beta = 0.98
    public var divergenceFactor = 4.0

    public init(startLR: Double = 1e-7, endLR: Double = 10, steps: Int = 100) {
        self.startLR = startLR; self.endLR = endLR; self.steps = steps
    }

    public static let stepLimits = 2...100_000

    /// The rate of mini-batch `i` (0-based).
    public func learningRate(at i: Int) -> Double { startLR * pow(endLR / startLR, Double(i) / Double(steps - 1)) }

    public func validate() throws(ConfigError) {
        for (option, rate) in [("--start-lr", startLR), ("--end-lr", endLR)] {
            let allowed = "above 0 and at most \(TransferLearningConfig.number(TransferLearningConfig.Limits.maxLearningRate))"
            if !rate.isFinite { throw .notFinite(option: option, value: TransferLearningConfig.number(rate), allowed: allowed) }
            if !(rate > 0 && rate <= TransferLearningConfig.Limits.maxLearningRate) {
                throw .outOfRange(option: option, value: TransferLearningConfig.number(rate), allowed: allowed)
            }
        }
        if endLR <= startLR {
            throw .invalid(option: "--end-lr", reason: "\(TransferLearningConfig.number(endLR)) is not above --start-lr \(TransferLearningConfig.number(startLR))")
        }
        if !Self.stepLimits.contains(steps) {
            throw .outOfRange(option: "--steps", value: "\(steps)", allowed: "between \(Self.stepLimits.lowerBound) and \(Self.stepLimits.upperBound)")
        }
    }
}

/// What a sweep found; written as `lr-find.json`.
public struct LearningRateFinding: Codable, Sendable, Equatable {
    public var sweep: LearningRateSweep
    /// The rate of each mini-batch run, and its loss (raw and smoothed).
    public var learningRates: [Double]
    public var losses: [Double]
    public var smoothedLosses: [Double]
    /// fastai's `steep` suggestion: the rate where the smoothed loss falls fastest per unit
    /// of log learning rate (the points of the first tenth and the last five left out, as fastai does).
    public var suggestedLearningRate: Double
    /// fastai's `minimum` suggestion: the rate of the lowest smoothed loss, divided by 10.
    public var minimumLearningRateOver10: Double
    /// "completed", "diverged" (smoothed loss above 4x its minimum) or "non-finite loss".
    public var stopReason: String
    public var backbone: String
    public var imageSize: Int
    public var batchSize: Int
    public var optimizer: String
    public var trainingImages: Int
    public var data: String

    public static let suggestionMethod = "steepest descent of the smoothed loss, fastai's steep"
}

/// `petal lr-find`: the sweep on phase 1's set-up (a new head on the frozen pretrained base,
/// the run's training split, augmentation, optimizer and loss), through `Trainer.fit`. The
/// model is built for the sweep and thrown away: nothing is saved but the finding.
public enum LearningRateFinder {
    public static func run(config: TransferLearningConfig, sweep: LearningRateSweep,
                           progress: ProgressReporter) throws -> LearningRateFinding {
        try sweep.validate()
        let folder = try ImageFolder(URL(fileURLWithPath: config.data))
        try config.validate(imageCount: folder.count, classNames: folder.classNames)
        let architecture = config.architecture!
        let size = config.imageSize ?? architecture.nativeInputSize
        let split = try DatasetSplit.stratified(folder, train: config.trainFraction, validation: config.validationFraction,
                                                test: config.testFraction, seed: config.seed)
        let cache = try ImageCache(files: split.train, side: size)
        for failure in cache.failures { progress.message("skipped \(failure)") }
        guard cache.count > 0 else { throw ConfigError.invalid(option: "DATA", reason: "no training images to sweep over") }
        let train = BatchLoader(cache: cache, batchSize: config.batchSize, shuffle: true, augmentation: config.augmentation,
                                normalization: architecture.normalization, seed: config.seed, workers: 1)
        let classifier = try TransferClassifier(architecture: architecture, classNames: split.classNames, inputSize: size,
                                                head: config.head, base: try config.pretrainedWeights(architecture, size: size),
                                                seed: config.seed)
        classifier.freezeBase()
        let recorder = SweepRecorder(sweep)
        let optimizer = try OptimizerSpec(kind: config.optimizer, learningRate: sweep.startLR).makeOptimizer()
        let trainer = Trainer(model: classifier, optimizer: optimizer, callbacks: [recorder], progress: progress)
        trainer.lossWeighting = try config.lossWeighting(classNames: split.classNames, trainingCounts: split.counts().train)
        progress.message("Sweeping the learning rate from \(sweep.startLR) to \(sweep.endLR) over \(sweep.steps) batches of \(config.batchSize) (\(cache.count) training images, base frozen)")
        let batches = max(1, train.batchesPerEpoch)
        do {
            try trainer.fit(train, validation: nil, epochs: (sweep.steps + batches - 1) / batches, phase: "lr-find")
            if trainer.interrupted { recorder.stopReason = "interrupted" }
        } catch TrainerError.diverged {
            // A non-finite loss, or weights after the epoch's last step.
            if recorder.stopReason != "diverged" { recorder.stopReason = "non-finite loss" }
        }
        guard !recorder.rates.isEmpty else {
            throw ConfigError.invalid(option: "--start-lr", reason: "the loss was not finite from the first batch at \(sweep.startLR); nothing to suggest")
        }
        let (steep, minimum) = suggestions(rates: recorder.rates, smoothed: recorder.smoothed, steps: sweep.steps)
        return LearningRateFinding(sweep: sweep, learningRates: recorder.rates, losses: recorder.losses,
                                   smoothedLosses: recorder.smoothed, suggestedLearningRate: steep,
                                   minimumLearningRateOver10: minimum / 10, stopReason: recorder.stopReason,
                                   backbone: config.backbone, imageSize: size, batchSize: config.batchSize,
                                   optimizer: config.optimizer.rawValue, trainingImages: cache.count, data: config.data)
    }

    /// fastai's `steep` and `minimum` (before its division by 10) over the recorded points,
    /// leaving out the first `steps/10` and the last 5 as fastai's `lr_find` does (all points
    /// when fewer than two would remain).
    static func suggestions(rates: [Double], smoothed: [Double], steps: Int) -> (steep: Double, minimum: Double) {
        var lo = steps / 10, hi = rates.count - 5
        if hi - lo < 2 { (lo, hi) = (0, rates.count) }
        let r = Array(rates[lo..<hi]), s = Array(smoothed[lo..<hi])
        let minimum = r[s.indices.min { s[$0] < s[$1] }!]
        guard r.count >= 2 else { return (r[0], minimum) }
        var best = 0, bestSlope = Double.infinity
        for i in 0..<(r.count - 1) {
            let slope = (s[i + 1] - s[i]) / (log(r[i + 1]) - log(r[i]))
            if slope < bestSlope { bestSlope = slope; best = i }
        }
        return (r[best], minimum)
    }
}

/// Sets each batch's rate and records its loss, smoothed; stops the fit when done or diverged.
final class SweepRecorder: Callback {
    let sweep: LearningRateSweep
    var rates: [Double] = [], losses: [Double] = [], smoothed: [Double] = []
    var stopReason = "completed"
    private var average = 0.0, best = Double.infinity

    init(_ sweep: LearningRateSweep) { self.sweep = sweep }

    func onBatchBegin(batch: Int, context: TrainingContext) throws {
        context.learningRate = sweep.learningRate(at: rates.count)
    }

    func onBatchEnd(batch: Int, logs: EpochLogs, context: TrainingContext) throws {
        guard let trainer = context as? Trainer else { return }
        let loss = trainer.lastBatchLoss
        rates.append(sweep.learningRate(at: rates.count))
        losses.append(loss)
        average = sweep.beta * average + (1 - sweep.beta) * loss
        let value = average / (1 - pow(sweep.beta, Double(losses.count)))
        smoothed.append(value)
        best = min(best, value)
        if value > sweep.divergenceFactor * best {
            stopReason = "diverged"
            context.stopTraining = true
        } else if rates.count >= sweep.steps {
            context.stopTraining = true
        }
    }
}
