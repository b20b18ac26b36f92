import Foundation
import PetalData
import PetalModels

/// A training configuration that cannot run, named by its command-line option (`--threads`)
/// or, for settings without one, its `config.json` key, with the allowed values.
public enum ConfigError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A number outside its range; `allowed` reads "between 1 and 1024".
    case outOfRange(option: String, value: String, allowed: String)
    /// NaN or an infinity where a number is needed.
    case notFinite(option: String, value: String, allowed: String)
    /// Any other bad value: an unknown name, a contradiction between options.
    case invalid(option: String, reason: String)
    /// Training at this input size and batch (and with this many decoded images, when known)
    /// would not fit in memory.
    case tooMuchMemory(imageSize: Int, batchSize: Int, imageCount: Int?, estimatedBytes: Double, availableBytes: Double)
    /// `--resume` with an option whose value differs from the run's saved configuration.
    case contradictsRun(option: String, given: String, saved: String, run: String)

    /// The option (or config.json key) at fault.
    public var option: String {
        switch self {
        case let .outOfRange(option, _, _), let .notFinite(option, _, _), let .invalid(option, _),
             let .contradictsRun(option, _, _, _):
            return option
        case .tooMuchMemory: return "--image-size"
        }
    }

    public var description: String {
        switch self {
        case let .outOfRange(option, value, allowed):
            return "\(option) is \(value); it must be \(allowed)"
        case let .notFinite(option, value, allowed):
            return "\(option) is \(value), not a finite number; it must be \(allowed)"
        case let .invalid(option, reason):
            return "\(option): \(reason)"
        case let .tooMuchMemory(size, batch, count, estimated, available):
            let images = count.map { " and \($0) images decoded at that size" } ?? ""
            return String(format: "--image-size %d with --batch-size %d%@ needs about %.1f GB for training, more than this machine's %.1f GB; lower --image-size or --batch-size",
                          size, batch, images, estimated / 1e9, available / 1e9)
        case let .contradictsRun(option, given, saved, run):
            return "\(option) \(given) contradicts the run being resumed (\(run) was started with \(option) \(saved)); a resumed run keeps its configuration: leave the option out, or start a new run"
        }
    }

    public var errorDescription: String? { description }
}

extension TransferLearningConfig {
    /// The ranges `validate()` allows, as Keras and PyTorch users would expect them.
    public enum Limits {
        public static let imageSize = 32...1024
        public static let batchSize = 1...4096
        public static let epochs = 0...10_000
        /// Learning rates are above 0 and at most this.
        public static let maxLearningRate = 10.0
        public static let threads = 1...1024
        public static let rotationDegrees: ClosedRange<Float> = 0...180
        /// Shifts, zoom, brightness and contrast are fractions.
        public static let fraction: ClosedRange<Float> = 0...1
        public static let hiddenUnits = 1...65_536
        public static let patience = 0...10_000
        public static let monitors = ["val_accuracy", "val_loss", "accuracy", "loss"]
    }

