import ArgumentParser
import Foundation
import PetalCore
import PetalData
import PetalEvaluation
import PetalModels
import PetalTraining

/// `petal train DATA`: feature extraction, then fine-tuning, then evaluation and a report.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier on a folder of images (one sub-folder per class) by transfer learning.",
        discussion: """
        Phase 1 trains a new head on the frozen pretrained base; phase 2 fine-tunes the base's top \
        layers at a tenth of the learning rate. The run folder gets the model, the best checkpoint, \
        the history, the split, the configuration, metrics and report.html.
        """)

    @Argument(help: "The dataset folder, one sub-folder per class.") var data: String?

    @Option(help: "mobilenetv2 or efficientnet-lite0 ... efficientnet-lite4.") var backbone = "efficientnet-lite0"
    @Option(help: "MobileNetV2's width multiplier (0.35, 0.5, 0.75, 1.0, 1.3, 1.4).") var alpha = 1.0
    @Option(help: "A weights file, 'imagenet' (Keras's MobileNetV2 files, downloaded), or 'none'. Default: the installed weights.")
    var weights: String?
    @Option(help: "Square input size (default: the backbone's native size).") var imageSize: Int?
    @Option(help: "Images per batch.") var batchSize = 32
    @Option(help: "Epochs of feature extraction (phase 1).") var epochsFe = 8
    @Option(help: "Epochs of fine-tuning (phase 2).") var epochsFt = 8
    @Option(help: "Where fine-tuning starts: a layer index (Keras's numbering) or a layer/block name.")
    var fineTuneAt: String?
    @Option(help: "Learning rate of phase 1.") var lr = 1e-3
    @Option(help: "Learning rate of phase 2 (default: lr / 10).") var lrFt: Double?
    @Option(help: "rmsprop, adam or sgd.") var optimizer = "rmsprop"
    @Option(help: "Hidden Dense layers of the head, e.g. 256,128 (default: none).") var hidden: String?
    @Option(help: "Dropout in the head.") var dropout: Float = 0.2
    @Option(help: "Augmentation: 'standard', 'none', or key=value pairs, e.g. flip=1,vflip=0,rotation=20,shift=0.1,zoom=0.1,brightness=0.2,contrast=0")
    var augment = "standard"
    @Option(help: "Train/validation/test fractions, e.g. 0.7,0.15,0.15.") var split = "0.7,0.15,0.15"
    @Option(help: "Seed of the split, shuffling, augmentation, head initialisation and dropout.") var seed: UInt64 = 42
    @Option(help: "oneDNN threads (default: all cores).") var threads: Int?
    @Flag(help: "Train the base's batch-norm statistics in phase 2.") var trainBnStatistics = false
    @Option(help: "Run folder (default: runs/<dataset>-<backbone>-<time>).") var out: String?
    @Option(help: "Continue an interrupted run from its last completed epoch.") var resume: String?
    @Flag(help: "Print only the run folder.") var quiet = false
    @Flag(help: "One JSON object per epoch on standard output, for scripts.") var jsonLines = false
    @Flag(help: "Print the model summary (layers, shapes, trainable and frozen parameters) at each phase.") var summary = false

    func validate() throws {
        if resume == nil && data == nil { throw ValidationError("give the dataset folder, or --resume RUN") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if epochsFe < 0 || epochsFt < 0 { throw ValidationError("epochs cannot be negative") }
        if let imageSize, imageSize < 32 { throw ValidationError("--image-size must be at least 32") }
        if lr <= 0 { throw ValidationError("--lr must be above 0") }
        if Architecture(name: backbone, alpha: alpha) == nil {
            throw ValidationError("unknown --backbone '\(backbone)': use mobilenetv2 or efficientnet-lite0 ... efficientnet-lite4")
        }
        if backbone.lowercased().hasPrefix("mobilenet"), !MobileNetV2.alphas.contains(alpha) {
            throw ValidationError("--alpha must be one of \(MobileNetV2.alphas.map { String($0) }.joined(separator: ", "))")
        }
        _ = try parsedAugmentation()
        _ = try parsedSplit()
        if OptimizerSpec.Kind(rawValue: optimizer.lowercased()) == nil {
            throw ValidationError("unknown --optimizer '\(optimizer)': use rmsprop, adam or sgd")
        }
    }

    func run() throws {
        let style: ProgressStyle = quiet ? .quiet : jsonLines ? .jsonLines : .automatic
        let progress = ProgressReporter(style: style)
        Interrupt.install()
        let run: TransferLearningRun
        if let resume {
            run = try TransferLearningRun(resuming: URL(fileURLWithPath: resume), progress: progress)
        } else {
            let config = try makeConfig()
            run = try TransferLearningRun(config: config, folder: runFolder(config), progress: progress)
        }
        run.printsSummary = summary
        let outcome = try run.execute()
        if outcome.interrupted {
            print(outcome.folder.path)
            throw ExitCode(130)
        }
        let metrics = try RunOutcomeArtifacts.write(outcome)
        if !quiet && !jsonLines {
            for phase in outcome.phases {
                print(String(format: "%@: test accuracy %.2f%% after %d epochs, %.0fs (%.0f img/s)", phase.name,
                             phase.testAccuracy * 100, phase.epochs, phase.seconds, phase.imagesPerSecond))
            }
            print(String(format: "Final model: test accuracy %.2f%%, log loss %.4f", metrics.accuracy * 100, metrics.logLoss))
            print("Report: \(RunFolder(outcome.folder).url(.report).path)")
        }
        print(outcome.folder.path)
    }

    func makeConfig() throws -> TransferLearningConfig {
        var config = TransferLearningConfig(data: URL(fileURLWithPath: data!).standardizedFileURL.path)
        config.backbone = backbone.lowercased()
        config.alpha = alpha
        config.weights = weights
        config.imageSize = imageSize
        config.batchSize = batchSize
        config.epochsFeatureExtraction = epochsFe
        config.epochsFineTuning = epochsFt
        config.fineTuneAt = fineTuneAt
        config.learningRate = lr
        config.fineTuneLearningRate = lrFt
        config.optimizer = OptimizerSpec.Kind(rawValue: optimizer.lowercased())!
        config.head = HeadConfig(hiddenUnits: try hidden.map(parseInts) ?? [], dropout: dropout)
        config.augmentation = try parsedAugmentation()
        (config.trainFraction, config.validationFraction, config.testFraction) = try parsedSplit()
        config.seed = seed
        config.threads = threads
        config.trainBatchNormStatistics = trainBnStatistics
        return config
    }

    private func runFolder(_ config: TransferLearningConfig) -> URL {
        if let out { return URL(fileURLWithPath: out) }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let name = URL(fileURLWithPath: config.data).lastPathComponent
        return URL(fileURLWithPath: "runs").appendingPathComponent("\(name)-\(config.backbone)-\(formatter.string(from: Date()))")
    }

    private func parseInts(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v > 0 else {
                throw ValidationError("--hidden expects positive integers separated by commas, got '\(text)'")
            }
            return v
        }
    }

    private func parsedSplit() throws -> (Double, Double, Double) {
        let parts = split.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 >= 0 }), abs(parts.reduce(0, +) - 1) < 1e-6, parts[0] > 0 else {
            throw ValidationError("--split expects three fractions adding up to 1, e.g. 0.7,0.15,0.15; got '\(split)'")
        }
        return (parts[0], parts[1], parts[2])
    }

    func parsedAugmentation() throws -> Augmentation {
        switch augment.lowercased() {
        case "standard", "default": return .standard
        case "none", "off": return .none
        default: break
        }
        var a = Augmentation.none
        for pair in augment.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let value = Float(kv[1]) else {
                throw ValidationError("--augment: '\(pair)' is not key=value")
            }
            switch kv[0] {
            case "flip", "hflip": a.horizontalFlip = value != 0
            case "vflip": a.verticalFlip = value != 0
            case "rotation": a.rotationDegrees = value
            case "shift": a.widthShift = value; a.heightShift = value
            case "width-shift": a.widthShift = value
            case "height-shift": a.heightShift = value
            case "zoom": a.zoom = value
            case "brightness": a.brightness = value
            case "contrast": a.contrast = value
            default:
                throw ValidationError("--augment: unknown '\(kv[0])' (flip, vflip, rotation, shift, width-shift, height-shift, zoom, brightness, contrast)")
            }
        }
        return a
    }
}
