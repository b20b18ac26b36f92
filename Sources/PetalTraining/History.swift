import Foundation

/// One epoch's results, as Keras's `History` records them, plus Petal's phase and timing.
public struct EpochRecord: Codable, Sendable, Equatable {
    /// 1-based epoch number across the whole run (both phases).
    public var epoch: Int
    /// "feature-extraction" or "fine-tuning".
    public var phase: String
    public var loss: Double
    public var accuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// The learning rate used during this epoch.
    public var learningRate: Double
    public var seconds: Double

    public init(epoch: Int, phase: String, loss: Double, accuracy: Double,
                validationLoss: Double? = nil, validationAccuracy: Double? = nil,
                learningRate: Double, seconds: Double) {
        self.epoch = epoch; self.phase = phase; self.loss = loss; self.accuracy = accuracy
        self.validationLoss = validationLoss; self.validationAccuracy = validationAccuracy
        self.learningRate = learningRate; self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case epoch, phase, loss, accuracy
        case validationLoss = "val_loss", validationAccuracy = "val_accuracy"
        case learningRate = "lr", seconds
    }
}

/// The history of a run across both phases; saved as `history.json` and `history.csv`
/// in the run folder.
public struct TrainingHistory: Codable, Sendable, Equatable {
    public var epochs: [EpochRecord] = []
    /// The epoch number at which fine-tuning began, if it did.
    public var fineTuningStartEpoch: Int?

    public init(epochs: [EpochRecord] = [], fineTuningStartEpoch: Int? = nil) {
        self.epochs = epochs
        self.fineTuningStartEpoch = fineTuningStartEpoch
    }

    enum CodingKeys: String, CodingKey {
        case epochs
        case fineTuningStartEpoch = "fine_tuning_start_epoch"
    }
}