    /// Checks every setting before anything is written or trained, and throws the first
    /// problem, named by its command-line option. The CLI, the Swift API
    /// (`TransferLearningRun`) and `--resume` all call this one check. With `imageCount`,
    /// the memory check counts the decoded images too; with `classNames`, `--class-weight`'s
    /// class names are checked against them.
    public func validate(imageCount: Int? = nil, classNames: [String]? = nil) throws(ConfigError) {
        if data.isEmpty { throw .invalid(option: "DATA", reason: "no dataset folder given") }
        guard let architecture else {
            throw .invalid(option: "--backbone", reason: "unknown backbone '\(backbone)'; use one of \(Backbones.nameList)")
        }
        let alphaList = (architecture.facts.widthMultipliers ?? [1]).map { String($0) }.joined(separator: ", ")
        try Self.finite("--alpha", alpha, allowed: "one of \(alphaList)")
        if let alphas = architecture.facts.widthMultipliers {
            if !alphas.contains(alpha) { throw .invalid(option: "--alpha", reason: "\(alpha) is not one of \(alphaList)") }
        } else if alpha != 1 {
            let families = Backbones.all.filter { $0.widthMultipliers != nil }.flatMap(\.names)
            throw .invalid(option: "--alpha", reason: "the width multiplier applies to \(families.joined(separator: ", ")) only, not \(backbone)")
        }
        if let weights, weights.isEmpty { throw .invalid(option: "--weights", reason: "empty; give a file, 'imagenet' or 'none'") }
        if let imageSize { try Self.check("--image-size", imageSize, in: Limits.imageSize) }
        try Self.check("--batch-size", batchSize, in: Limits.batchSize)
        try Self.check("--epochs-fe", epochsFeatureExtraction, in: Limits.epochs)
        try Self.check("--epochs-ft", epochsFineTuning, in: Limits.epochs)
        if epochsFeatureExtraction + epochsFineTuning == 0 {
            throw .invalid(option: "--epochs-fe and --epochs-ft", reason: "both 0 would save an untrained model; train at least one epoch in total")
        }
        if let fineTuneAt {
            if fineTuneAt.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .invalid(option: "--fine-tune-at", reason: "empty; give a layer index or a layer/block name")
            }
            if let index = Int(fineTuneAt), index < 0 {
                throw .outOfRange(option: "--fine-tune-at", value: fineTuneAt, allowed: "a layer index of at least 0, or a layer/block name")
            }
        }
        try Self.checkRate("--lr", learningRate)
        if let fineTuneLearningRate { try Self.checkRate("--lr-ft", fineTuneLearningRate) }
        try validateAugmentation()
        try Self.checkFraction("--dropout", Double(head.dropout), allowed: "at least 0 and below 1", valid: { $0 >= 0 && $0 < 1 })
        for units in head.hiddenUnits { try Self.check("--hidden", units, in: Limits.hiddenUnits) }
        try validateSplit()
        if let exclude, exclude.trimmingCharacters(in: .whitespaces).isEmpty {
            throw .invalid(option: "--exclude", reason: "empty; give a file of image paths, one a line")
        }
        if let threads { try Self.check("--threads", threads, in: Limits.threads) }
        try Self.checkFraction("reduce_lr_factor", reduceLRFactor, allowed: "above 0 and below 1", valid: { $0 > 0 && $0 < 1 })
        try Self.check("reduce_lr_patience", reduceLRPatience, in: Limits.patience)
        try Self.check("early_stopping_patience", earlyStoppingPatience, in: Limits.patience)
        if !Limits.monitors.contains(monitor) {
            throw .invalid(option: "monitor", reason: "'\(monitor)' is not one of \(Limits.monitors.joined(separator: ", "))")
        }
        try validateLossOptions(classNames: classNames)
        try checkMemory(architecture, imageCount: imageCount)
    }

    private func validateAugmentation() throws(ConfigError) {
        let a = augmentation
        try Self.check("--augment rotation", a.rotationDegrees, in: Limits.rotationDegrees, unit: " degrees")
        for (key, value) in [("width-shift", a.widthShift), ("height-shift", a.heightShift), ("zoom", a.zoom),
                             ("brightness", a.brightness), ("contrast", a.contrast)] {
            try Self.check("--augment \(key)", value, in: Limits.fraction)
        }
    }

    private func validateSplit() throws(ConfigError) {
        for (name, f) in [("train", trainFraction), ("validation", validationFraction), ("test", testFraction)] {
            try Self.checkFraction("--split \(name)", f, allowed: "between 0 and 1", valid: { (0...1).contains($0) })
        }
        if trainFraction <= 0 { throw .outOfRange(option: "--split train", value: Self.number(trainFraction), allowed: "above 0") }
        let sum = trainFraction + validationFraction + testFraction
        if abs(sum - 1) > 1e-6 {
            throw .invalid(option: "--split", reason: "train \(trainFraction) + validation \(validationFraction) + test \(testFraction) = \(sum), not 1")
        }
    }

    // MARK: - Memory

    /// Bytes per input pixel of one training image when the whole base trains: the float32
    /// outputs of every layer (kept for the backward pass), and as much again for gradients and
    /// saved state. The element counts are the networks' `outputShapes` summed at 224 px,
    /// divided by 224². Measured: Lite0 at 224 px, batch 16, base trained from layer 1, peaked
    /// at 2.77 GB resident (1.9x its outputs); from the default block 11, at 0.82 GB.
    static func trainingBytesPerPixel(_ architecture: Architecture) -> Double {
        let elementsPerPixel = architecture.facts.activationsPerPixel(architecture)
        return elementsPerPixel * 4 * 2
    }

    /// A rough estimate of training memory: one batch's activations and gradients, plus
    /// `imageCount` images decoded at input size (8-bit RGB, as the image cache holds them).
    public func estimatedTrainingBytes(imageCount: Int = 0) -> Double? {
        guard let architecture else { return nil }
        let side = Double(imageSize ?? architecture.nativeInputSize)
        return (Double(batchSize) * Self.trainingBytesPerPixel(architecture) + Double(imageCount) * 3) * side * side
    }

    private func checkMemory(_ architecture: Architecture, imageCount: Int?) throws(ConfigError) {
        guard let estimate = estimatedTrainingBytes(imageCount: imageCount ?? 0) else { return }
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        if available > 0, estimate > available {
            throw .tooMuchMemory(imageSize: imageSize ?? architecture.nativeInputSize, batchSize: batchSize,
                                 imageCount: imageCount, estimatedBytes: estimate, availableBytes: available)
        }
    }

    // MARK: - Checks

    private static func check(_ option: String, _ value: Int, in range: ClosedRange<Int>) throws(ConfigError) {
        if !range.contains(value) {
            throw .outOfRange(option: option, value: "\(value)", allowed: "between \(range.lowerBound) and \(range.upperBound)")
        }
    }

    private static func check(_ option: String, _ value: Float, in range: ClosedRange<Float>, unit: String = "") throws(ConfigError) {
        let allowed = "between \(number(Double(range.lowerBound)))\(unit) and \(number(Double(range.upperBound)))\(unit)"
        try finite(option, Double(value), allowed: allowed)
        if !range.contains(value) { throw .outOfRange(option: option, value: number(Double(value)), allowed: allowed) }
    }

    private static func checkRate(_ option: String, _ rate: Double) throws(ConfigError) {
        try checkFraction(option, rate, allowed: "above 0 and at most \(number(Limits.maxLearningRate))",
                          valid: { $0 > 0 && $0 <= Limits.maxLearningRate })
    }

    private static func checkFraction(_ option: String, _ value: Double, allowed: String,
                                      valid: (Double) -> Bool) throws(ConfigError) {
        try finite(option, value, allowed: allowed)
        if !valid(value) { throw .outOfRange(option: option, value: number(value), allowed: allowed) }
    }

    private static func finite(_ option: String, _ value: Double, allowed: String) throws(ConfigError) {
        if !value.isFinite { throw .notFinite(option: option, value: number(value), allowed: allowed) }
    }

    /// A number as a user would type it: 0.1, 1e-05, nan, inf.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

