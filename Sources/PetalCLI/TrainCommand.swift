import ArgumentParser
import Foundation
import PetalCore
import PetalData
import PetalDistributed
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

    // Options are optional so that `--resume` knows which were given (and refuses those that
    // contradict the run); a new run takes the rest from `TransferLearningConfig`'s defaults.
    // Numbers parse unconditionally, so `--threads -3` reaches the range check instead of
    // being taken for an option.
    @Argument(help: "The dataset folder, one sub-folder per class.") var data: String?

    @Option(help: "One of \(Backbones.nameList) (default: \(TrainCommand.defaults.backbone)).")
    var backbone: String?
    @Option(parsing: .unconditional, help: "The width multiplier, \(Backbones.widthMultiplierHelp) (default: 1.0).")
    var alpha: Double?
    @Option(help: "A weights file, 'imagenet' (downloaded, for \(Backbones.imageNetDownloadNames.joined(separator: ", "))), or 'none'. Default: the installed weights.")
    var weights: String?
    @Option(parsing: .unconditional, help: "Square input size, \(TrainCommand.range(TransferLearningConfig.Limits.imageSize)) (default: the backbone's native size).")
    var imageSize: Int?
    @Option(parsing: .unconditional, help: "Images per batch, \(TrainCommand.range(TransferLearningConfig.Limits.batchSize)) (default: \(TrainCommand.defaults.batchSize)).")
    var batchSize: Int?
    @Option(parsing: .unconditional, help: "Epochs of feature extraction, phase 1 (default: \(TrainCommand.defaults.epochsFeatureExtraction)).")
    var epochsFe: Int?
    @Option(parsing: .unconditional, help: "Epochs of fine-tuning, phase 2 (default: \(TrainCommand.defaults.epochsFineTuning)).")
    var epochsFt: Int?
    @Option(parsing: .unconditional, help: "Where fine-tuning starts: a layer index (Keras's numbering) or a layer/block name.")
    var fineTuneAt: String?
    @Option(parsing: .unconditional, help: "Learning rate of phase 1, above 0 and at most \(Int(TransferLearningConfig.Limits.maxLearningRate)) (default: \(TrainCommand.defaults.learningRate)).")
    var lr: Double?
    @Option(parsing: .unconditional, help: "Learning rate of phase 2 (default: lr / 10).") var lrFt: Double?
    @Option(help: "rmsprop, adam or sgd (default: \(TrainCommand.defaults.optimizer.rawValue)).") var optimizer: String?
    @Option(parsing: .unconditional, help: "Hidden Dense layers of the head, e.g. 256,128 (default: none).")
    var hidden: String?
    @Option(parsing: .unconditional, help: "Dropout in the head, at least 0 and below 1 (default: \(TrainCommand.defaults.head.dropout)).")
    var dropout: Float?
    @Option(help: """
        Augmentation: 'standard' (default), 'none', or key=value pairs, e.g. \
        flip=1,vflip=0,rotation=20,shift=0.1,zoom=0.1,brightness=0.2,contrast=0 \
        (rotation 0...180 degrees; shift, width-shift, height-shift, zoom, brightness, contrast 0...1).
        """)
    var augment: String?
    @Option(parsing: .unconditional, help: "Train/validation/test fractions adding up to 1 (default: 0.7,0.15,0.15); validation or test may be 0.")
    var split: String?
    @Option(parsing: .unconditional, help: "Seed of the split, shuffling, augmentation, head initialisation and dropout (default: \(TrainCommand.defaults.seed)).",
            transform: TrainCommand.parseSeed)
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "oneDNN threads, \(TrainCommand.range(TransferLearningConfig.Limits.threads)) (default: all cores).") var threads: Int?
    @Flag(help: "Train the base's batch-norm statistics in phase 2.") var trainBnStatistics = false
    @Option(help: "Class weights in the loss: 'balanced' (n_images / (n_classes * class count), on the training split) or e.g. daisy=2,rose=1 (others 1).")
    var classWeight: String?
    @Option(parsing: .unconditional, help: "Label smoothing, at least 0 and below 1: targets (1-E)*onehot + E/classes (default: 0).")
    var labelSmoothing: Double?
    @Option(help: "A file of images to leave out before splitting, one path a line relative to DATA (petal data audit's exclude.txt); paths that are not in DATA are a warning.")
    var exclude: String?
    @Option(help: "Run folder (default: runs/<dataset>-<backbone>-<time>).") var out: String?
    @Option(help: "Continue an interrupted run from its last completed epoch, with its own configuration.") var resume: String?
    @Flag(help: "Print only the run folder.") var quiet = false
    @Flag(help: "One JSON object per epoch on standard output, for scripts.") var jsonLines = false
    @Flag(help: "Print the model summary (layers, shapes, trainable and frozen parameters) at each phase.") var summary = false

    private static let defaults = TransferLearningConfig(data: "")
    private static func range(_ r: ClosedRange<Int>) -> String { "\(r.lowerBound)...\(r.upperBound)" }

    private static func parseSeed(_ text: String) throws -> UInt64 {
        guard let seed = UInt64(text) else {
            throw ValidationError("--seed is \(text); it must be a whole number between 0 and \(UInt64.max)")
        }
        return seed
    }

    /// Checks the options through `TransferLearningConfig.validate()` (the check the Swift API
    /// and `--resume` use too); with `--resume`, refuses options that contradict the run.
    func validate() throws {
        do {
            if let resume {
                try validateResume(URL(fileURLWithPath: resume))
            } else {
                guard let data else { throw ValidationError("give the dataset folder, or --resume RUN") }
                // The image count lets the memory check include the decoded images, the class names
                // check --class-weight's; a folder that cannot be scanned is reported by the run.
                let folder = try? ImageFolder(URL(fileURLWithPath: data))
                try makeConfig().validate(imageCount: folder?.count, classNames: folder?.classNames)
            }
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }

    /// `--resume RUN` takes the run's saved configuration; an option given with it must agree.
    private func validateResume(_ folder: URL) throws {
        if let out, URL(fileURLWithPath: out).standardizedFileURL.path != folder.standardizedFileURL.path {
            throw ValidationError("--out \(out) contradicts --resume \(folder.path): a resumed run continues in its own folder")
        }
        // Nothing to compare without options; a folder that is not a run is reported by the
        // run itself, with what is missing.
        guard givesConfigurationOptions,
              let saved = try RunFolder(folder).readIfPresent(TransferLearningConfig.self, from: .config) else { return }
        try saved.checkResumable(with: makeConfig(base: saved), run: folder.path)
    }

    func run() throws {
        // Under mpirun, rank 0 prints and writes; the others train their shares (DistributedRun).
        let group = try MPIProcessGroup.current()
        let style: ProgressStyle = quiet || !group.isRoot ? .quiet : jsonLines ? .jsonLines : .automatic
        let progress = ProgressReporter(style: style)
        Interrupt.install()
        let distributed = try DistributedRun.make(group: group, progress: progress) {
            if let resume { return try TransferLearningRun(resuming: URL(fileURLWithPath: resume), progress: progress) }
            let config = try makeConfig()
            return try TransferLearningRun(config: config, folder: runFolder(config), progress: progress)
        }
        defer { distributed.cleanUp() }
        let run = distributed.run
        run.printsSummary = summary && group.isRoot
        let outcome = try run.execute()
        if let mpi = group as? MPIProcessGroup { progress.message(mpi.communicationSummary()) }
        guard group.isRoot else { if outcome.interrupted { throw ExitCode(130) } else { return } }
        if outcome.interrupted {
            print(outcome.folder.path)
            throw ExitCode(130)
        }
        let metrics = try RunOutcomeArtifacts.write(outcome)
        if !quiet && !jsonLines {
            if metrics.isEmpty {
                print("No test images (--split test fraction 0, or none decoded): no test metrics")
            } else {
                for phase in outcome.phases {
                    print(String(format: "%@: test accuracy %.2f%% after %d epochs, %.0fs (%.0f img/s)", phase.name,
                                 phase.testAccuracy * 100, phase.epochs, phase.seconds, phase.imagesPerSecond))
                }
                print(String(format: "Final model: test accuracy %.2f%%, log loss %.4f", metrics.accuracy * 100, metrics.logLoss))
            }
            print("Report: \(RunFolder(outcome.folder).url(.report).path)")
        }
        print(outcome.folder.path)
    }

    /// True when an option (or DATA) that `makeConfig` applies was given.
    private var givesConfigurationOptions: Bool {
        let texts: [String?] = [data, backbone, weights, fineTuneAt, optimizer, hidden, augment, split, classWeight, exclude]
        let numbers: [Any?] = [alpha, imageSize, batchSize, epochsFe, epochsFt, lr, lrFt, dropout, seed, threads, labelSmoothing]
        return texts.contains { $0 != nil } || numbers.contains { $0 != nil } || trainBnStatistics
    }

    /// The configuration the options describe: the given options over `base` (a resumed run's
    /// saved configuration) or over the defaults. Values are checked by `validate()`.
    func makeConfig(base: TransferLearningConfig? = nil) throws -> TransferLearningConfig {
        var config = base ?? TransferLearningConfig(data: "")
        if let data { config.data = URL(fileURLWithPath: data).standardizedFileURL.path }
        if let backbone { config.backbone = backbone.lowercased() }
        if let alpha { config.alpha = alpha }
        if let weights { config.weights = weights }
        if let imageSize { config.imageSize = imageSize }
        if let batchSize { config.batchSize = batchSize }
        if let epochsFe { config.epochsFeatureExtraction = epochsFe }
        if let epochsFt { config.epochsFineTuning = epochsFt }
        if let fineTuneAt { config.fineTuneAt = fineTuneAt }
        if let lr { config.learningRate = lr }
        if let lrFt { config.fineTuneLearningRate = lrFt }
        if let optimizer {
            guard let kind = OptimizerSpec.Kind(rawValue: optimizer.lowercased()) else {
                throw ValidationError("unknown --optimizer '\(optimizer)': use rmsprop, adam or sgd")
            }
            config.optimizer = kind
        }
        if let hidden { config.head.hiddenUnits = try parseInts(hidden) }
        if let dropout { config.head.dropout = dropout }
        if let augment { config.augmentation = try parsedAugmentation(augment) }
        if let split { (config.trainFraction, config.validationFraction, config.testFraction) = try parsedSplit(split) }
        if let seed { config.seed = seed }
        if let threads { config.threads = threads }
        if trainBnStatistics { config.trainBatchNormStatistics = true }
        if let classWeight { config.classWeight = try ClassWeight(parsing: classWeight) }
        if let labelSmoothing { config.labelSmoothing = labelSmoothing }
        if let exclude { config.exclude = exclude.isEmpty ? exclude : URL(fileURLWithPath: exclude).standardizedFileURL.path }
        return config
    }

    private func runFolder(_ config: TransferLearningConfig) -> URL {
        if let out { return URL(fileURLWithPath: out) }
        return config.timestampedFolder(in: "runs")
    }

    private func parseInts(_ text: String) throws -> [Int] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--hidden expects layer sizes separated by commas, e.g. 256,128; got '\(text)'")
            }
            return v
        }
    }

    private func parsedSplit(_ text: String) throws -> (Double, Double, Double) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, let train = parts[0], let validation = parts[1], let test = parts[2] else {
            throw ValidationError("--split expects three fractions adding up to 1, e.g. 0.7,0.15,0.15; got '\(text)'")
        }
        return (train, validation, test)
    }

    /// Parses `--augment`; the values' ranges are checked by `TransferLearningConfig.validate()`.
    func parsedAugmentation(_ text: String) throws -> Augmentation {
        switch text.lowercased() {
        case "standard", "default": return .standard
        case "none", "off": return .none
        default: break
        }
        var a = Augmentation.none
        for pair in text.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let value = Float(kv[1]) else {
                throw ValidationError("--augment: '\(pair)' is not key=number")
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