// MARK: - Comparing with a saved run

extension TransferLearningConfig {
    /// Every setting as (option, value as the command line writes it), the options under
    /// their CLI spelling and the rest under their config.json keys. Two configurations
    /// train alike when these agree.
    public var optionValues: [(option: String, value: String)] {
        let n = Self.number
        let a = augmentation
        let augment = "flip=\(a.horizontalFlip ? 1 : 0),vflip=\(a.verticalFlip ? 1 : 0),rotation=\(n(Double(a.rotationDegrees))),"
            + "width-shift=\(n(Double(a.widthShift))),height-shift=\(n(Double(a.heightShift))),zoom=\(n(Double(a.zoom))),"
            + "brightness=\(n(Double(a.brightness))),contrast=\(n(Double(a.contrast)))"
        return [
            ("DATA", URL(fileURLWithPath: data).standardizedFileURL.path),
            ("--backbone", backbone.lowercased()), ("--alpha", n(alpha)), ("--weights", weights ?? "(installed)"),
            ("--image-size", imageSize.map { String($0) } ?? "(native)"), ("--batch-size", String(batchSize)),
            ("--epochs-fe", String(epochsFeatureExtraction)), ("--epochs-ft", String(epochsFineTuning)),
            ("--fine-tune-at", fineTuneAt ?? "(default)"), ("--lr", n(learningRate)),
            ("--lr-ft", fineTuneLearningRate.map(n) ?? "(lr / 10)"), ("--optimizer", optimizer.rawValue),
            ("--hidden", head.hiddenUnits.isEmpty ? "(none)" : head.hiddenUnits.map { String($0) }.joined(separator: ",")),
            ("--dropout", n(Double(head.dropout))), ("--augment", augment),
            ("--split", [trainFraction, validationFraction, testFraction].map(n).joined(separator: ",")),
            ("--seed", String(seed)), ("--threads", threads.map { String($0) } ?? "(all cores)"),
            ("--train-bn-statistics", trainBatchNormStatistics ? "on" : "off"),
            ("reduce_lr_factor", n(reduceLRFactor)), ("reduce_lr_patience", String(reduceLRPatience)),
            ("early_stopping_patience", String(earlyStoppingPatience)), ("monitor", monitor),
            ("--class-weight", classWeight?.description ?? "(none)"), ("--label-smoothing", n(labelSmoothing ?? 0)),
            ("--exclude", exclude.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? "(none)"),
        ]
    }

    /// Throws `ConfigError.contradictsRun` for the first setting where `requested` (a run's
    /// saved configuration with options given on the command line applied) differs from this
    /// saved one; `run` names the run folder in the message.
    public func checkResumable(with requested: TransferLearningConfig, run: String) throws(ConfigError) {
        for (saved, given) in zip(optionValues, requested.optionValues) where saved.value != given.value {
            throw .contradictsRun(option: saved.option, given: given.value, saved: saved.value, run: run)
        }
    }
}
